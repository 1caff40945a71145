# title: Keeping the link to a flat parameter vector
# description: Slice the vector inside the forward with torch.func.functional_call, and the gradient reaches vparams.
# tags: reparametrization, functional_call, leaf
import torch
import torch.nn as nn
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector

torch.manual_seed(0)


class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return self.linear(x)


model = SimpleModel()
vparams = parameters_to_vector(model.parameters()).detach().clone().requires_grad_(True)
params = {                                   # views of vparams: the slicing is recorded in the graph
    "linear.weight": vparams[:10].view(1, 10),
    "linear.bias": vparams[10:],
}

input_data = torch.randn(1, 10)
target = torch.randn(1, 1)
output = functional_call(model, params, (input_data,))
loss = nn.functional.mse_loss(output, target)

loss.backward()
print(vparams.grad.shape)            # 11 = 10 weights + 1 bias
print(model.linear.weight.grad)      # None: the module's own weight was not used
