# title: Leaf tensors and intermediate results
# description: Tensors you create are leaves and keep .grad; results of operations are not, and their grads are dropped.
# tags: basics, leaf, is_leaf
import torch

a = torch.ones(2, 2, requires_grad=True)  # created by you: a leaf
b = a + 2                                 # computed: not a leaf, has a grad_fn
c = b.exp()
loss = c.mean()
print(a.is_leaf, b.is_leaf, c.is_leaf)    # True False False

loss.backward()
print(a.grad)   # e**3 / 4 in every cell
print(b.grad)   # None: intermediate grads are freed (PyTorch warns about reading it)
