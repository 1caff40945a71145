# title: Backward twice with retain_graph=True
# description: retain_graph=True keeps the saved tensors alive, so a second backward works and the grads add up.
# tags: retain_graph, backward, accumulation
import torch

a = torch.tensor([3.0, 1.0], requires_grad=True)
b = a * a
loss = b.mean()

loss.backward(retain_graph=True)  # keep MulBackward0's saved tensors
print(a.grad)                     # d mean(a*a)/da = a = [3, 1]
loss.backward()                   # second pass through the same graph
print(a.grad)                     # accumulated: [6, 2]
