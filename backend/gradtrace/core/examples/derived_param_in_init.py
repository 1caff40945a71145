# title: Error: a derived parameter computed once in __init__
# description: sigmoid(x_raw) built in __init__ is one graph; the first backward frees it and the second step fails.
# tags: error, backward twice, nn.Module, retain_graph
import torch
import torch.nn as nn

torch.manual_seed(0)


class ConstrainedModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.x_raw = nn.Parameter(torch.tensor(0.0))
        self.x = torch.sigmoid(self.x_raw)   # computed once: this graph is shared by every step

    def forward(self):
        return self.x                        # the same tensor each time, never recomputed


model = ConstrainedModel()
opt = torch.optim.Adam(model.parameters())
loss_func = nn.MSELoss()
y_truth = torch.tensor(0.9)

for i in range(2):
    y_predicted = model()
    loss = loss_func(y_predicted, y_truth)
    print(f"iteration {i + 1}: loss {loss.item():.6f}  x {model.x.item():.6f}")  # x never moves
    loss.backward()        # step 2: SigmoidBackward0's saved output was freed by step 1
    opt.step()
    opt.zero_grad()
