# title: One training step of a 2-layer MLP
# description: Forward, loss, zero_grad, backward, step: the whole loop body on a tiny network.
# tags: nn.Module, optimizer, training
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
inputs = torch.randn(6, 4)
targets = torch.randn(6, 1)

pred = model(inputs)
loss = nn.functional.mse_loss(pred, targets)
opt.zero_grad()          # clear grads left over from a previous step
loss.backward()          # fills .grad of every parameter
opt.step()               # updates the weights in place, outside the graph
print(round(loss.item(), 4))
print(model[2].bias.grad)
