# title: Derive constrained parameters inside forward()
# description: The fix for the __init__ bug: sigmoid(x_raw) is recomputed on every forward, so 10,000 Adam steps train fine.
# tags: nn.Module, training, sigmoid, dynamic graph
import torch
import torch.nn as nn

torch.manual_seed(0)


class ConstrainedModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.x_raw = nn.Parameter(torch.tensor(0.0))   # unconstrained, any real number

    def forward(self):
        return torch.sigmoid(self.x_raw)               # a new graph each call, always in (0, 1)

    def constrained_x(self):
        with torch.no_grad():                          # for logging only: record nothing
            return torch.sigmoid(self.x_raw)


model = ConstrainedModel()
opt = torch.optim.Adam(model.parameters())
loss_func = nn.MSELoss()
y_truth = torch.tensor(0.9)

for i in range(10000):
    y_predicted = model()
    loss = loss_func(y_predicted, y_truth)
    if i < 3 or (i + 1) % 2000 == 0:
        print(f"iteration {i + 1}: loss {loss.item():.3e}  x {model.constrained_x().item():.6f}")
    loss.backward()
    opt.step()
    opt.zero_grad()
