# title: vector_to_parameters passes values, not the graph
# description: After vector_to_parameters the model still uses its own parameters: grads reach linear.weight, never vparams.
# tags: reparametrization, vector_to_parameters, leaf
import torch
import torch.nn as nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

torch.manual_seed(0)


class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return self.linear(x)


model = SimpleModel()
loss_function = nn.MSELoss()
vparams = parameters_to_vector(model.parameters()).detach().clone().requires_grad_(True)
vector_to_parameters(vparams, model.parameters())  # sets param.data: shares the numbers, no autograd link

input_data = torch.randn(1, 10)
target = torch.randn(1, 1)
loss = loss_function(model(input_data), target)

wgrad = torch.autograd.grad(loss, model.linear.weight, retain_graph=True)[0]  # works: weight is in the graph
loss.backward()
print(model.linear.weight.grad.shape, torch.equal(wgrad, model.linear.weight.grad))  # [1, 10] True
print(vparams.grad)   # None: vparams never took part in the forward
