# title: Backward from a vector, with gradient=
# description: y has two elements, so backward() needs a weight per element: the gradient argument.
# tags: backward, gradient, vector-Jacobian product
import torch

x = torch.tensor([3.0, 4.0], requires_grad=True)
y = x * 2                        # not a scalar: shape [2]

v = torch.tensor([1.0, 0.1])     # how much each element of y counts
y.backward(gradient=v)           # computes v^T . dy/dx
print(x.grad)                    # [2.0, 0.2]
