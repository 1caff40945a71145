"""Autograd scenarios the core is checked on (each a complete snippet)."""

SCENARIOS: dict[str, str] = {
    "chain": """
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
w = torch.tensor(2.0, requires_grad=True)
y = (x * w).sigmoid()
z = y.sum()
z.backward(retain_graph=True)
""",
    "l1_l4": """
import torch
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(3.0, requires_grad=True)
c = torch.tensor(4.0, requires_grad=True)
l1 = a * b
l2 = l1 + c
l3 = l2 * a
l4 = l3.sum()
l4.backward()
""",
    "retain_grad": """
import torch
x = torch.tensor([1.0, -2.0], requires_grad=True)
h = x * 3
h.retain_grad()
y = (h ** 2).sum()
y.backward()
""",
    "detach": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * 2
d = y.detach()
z = (y * d).sum()
z.backward()
""",
    "no_grad": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.no_grad():
    y = x * 2
z = (x * y).sum()
z.backward()
""",
    "nonscalar_gradient": """
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x ** 2
y.backward(gradient=torch.tensor([1.0, 0.1, 0.01]))
""",
    "retain_graph_twice": """
import torch
x = torch.tensor(3.0, requires_grad=True)
y = x ** 3
y.backward(retain_graph=True)
y.backward()
""",
    "backward_twice_error": """
import torch
x = torch.tensor(3.0, requires_grad=True)
y = x.exp()
y.backward()
y.backward()
""",
    "inplace_version_error": """
import torch
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a.sigmoid()
c = b * 2
b.mul_(3)
c.sum().backward()
""",
    "inplace_leaf_error": """
import torch
w = torch.ones(3, requires_grad=True)
w.add_(1)
""",
    "slice_assign_leaf_error": """
import torch
w = torch.zeros(4, requires_grad=True)
w[:2] = 1.0
""",
    "data_fix": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
loss.backward()
w.data -= 0.1 * w.grad.data
""",
    "no_grad_update": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w ** 2).sum()
loss.backward()
with torch.no_grad():
    w -= 0.1 * w.grad
w.grad.zero_()
""",
    "custom_relu": """
import torch
class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inp):
        ctx.save_for_backward(inp)
        return inp.clamp(min=0)
    @staticmethod
    def backward(ctx, grad_output):
        inp, = ctx.saved_tensors
        g = grad_output.clone()
        g[inp < 0] = 0
        return g
x = torch.tensor([-1.0, 2.0, 3.0], requires_grad=True)
y = MyReLU.apply(x)
z = (y * y).sum()
z.backward()
""",
    "custom_wrong_grads": """
import torch
class Bad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b
    @staticmethod
    def backward(ctx, g):
        return g
x = torch.tensor(2.0, requires_grad=True)
y = torch.tensor(3.0, requires_grad=True)
Bad.apply(x, y).backward()
""",
    "nonscalar_error": """
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.backward()
""",
    "no_grad_fn_error": """
import torch
x = torch.ones(3)
y = (x * 2).sum()
y.backward()
""",
    "unused_input_error": """
import torch
x = torch.tensor(1.0, requires_grad=True)
y = torch.tensor(2.0, requires_grad=True)
z = x * 2
torch.autograd.grad(z, [x, y])
""",
    "inference_saved_error": """
import torch
with torch.inference_mode():
    t = torch.ones(3)
w = torch.ones(3, requires_grad=True)
y = (w * t).sum()
y.backward()
""",
    "requires_grad_nonleaf_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.requires_grad = False
""",
    "requires_grad_int_error": """
import torch
x = torch.tensor([1, 2, 3], requires_grad=True)
""",
    "grad_create_graph": """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
g, = torch.autograd.grad(y, x, create_graph=True)
g.backward()
""",
    "mlp_named": """
import torch
import torch.nn as nn
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 1)
    def forward(self, x):
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))
model = Net()
x = torch.randn(5, 3)
target = torch.ones(5, 1)
out = model(x)
out.retain_grad()
loss = nn.functional.binary_cross_entropy(out, target)
loss.backward(retain_graph=True)
""",
    "conv_requires_grad": """
import torch
import torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 1))
img = torch.randn(1, 1, 6, 6)
out = net(img)
out.sum().backward(retain_graph=True)
flags = [p.requires_grad for p in net.parameters()]
""",
    "vector_to_parameters": """
import torch
import torch.nn as nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters
torch.manual_seed(0)
lin = nn.Linear(2, 1)
theta = torch.randn(3, requires_grad=True)
vector_to_parameters(theta * 1.0, lin.parameters())
loss = lin(torch.ones(1, 2)).sum()
loss.backward()
""",
    "training_loop": """
