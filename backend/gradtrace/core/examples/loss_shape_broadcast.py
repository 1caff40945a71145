# title: A prediction and a target of different shapes
# description: mse_loss of a [4, 1] prediction and a [4] target compares every prediction with every target: a wrong loss and wrong gradients, with only a warning.
# tags: loss, shapes, broadcasting, warning
import torch
import torch.nn.functional as F

torch.manual_seed(0)
w = torch.randn(3, 1, requires_grad=True)
x = torch.randn(4, 3)
target = torch.randn(4)

pred = x @ w                              # shape [4, 1], target is [4]
wrong = F.mse_loss(pred, target)          # broadcast to [4, 4]: a UserWarning, no error
wrong.backward()
wrong_grad = w.grad.clone()

w.grad = None
right = F.mse_loss((x @ w).squeeze(1), target)   # [4] against [4]
right.backward()
print(wrong_grad.flatten())
print(w.grad.flatten())                   # not the same gradient
