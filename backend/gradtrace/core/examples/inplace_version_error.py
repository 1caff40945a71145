# title: Error: a saved tensor modified in place
# description: b is saved by b * b, then b[0] = 1000 bumps its version; backward sees version 1 where it saved version 0.
# tags: error, in-place, _version
import torch

a = torch.tensor([1.0, 3.0], requires_grad=True)
b = a + 2
print(b._version)    # 0

loss = (b * b).mean()  # MulBackward0 saves b at version 0
b[0] = 1000.0          # in place: b._version becomes 1
print(b._version)

loss.backward()        # RuntimeError: modified by an inplace operation
