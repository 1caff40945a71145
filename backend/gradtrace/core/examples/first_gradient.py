# title: Your first gradient
# description: Mark a tensor with requires_grad, compute y = x**2, call backward() and read dy/dx from x.grad.
# tags: basics, backward, leaf
import torch

x = torch.tensor([2.0], requires_grad=True)  # a leaf: autograd records what happens to it
y = x**2                                      # builds one node, PowBackward0

y.backward()                                  # runs the graph backwards from y
print(x.grad)                                 # dy/dx = 2 * x = 4
