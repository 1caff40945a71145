# title: An in-place change autograd does not mind
# description: Autograd only checks tensors it saved for backward; changing one nobody saved is allowed.
# tags: in-place, _version
import torch

a = torch.tensor([1.0, 3.0], requires_grad=True)
b = a * 2
loss = (b + 1).sum()     # AddBackward0 and SumBackward0 save no tensors
b.add_(100)              # in place: b._version goes from 0 to 1
print(b._version)

loss.backward()          # fine: the gradient of b + 1 does not depend on b's value
print(a.grad)            # [2, 2]
