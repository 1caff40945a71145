# title: Error: slice assignment on a leaf that requires grad
# description: a[:] = 0 is an in-place write too; on a leaf that requires grad PyTorch refuses it.
# tags: error, in-place, leaf, slicing
import torch

a = torch.tensor([10.0, 5.0, 2.0, 3.0], requires_grad=True)
print(a.is_leaf)       # True
a[:] = 0               # RuntimeError (old PyTorch turned a into a CopySlices non-leaf instead)
loss = (a * a).mean()
loss.backward()
