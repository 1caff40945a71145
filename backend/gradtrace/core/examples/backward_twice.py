# title: Error: backward through the same graph twice
# description: The first backward frees the saved tensors; calling it again without retain_graph=True fails.
# tags: error, backward twice, retain_graph
import torch

a = torch.tensor([3.0, 1.0], requires_grad=True)
b = a * a            # MulBackward0 saves both inputs
loss = b.mean()

loss.backward()      # fine, and frees what MulBackward0 saved
print(a.grad)        # [3, 1]
loss.backward()      # RuntimeError: the saved tensors are gone
