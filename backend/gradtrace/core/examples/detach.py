# title: detach() cuts the graph
# description: A detached tensor shares data but has no history, so gradient flows only through the other path.
# tags: detach, graph
import torch

x = torch.tensor([2.0], requires_grad=True)
y = x**2
z = y.detach()            # same numbers as y, but no grad_fn and requires_grad=False
print(z.requires_grad, z.data_ptr() == y.data_ptr())  # False True

w = x * z                 # z is a constant here
w.backward()
print(x.grad)             # dw/dx = z = 4, not d(x**3)/dx = 12
