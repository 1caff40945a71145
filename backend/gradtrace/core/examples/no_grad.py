# title: Turning recording off with torch.no_grad()
# description: Inside no_grad the same model builds no graph: the output has no grad_fn and needs no backward.
# tags: no_grad, inference
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
inp = torch.randn(4, 3)

with torch.no_grad():
    inference = model(inp)          # no graph recorded
print(inference.requires_grad, inference.grad_fn)  # False None

out = model(inp)                    # same call outside: a graph is built
print(out.requires_grad, out.grad_fn.name())       # True AddmmBackward0
out.sum().backward()
print(model.bias.grad)              # 4: one per row of the batch
