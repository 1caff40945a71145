# title: Error: changing a sigmoid output in place
# description: sigmoid saves its own output for backward; scaling that output in place makes the saved value stale.
# tags: error, in-place, _version, saved tensors
import torch

x = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.sigmoid(x)   # SigmoidBackward0 saves y: the gradient is y * (1 - y)
y.mul_(2)              # in place on the saved output
loss = y.sum()

loss.backward()        # RuntimeError: output 0 of Sigmoid is at version 1; expected version 0
