# title: Error: in-place operation on a leaf that requires grad
# description: a.add_(10) on a leaf that requires grad is refused at once, before any backward.
# tags: error, in-place, leaf
import torch

a = torch.tensor([10.0, 5.0, 2.0, 3.0], requires_grad=True)
a.add_(10.0)           # RuntimeError (a += 10.0 fails the same way)
