# title: Changing a leaf's values through .data
# description: a.data.fill_() edits the numbers without autograd noticing, so the leaf stays a leaf.
# tags: in-place, leaf, .data
import torch

a = torch.tensor([10.0, 5.0, 2.0, 3.0], requires_grad=True)
a.data.fill_(10.0)       # or a.detach().fill_(10.0): invisible to autograd
print(a, a.is_leaf)      # still a leaf that requires grad

loss = (a * a).mean()    # change the values before using a, not after
loss.backward()
print(a.grad)            # 2 * a / 4 = [5, 5, 5, 5]
