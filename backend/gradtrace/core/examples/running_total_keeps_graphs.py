# title: A running total that keeps every graph
# description: total_loss += loss sums tensors: the total keeps every step's graph, already used by backward(). total_value += loss.item() keeps a number.
# tags: training loop, memory, backward, note
import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
w0 = w.detach().clone()                  # the start, to check the steps by hand
x = torch.randn(4, 3)
y = torch.randn(4)

total_loss = 0
total_value = 0.0
for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()                      # uses this step's graph and frees what it saved
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad = None
    total_loss += loss                   # a tensor: the sum is a graph through every step
    total_value += loss.item()           # a number: keeps nothing

print(total_loss.grad_fn.name())         # AddBackward0
print(round(total_loss.item(), 4), round(total_value, 4))
