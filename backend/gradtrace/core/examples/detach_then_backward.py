# title: Error: backward from a tensor with no graph
# description: Everything after detach() is outside the graph, so w has no grad_fn and w.backward() has nowhere to go.
# tags: error, detach, requires_grad
import torch

x = torch.tensor([2.0], requires_grad=True)
y = x**2
z = y.detach()         # cut: z does not require grad
w = z + 1              # so neither does w
print(w.requires_grad, w.grad_fn)  # False None

w.backward()           # RuntimeError: element 0 of tensors does not require grad
