# title: New tensor or in-place change?
# description: a = a.exp() builds a new tensor and rebinds the name; a[0] = 10 writes into the same tensor and bumps _version.
# tags: in-place, _version, basics
import torch

a = torch.tensor([3.0, 1.0])
old = a
a = a.exp()                  # a new tensor: the name a now points elsewhere
print(a is old, old._version, a._version)   # False 0 0

b = torch.tensor([3.0, 1.0])
same = b
b[0] = 10.0                  # in place: same tensor, version counter + 1
print(b is same, b._version)                # True 1
