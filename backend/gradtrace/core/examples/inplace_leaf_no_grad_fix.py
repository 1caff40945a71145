# title: Changing a leaf's values under torch.no_grad()
# description: In-place writes to a leaf are allowed while recording is off; this is how optimizers update weights.
# tags: in-place, leaf, no_grad
import torch

a = torch.tensor([10.0, 5.0, 2.0, 3.0], requires_grad=True)
with torch.no_grad():
    a[:] = 10.0          # allowed here: nothing is recorded
print(a, a.is_leaf)

loss = (a * a).mean()
loss.backward()
print(a.grad)            # [5, 5, 5, 5]
