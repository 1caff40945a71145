# title: Chain rule through two operations
# description: z = x + 2, y = z**2: each op adds a grad_fn node, and backward chains their local derivatives.
# tags: basics, graph, grad_fn
import torch

x = torch.tensor([3.0, 4.0], requires_grad=True)
z = x + 2          # AddBackward0
y = z**2           # PowBackward0
total = y.sum()    # SumBackward0: backward() needs a single number to start from

total.backward()
print(x.grad)      # dy/dx = 2 * (x + 2) = [10, 12]
print(x.grad_fn, type(z.grad_fn).__name__, type(y.grad_fn).__name__)  # leaves have no grad_fn
