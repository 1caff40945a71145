# title: requires_grad spreads from the parameters
# description: The input batch needs no grad, but Conv2d weights do, so the output does too and backward reaches every parameter.
# tags: requires_grad, nn.Module, Conv2d
import torch
import torch.nn as nn

torch.manual_seed(0)
inp = torch.randn(4, 3, 32, 32)       # data: requires_grad is False
print(inp.requires_grad)

model = nn.Sequential(
    nn.Conv2d(3, 8, 3, 1, 1),
    nn.Conv2d(8, 16, 3, 1, 1),
)
for name, param in model.named_parameters():
    print(name, param.requires_grad)  # all True

output = model(inp)
print(output.requires_grad)           # True: one input that needs grad is enough
output.mean().backward()
print(model[0].weight.grad.shape)     # gradients reached the first layer
