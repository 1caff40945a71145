# title: Error: differentiating with respect to vparams after vector_to_parameters
# description: autograd.grad(loss, vparams) fails: the forward used the model's parameters, so vparams is not in the graph.
# tags: error, reparametrization, vector_to_parameters, autograd.grad
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
vector_to_parameters(vparams, model.parameters())  # copies the numbers only

input_data = torch.randn(1, 10)
target = torch.randn(1, 1)
loss = loss_function(model(input_data), target)

vgrads = torch.autograd.grad(loss, vparams)[0]     # RuntimeError: vparams was not used in the graph