import torch
torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
for step in range(20):
    loss = ((w - 1.0) ** 2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
""",
    "leaf_backward_vector": """
import torch
v = torch.ones(2, requires_grad=True)
v.backward(torch.tensor([3.0, 4.0]))
""",
    "multi_output_shared": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
a = x * 2
b = a * 3
c = a + b
torch.autograd.backward([b.sum(), c.sum()])
""",
}

# Hooks, views, functional APIs, checkpointing, custom Functions with non-tensor args, ...
SCENARIOS.update({
"hooks": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * 2
y.register_hook(lambda g: g * 10)
z = (y ** 2).sum()
z.backward()
""",
"views_inplace_nonleaf": """
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * 1
v = y[1:]
v.mul_(5)
y.sum().backward()
""",
"backward_inputs": """
import torch
a = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(2.0, requires_grad=True)
c = a * b
c.backward(inputs=[a])
""",
"cat_stack_where": """
import torch
x = torch.tensor([1.0, -2.0], requires_grad=True)
y = torch.cat([x, x * 2])
s = torch.stack([y, y ** 2])
w = torch.where(s > 0, s, torch.zeros_like(s))
w.sum().backward()
""",
"jacobian": """
import torch
from torch.autograd.functional import jacobian
x = torch.tensor([1.0, 2.0], requires_grad=True)
J = jacobian(lambda t: t ** 2, x)
""",
"detach_inplace": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 3
y.detach_()
z = x * 2
z.sum().backward()
""",
"no_grad_decorator": """
import torch
@torch.no_grad()
def f(t):
    return t * 2
x = torch.ones(2, requires_grad=True)
y = f(x)
z = (x * 3).sum()
z.backward()
""",
"func_grad": """
import torch
from torch.func import grad
f = lambda t: (t ** 3).sum()
x = torch.tensor([1.0, 2.0])
g = grad(f)(x)
""",
"checkpoint": """
import torch
from torch.utils.checkpoint import checkpoint
lin = torch.nn.Linear(3, 3)
x = torch.ones(2, 3, requires_grad=True)
y = checkpoint(lambda t: torch.relu(lin(t)), x, use_reentrant=False)
y.sum().backward()
""",
"double_grad_accumulate": """
import torch
x = torch.tensor(2.0, requires_grad=True)
for i in range(3):
    y = x ** 2
    y.backward()
g = x.grad
""",
"leaky_relu_custom": """
import torch
class LeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return torch.where(x > 0, x, x * slope)
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return torch.where(x > 0, g, g * ctx.slope), None
x = torch.tensor([-1.0, 2.0], requires_grad=True)
y = LeakyReLU.apply(x, 0.1)
y.sum().backward()
""",
"grad_of_nonleaf_warning": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.sum().backward()
print(y.grad)
""",
"set_grad_enabled": """
import torch
x = torch.ones(2, requires_grad=True)
torch.set_grad_enabled(False)
y = x * 2
torch.set_grad_enabled(True)
z = x * 2
""",
"int_ops_and_argmax": """
import torch
x = torch.tensor([1.0, 5.0, 2.0], requires_grad=True)
i = x.argmax()
y = x[i] * 2
y.backward()
""",
"softmax_ce": """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
logits = torch.randn(3, 4, requires_grad=True)
target = torch.tensor([0, 2, 1])
loss = F.cross_entropy(logits, target)
loss.backward()
""",
"clone_inplace_ok": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.clone()
y[0] = 5.0
y.sum().backward()
""",
"exp_inplace_error": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp()
y += 1
y.sum().backward()
""",
"relu_inplace_module": """
import torch
import torch.nn as nn
net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True), nn.Linear(2, 1))
out = net(torch.ones(1, 2))
out.backward()
""",
})

ERROR_KINDS = {
    "backward_twice_error": "backward_twice",
    "inplace_version_error": "inplace_version",
    "inplace_leaf_error": "inplace_leaf",
    "slice_assign_leaf_error": "inplace_leaf_view",
    "custom_wrong_grads": "custom_function_grads",
    "nonscalar_error": "nonscalar_backward",
    "no_grad_fn_error": "no_grad_fn",
    "unused_input_error": "unused_input",
    "inference_saved_error": "inference_tensor_saved",
    "requires_grad_nonleaf_error": "requires_grad_nonleaf",
    "requires_grad_int_error": "requires_grad_dtype",
    "exp_inplace_error": "inplace_version",
}
