# title: Where gradients live: Linear + BCE, named_parameters and retain_grad
# description: Parameter grads land in each named parameter's .grad; an intermediate like y keeps its grad only with retain_grad().
# tags: nn.Module, named_parameters, retain_grad, BCELoss
import torch
import torch.nn as nn

torch.manual_seed(0)
net1 = nn.Linear(1, 1)
loss_fcn = nn.BCELoss()
x = torch.zeros((1, 1))           # input and target are both 0

y = torch.sigmoid(net1(x))
y.retain_grad()                   # without this, y.grad would be None after backward
loss = loss_fcn(y, x)
loss.backward()

for name, param in net1.named_parameters():
    print(name, param.requires_grad, param.grad)   # weight grad is 0 because the input is 0
print(y.grad)                     # dloss/dy = 1 / (1 - y)
