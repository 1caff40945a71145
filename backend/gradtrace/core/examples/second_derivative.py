# title: A second derivative with create_graph=True
# description: autograd.grad with create_graph=True records the backward itself, so the first derivative can be differentiated again.
# tags: autograd.grad, create_graph, higher order
import torch

x = torch.tensor(2.0, requires_grad=True)
y = x**3

(dy,) = torch.autograd.grad(y, x, create_graph=True)  # 3 * x**2 = 12, with its own graph
print(dy, dy.grad_fn is not None)                     # the backward built new nodes
(d2y,) = torch.autograd.grad(dy, x)                   # 6 * x = 12
print(d2y)
