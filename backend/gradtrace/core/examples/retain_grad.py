# title: Keep the gradient of an intermediate with retain_grad()
# description: Non-leaf tensors drop their gradient after backward unless you call retain_grad() on them first.
# tags: retain_grad, leaf, backward
import torch

x = torch.tensor(3.0, requires_grad=True)
y = x + 2
y.retain_grad()   # ask autograd to store dz/dy in y.grad
z = y**2

z.backward()
print(y.grad)     # dz/dy = 2 * y = 10
print(x.grad)     # dz/dx = 10 as well, since dy/dx = 1
