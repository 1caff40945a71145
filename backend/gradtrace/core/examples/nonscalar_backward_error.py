# title: Error: backward() on a non-scalar without gradient=
# description: backward() can only invent the starting gradient 1.0 for a single number; a vector needs gradient=.
# tags: error, backward, gradient
import torch

x = torch.tensor([3.0, 4.0], requires_grad=True)
y = x * 2              # shape [2]
y.backward()           # RuntimeError: use y.sum().backward() or y.backward(gradient=...)
