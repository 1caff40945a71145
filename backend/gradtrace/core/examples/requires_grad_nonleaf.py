# title: Error: switching requires_grad off on a computed tensor
# description: requires_grad can only be changed on leaves; for a computed tensor use detach() instead.
# tags: error, requires_grad, leaf, detach
import torch

x = torch.ones(2, requires_grad=True)
y = x * 2
frozen = y.detach()          # the right way: a new tensor without history
print(frozen.requires_grad)  # False
y.requires_grad_(False)      # RuntimeError: only leaves can change requires_grad
