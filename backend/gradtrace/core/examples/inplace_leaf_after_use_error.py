# title: Error: a leaf changed under no_grad after the graph used it
# description: no_grad lets a[:] = 10 run on a leaf, but the loss already saved a; backward then finds its version moved.
# tags: error, in-place, leaf, no_grad, _version
import torch

a = torch.tensor([10.0, 5.0, 2.0, 3.0], requires_grad=True)
loss = (a * a).mean()    # MulBackward0 saves a at version 0

with torch.no_grad():
    a[:] = 10.0          # allowed on a leaf under no_grad, but a._version becomes 1
print(a._version)

# (a.data[:] = 10.0 would not even raise: autograd would not see the write, and the
# gradient below would come out silently wrong, computed with the new values)
loss.backward()          # RuntimeError: modified by an inplace operation
