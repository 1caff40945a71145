# title: A new graph on every forward
# description: PyTorch graphs are dynamic: each forward builds a fresh graph and backward frees it, while .grad keeps adding up.
# tags: dynamic graph, backward, accumulation
import torch

a = torch.tensor([3.0, 1.0], requires_grad=True)

for step in range(2):
    b = a * a              # a fresh MulBackward0 on each iteration
    loss = b.mean()
    loss.backward()        # frees this iteration's graph
    print(step, a.grad)    # [3, 1], then [6, 2]: .grad accumulates until you zero it
