# title: Error: nn.Parameter(a[1]) is a new leaf
# description: Wrapping a slice in nn.Parameter starts a fresh leaf with no link back to a, so grad(b, a) finds a unused.
# tags: error, leaf, nn.Parameter, autograd.grad
import torch
import torch.nn as nn

a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

c = a[1]                              # a view: SelectBackward0 links it to a
print(torch.autograd.grad(c, a)[0])   # [0, 1, 0]

b = nn.Parameter(a[1])                # a brand-new leaf: no grad_fn, no link to a
g = torch.autograd.grad(b, a)[0]      # RuntimeError: a appears not to have been used
