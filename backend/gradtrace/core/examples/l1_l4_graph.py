# title: A small graph with three weights (l1..l4)
# description: l1 = x*w1, l2 = l1+w2, l3 = l1*w3, l4 = l2*l3, loss = mean(l4); backward gives w1, w2, w3 grads 28, 8, 10.
# tags: basics, graph, chain rule
import torch

x = torch.ones([2, 2], requires_grad=False)  # the only input that needs no gradient
w1 = torch.tensor(2.0, requires_grad=True)
w2 = torch.tensor(3.0, requires_grad=True)
w3 = torch.tensor(4.0, requires_grad=True)

l1 = x * w1    # 2 everywhere
l2 = l1 + w2   # 5
l3 = l1 * w3   # 8
l4 = l2 * l3   # 40
loss = l4.mean()
print(w1.grad, w1.grad_fn, loss.item())  # nothing computed yet: None None 40.0

loss.backward()
print(w1.grad, w2.grad, w3.grad)  # 28, 8, 10: each weight's contributions from the 4 cells, summed
