# title: Keeping a parameter in (0, 1): clamp vs sigmoid
# description: clamp passes no gradient once the value is outside the range; sigmoid always passes some.
# tags: gradient, sigmoid, clamp, reparametrization
import torch

raw = torch.tensor(1.5, requires_grad=True)   # already past the upper bound 1

clamped = raw.clamp(0.0, 1.0)                 # flat outside [0, 1]
clamped.backward()
print(raw.grad)                               # 0: an optimizer would be stuck here

raw.grad = None
squashed = torch.sigmoid(raw)                 # smooth everywhere
squashed.backward()
print(raw.grad)                               # sigmoid(1.5) * (1 - sigmoid(1.5)), about 0.149
