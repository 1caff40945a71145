# title: Error: requires_grad on an integer tensor
# description: Only floating point and complex tensors can require gradients; integers have no derivative.
# tags: error, requires_grad, dtype
import torch

counts = torch.tensor([1, 2, 3])
print(counts.dtype)    # torch.int64
w = torch.tensor([1, 2, 3], requires_grad=True)  # RuntimeError: use 1.0, 2.0, 3.0 or dtype=torch.float32
