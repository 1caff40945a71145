"""Autograd scenarios the core is checked on (each a complete snippet)."""

SCENARIOS: dict[str, str] = {
    "rnn_hidden_2d_error": """
import torch
import torch.nn as nn
gru = nn.GRU(3, 4, batch_first=True)
out, h = gru(torch.randn(2, 5, 3), torch.zeros(2, 4))
""",
    "full_hook_then_inplace_relu_error": """
import torch
import torch.nn as nn
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 1))
model[0].register_full_backward_hook(lambda module, grad_in, grad_out: None)
out = model(torch.ones(2, 3, requires_grad=True))
""",
    "deepcopy_kept_activation_error": """
import copy
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        self.last = self.fc(x)
        return self.last


net = Net()
net(torch.ones(1, 2))
twin = copy.deepcopy(net)
""",
    "nonfinite_grad_norm_error": """
import torch
w = torch.tensor([1.0, 0.0], requires_grad=True)
loss = torch.sqrt(w).sum() * torch.log(w + 1).sum()
loss.backward()
torch.nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
""",
    "batchnorm_one_sample_error": """
import torch
import torch.nn as nn
bn = nn.BatchNorm1d(3)
y = bn(torch.ones(1, 3))
""",
    "torch_compile_fullgraph_and_module": """
import warnings
import torch
import torch.nn as nn

model = nn.Linear(3, 1)
cmodel = torch.compile(model, backend="eager")  # (the eager backend keeps plain PyTorch's grad_fns)
warnings.simplefilter("error")  # torch.compile(module) warns only if there are global module hooks
loss = cmodel(torch.ones(2, 3)).sum()


@torch.compile(backend="eager", fullgraph=True)
def f(x):
    return torch.sin(x) * 2


w = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
(f(w).sum() + loss).backward()
print(w.grad, model.weight.grad)
""",
    "once_differentiable_twice_error": """
import torch
from torch.autograd.function import once_differentiable


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


x = torch.tensor([1.0, 2.0], requires_grad=True)
v = torch.ones(2, requires_grad=True)
(g,) = torch.autograd.grad(Square.apply(x), x, grad_outputs=v, create_graph=True)
g.sum().backward()
""",
    "gradcheck_wrong_backward_error": """
import torch


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 3  # wrong: d(2x)/dx is 2


x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
torch.autograd.gradcheck(Double.apply, (x,))
""",
    "func_grad_tuple_error": """
import torch
from torch.func import grad

def loss_and_pred(w):
    pred = w * 2
    return (pred ** 2).sum(), pred

g = grad(loss_and_pred)(torch.ones(3))
""",
    "vmap_item_error": """
import torch
from torch.func import vmap
x = torch.randn(4, 3)
print(vmap(lambda row: row.sum().item())(x))
""",
    "vmap_control_flow_error": """
import torch
from torch.func import vmap

def relu_like(row):
    if row.sum() > 0:
        return row
    return -row

print(vmap(relu_like)(torch.randn(4, 3)))
""",
    "vmap_size_mismatch_error": """
import torch
from torch.func import vmap
a = torch.randn(4, 3)
b = torch.randn(5, 3)
print(vmap(lambda x, y: x + y)(a, b))
""",
    "vmap_batchnorm_error": """
import torch
import torch.nn as nn
from torch.func import vmap
bn = nn.BatchNorm1d(3)
out = vmap(bn)(torch.randn(4, 2, 3))
""",
    "func_grad_nonscalar_error": """
import torch
from torch.func import grad

def double(t):
    return t * 2

print(grad(double)(torch.ones(3)))
""",
    "mark_dirty_leaf_error": """
import torch


class Inc(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad


w = torch.ones(2, requires_grad=True)
Inc.apply(w)
""",
    "complex_backward_error": """
import torch
z = torch.tensor([1 + 1j], requires_grad=True)
loss = (z * z).sum()
loss.backward()
""",
    "saved_read_after_backward_error": """
import torch
x = torch.tensor([0.0, 1.0], requires_grad=True)
y = x.exp()
y.sum().backward()
print(x.grad)
print(y.grad_fn._saved_result)
""",
    "print_lone_surrogate": """
import torch
x = torch.ones(2, requires_grad=True)
print("before")
print("\\ud800", x.sum())
print("never printed")
""",
    # A closed stdout: the next print raises (the tracer's capture kept on printing).
    "print_after_closing_stdout": """
import sys
import torch
x = torch.ones(2, requires_grad=True)
print("before")
sys.stdout.close()
y = (x * 2).sum()
print("never printed", y)
""",
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
    "rnn_hidden_state_carried_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
cell = nn.RNNCell(2, 3)
h = torch.zeros(1, 3)
opt = torch.optim.SGD(cell.parameters(), lr=0.1)
for step in range(3):
    h = cell(torch.randn(1, 2), h)
    loss = h.pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
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


# Broader coverage: optimizers, RNNs, normalisation, custom Functions (mark_dirty,
# setup_context), higher order, user saved-tensor hooks, forward AD, parametrizations,
# torch.compile (run eagerly while tracing), containers and rebinding.
SCENARIOS.update({
"grad_allow_unused": """
import torch
a = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(2.0, requires_grad=True)
c = a * 3
ga, gb = torch.autograd.grad(c, [a, b], allow_unused=True)
""",
"grad_outputs": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x ** 2
(g,) = torch.autograd.grad(y, x, grad_outputs=torch.tensor([1.0, 0.5]))
""",
"module_full_backward_hook": """
import torch
lin = torch.nn.Linear(2, 2)
seen = []
lin.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
x = torch.ones(1, 2, requires_grad=True)
lin(x).sum().backward()
print(seen)
""",
"adam_steps": """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.1)
for _ in range(3):
    opt.zero_grad()
    loss = model(torch.ones(2, 3)).pow(2).mean()
    loss.backward()
    opt.step()
""",
"zero_grad_inplace": """
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
(w * 2).sum().backward()
w.grad.zero_()
(w * 3).sum().backward()
""",
"retain_grad_view": """
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * 2
v = y[:2]
v.retain_grad()
v.sum().backward()
""",
"inference_mode": """
import torch
x = torch.ones(2, requires_grad=True)
with torch.inference_mode():
    y = x * 2
z = (x * 2).sum()
z.backward()
""",
"float64_bf16": """
import torch
x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
y = torch.tensor([1.0, 2.0], dtype=torch.bfloat16, requires_grad=True)
z = (x * 2).sum() + (y * 3).sum().double()
z.backward()
""",
"lstm": """
import torch
torch.manual_seed(0)
lstm = torch.nn.LSTM(3, 4, batch_first=True)
x = torch.randn(2, 5, 3)
out, (h, c) = lstm(x)
out.sum().backward()
""",
"gru_embedding": """
import torch
torch.manual_seed(0)
emb = torch.nn.Embedding(10, 4)
gru = torch.nn.GRU(4, 3)
idx = torch.tensor([[1, 2], [3, 4]])
o, h = gru(emb(idx))
h.sum().backward()
""",
"batchnorm_dropout": """
import torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
x = torch.randn(8, 4)
loss = net(x).mean()
loss.backward()
""",
"einsum_bmm": """
import torch
torch.manual_seed(0)
a = torch.randn(2, 3, 4, requires_grad=True)
b = torch.randn(2, 4, 5, requires_grad=True)
c = torch.einsum('bij,bjk->bik', a, b)
d = torch.bmm(a, b)
(c - d).abs().sum().backward()
""",
"mark_dirty": """
import torch
class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        return x.mul_(2)
    @staticmethod
    def backward(ctx, g):
        return g * 2
a = torch.tensor([1.0, 2.0], requires_grad=True)
b = a * 1
c = Double.apply(b)
c.sum().backward()
""",
"mark_non_differentiable": """
import torch
class SortF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        v, i = x.sort()
        ctx.mark_non_differentiable(i)
        ctx.save_for_backward(i)
        return v, i
    @staticmethod
    def backward(ctx, gv, gi):
        i, = ctx.saved_tensors
        g = torch.zeros_like(gv)
        g.index_add_(0, i, gv)
        return g
x = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
v, i = SortF.apply(x)
(v * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
""",
"setup_context_fn": """
import torch
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x ** 3
    @staticmethod
    def setup_context(ctx, inputs, output):
        x, = inputs
        ctx.save_for_backward(x)
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x ** 2 * g
x = torch.tensor([1.0, 2.0], requires_grad=True)
Cube.apply(x).sum().backward()
""",
"functional_hessian": """
import torch
from torch.autograd.functional import hessian
x = torch.tensor([1.0, 2.0])
H = hessian(lambda t: (t ** 3).sum(), x)
""",
"double_backward_create_graph": """
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 3
g, = torch.autograd.grad(y, x, create_graph=True)
g2, = torch.autograd.grad(g, x)
""",
"clip_grad_norm": """
import torch
torch.manual_seed(0)
m = torch.nn.Linear(3, 3)
m(torch.randn(2, 3)).sum().backward()
n = torch.nn.utils.clip_grad_norm_(m.parameters(), 0.1)
""",
"shape_mismatch": """
import torch
a = torch.ones(2, 3, requires_grad=True)
b = torch.ones(4, 5)
c = a @ b
""",
"backward_grad_tensors": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
a = x * 2
b = x * 3
torch.autograd.backward([a, b], grad_tensors=[torch.ones(2), torch.full((2,), 0.5)])
""",
"module_containers": """
import torch
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(2)])
        self.heads = torch.nn.ModuleDict({'a': torch.nn.Linear(2, 1)})
        self.register_buffer('scale', torch.tensor(2.0))
    def forward(self, x):
        for l in self.layers:
            x = l(x).relu()
        return self.heads['a'](x) * self.scale
net = Net()
out = net(torch.ones(1, 2)).sum()
out.backward()
""",
"weight_tying": """
import torch
torch.manual_seed(0)
emb = torch.nn.Embedding(5, 3)
head = torch.nn.Linear(3, 5, bias=False)
head.weight = emb.weight
out = head(emb(torch.tensor([1, 2])))
out.sum().backward()
""",
"tensors_in_containers": """
import torch
ws = [torch.ones(2, requires_grad=True) for _ in range(3)]
d = {'a': torch.ones(1, requires_grad=True)}
s = sum((w * i).sum() for i, w in enumerate(ws)) + d['a'].sum()
s.backward()
""",
"del_and_rebind": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
del y
y = x * 3
y.sum().backward()
""",
"weight_norm_parametrize": """
import torch
from torch.nn.utils.parametrizations import weight_norm
torch.manual_seed(0)
m = weight_norm(torch.nn.Linear(2, 2))
m(torch.ones(1, 2)).sum().backward()
""",
"post_accumulate_hook": """
import torch
w = torch.ones(2, requires_grad=True)
log = []
w.register_post_accumulate_grad_hook(lambda p: log.append(p.grad.sum().item()))
(w * 3).sum().backward()
print(log)
""",
"user_saved_tensors_hooks": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t):
    y = x.exp()
y.sum().backward()
""",
"save_on_cpu": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
with torch.autograd.graph.save_on_cpu():
    y = x.sin()
y.sum().backward()
""",
"forward_ad": """
import torch
import torch.autograd.forward_ad as fwAD
x = torch.tensor([1.0, 2.0])
with fwAD.dual_level():
    d = fwAD.make_dual(x, torch.ones(2))
    out = d.sin()
    jvp = fwAD.unpack_dual(out).tangent
""",
# Forward AD mixed with backward: reading tangents at every op once broke all three
# (an internal assert in _fw_primal; "Batching rule not implemented for aten::_unpack_dual").
"forward_ad_then_backward": """
import torch
import torch.autograd.forward_ad as fwAD
x = torch.tensor([1.0, 3.0], requires_grad=True)
with fwAD.dual_level():
    d = fwAD.make_dual(x, torch.ones(2))
    y = (d ** 2).sum()
    y.backward()
""",
"func_hessian": """
import torch
from torch.func import hessian
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = hessian(lambda x: (x ** 3).sum())(x)
h.sum().backward()
""",
"functional_hessian_forward_mode": """
import torch
from torch.autograd.functional import hessian
h = hessian(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]), outer_jacobian_strategy="forward-mode", vectorize=True)
""",
"lstm_in_sequential_error": """
import torch
import torch.nn as nn
model = nn.Sequential(nn.LSTM(4, 6, batch_first=True), nn.Linear(6, 2))
out = model(torch.randn(2, 5, 4))
""",
"cross_entropy_classes_last_error": """
import torch
import torch.nn.functional as F
logits = torch.randn(2, 5, 3, requires_grad=True)
target = torch.randint(0, 3, (2, 5))
loss = F.cross_entropy(logits, target)
""",
"attention_mask_batch_first_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
mha = nn.MultiheadAttention(16, 4)
x = torch.randn(2, 5, 16, requires_grad=True)
causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
out, weights = mha(x, x, x, attn_mask=causal)
""",
"attention_embed_dim_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
mha = nn.MultiheadAttention(16, 4, batch_first=True)
x = torch.randn(2, 5, 10)
out, weights = mha(x, x, x)
""",
"plateau_step_without_metric_error": """
import torch
w = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
sched.step()
""",
"requires_grad_midway": """
import torch
x = torch.ones(2)
y = x * 2
x.requires_grad_()
z = (x * y).sum()
z.backward()
""",
"parameter_ops": """
import torch
p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
q = p * 2
p.data.mul_(3)
q.sum().backward()
""",
"int_bool_tensors": """
import torch
i = torch.arange(5)
b = i > 2
x = torch.ones(5, requires_grad=True)
y = (x * b).sum()
y.backward()
""",
"recursion_fn": """
import torch
def f(t, n):
    return t if n == 0 else f(t * 1.1, n - 1)
x = torch.tensor(1.0, requires_grad=True)
y = f(x, 50)
y.backward()
""",
"class_with_tensor_attrs": """
import torch
class Holder:
    def __init__(self):
        self.w = torch.ones(2, requires_grad=True)
h = Holder()
(h.w * 2).sum().backward()
""",
"generator_exhaust": """
import torch
x = torch.ones(3, requires_grad=True)
gen = (x[i] * i for i in range(3))
s = sum(gen)
s.backward()
""",
"inplace_on_leaf_view_no_grad": """
import torch
w = torch.ones(3, requires_grad=True)
with torch.no_grad():
    w[0] = 5
(w * 2).sum().backward()
""",
"index_put_accumulate": """
import torch
x = torch.zeros(3, requires_grad=True)
y = x.clone()
y.index_put_((torch.tensor([0, 0]),), torch.tensor([1.0, 2.0]), accumulate=True)
(y * x).sum().backward()
""",
"scatter_gather": """
import torch
x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
g = x.gather(1, torch.tensor([[1], [0]]))
s = torch.zeros(2, 2).scatter(1, torch.tensor([[1], [0]]), g)
s.sum().backward()
""",
"nested_no_grad_enable_grad": """
import torch
x = torch.ones(2, requires_grad=True)
with torch.no_grad():
    with torch.enable_grad():
        y = x * 2
    z = x * 3
y.sum().backward()
""",
"grad_twice_accumulate_nonleaf_retain": """
import torch
x = torch.ones(2, requires_grad=True)
h = x * 2
h.retain_grad()
out = (h * h).sum()
out.backward(retain_graph=True)
out.backward()
""",
"dataloader_workers": """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
data = TensorDataset(torch.randn(12, 3), torch.randn(12, 1))
loader = DataLoader(data, batch_size=4, shuffle=True, num_workers=2, persistent_workers=True)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    for xb, yb in loader:
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(epoch, round(loss.item(), 6), xb[0].tolist(), loader.num_workers)
xb, yb = next(iter(loader))
# Workers collate into shared memory (an out= write: version 1); in process, fresh (0).
del xb, yb
""",
"torch_compile_eager": """
import torch
@torch.compile(backend="eager")
def f(t):
    return (t.sin() * 2).sum()
x = torch.ones(3, requires_grad=True)
y = f(x)
y.backward()
""",
})


# Common mistakes with their own explanations.
SCENARIOS.update({
"numpy_requires_grad_error": """
import torch
x = torch.ones(2, requires_grad=True)
a = x.numpy()
""",
"grad_input_no_grad_error": """
import torch
x = torch.ones(2, requires_grad=True)
z = torch.ones(2)
y = (x * 2).sum()
g = torch.autograd.grad(y, [x, z])
""",
"hook_no_grad_error": """
import torch
x = torch.ones(2)
x.register_hook(lambda g: g)
""",
"nonleaf_grad_none_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.sum().backward()
z = y.grad * 2
""",
"view_inplace_unbind_error": """
import torch
x = torch.ones(2, 2, requires_grad=True)
y = x * 2
a, b = y.unbind(0)
a.mul_(2)
""",
"custom_wrong_shape_error": """
import torch
class Bad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return torch.ones(3)
x = torch.ones(2, requires_grad=True)
Bad.apply(x).sum().backward()
""",
"inplace_in_module_forward_error": """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
    def forward(self, x):
        h = self.lin(x).exp()
        h += 1
        return h.sum()
net = Net()
loss = net(torch.ones(1, 2))
loss.backward()
""",
"anomaly_nan_error": """
import torch
x = torch.tensor([0.0, 1.0, 4.0], requires_grad=True)
with torch.autograd.detect_anomaly():
    y = x.sqrt() * 0
    y.sum().backward()
""",
"anomaly_mode_inplace_error": """
import torch
torch.autograd.set_detect_anomaly(True)
x = torch.ones(3, requires_grad=True)
y = x.sigmoid()
y.mul_(2)
y.sum().backward()
""",
# The snippet's own Python modes see exactly the ops they would see without the tracer.
"user_dispatch_mode": """
import torch
from torch.utils._python_dispatch import TorchDispatchMode
class Show(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        print(func)
        return func(*args, **(kwargs or {}))
x = torch.ones(2, requires_grad=True)
with Show():
    y = (x * 3).sum()
    y.backward()
print(x.grad)
""",
"user_function_mode": """
import torch
from torch.overrides import TorchFunctionMode
class Show(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        print(getattr(func, "__name__", func))
        return func(*args, **(kwargs or {}))
x = torch.ones(2, requires_grad=True)
with Show():
    y = (x * 3).sum()
    y.backward()
print(x.grad)
""",
# Manual SGD without no_grad: `w` becomes a non-leaf, so its .grad is None next step.
"manual_sgd_nonleaf_error": """
import torch
w = torch.randn(3, requires_grad=True)
x = torch.ones(3)
for step in range(2):
    loss = (w * x).sum() ** 2
    loss.backward()
    w = w - 0.1 * w.grad
""",
})

# Session 6 sweep: APIs and dtypes a learner reaches for that the seeds do not cover
# (complex, sparse grads, batched grads, Tensor subclasses, user node hooks, linalg, ...).
SCENARIOS.update({
    "backward_on_view_of_leaf": """
import torch
x = torch.arange(6.0, requires_grad=True)
v = x.view(2, 3)[1]
loss = (v ** 2).sum()
loss.backward()
print(x.grad)
""",
    "clip_grad_value": """
import torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Linear(3, 2)
m(torch.randn(4, 3) * 100).sum().backward()
nn.utils.clip_grad_value_(m.parameters(), 0.5)
print(m.weight.grad.abs().max().item() <= 0.5)
""",
    "complex_abs": """
import torch
z = torch.tensor([1+2j, 3-1j], requires_grad=True)
loss = (z * z.conj()).real.sum() + z.abs().sum()
loss.backward()
print(z.grad)
""",
    "copy_construct_warning": """
import torch
x = torch.ones(2, requires_grad=True)
y = torch.tensor(x * 2)
print(y.requires_grad)
""",
    "custom_saved_inplace_error": """
import torch
class Id(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clone()
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x
a = torch.ones(3, requires_grad=True)
b = a * 2
c = Id.apply(b)
b.add_(1)
c.sum().backward()
""",
    "detach_inplace_method": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.detach_()
print(y.requires_grad, y.grad_fn)
""",
    "exec_inside": """
import torch
x = torch.ones(2, requires_grad=True)
ns = {'x': x, 'torch': torch}
exec('y = x.exp()', ns)
y = ns['y']
y.sum().backward()
print(x.grad)
""",
    "float16_ops": """
import torch
x = torch.ones(4, dtype=torch.float16, requires_grad=True)
y = (x * 1.5).sum()
y.backward()
print(x.grad.dtype)
""",
    "freeze_layers": """
import torch, torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
net[0].requires_grad_(False)
out = net(torch.randn(5, 4)).mean()
out.backward()
print(net[0].weight.grad, net[2].weight.grad is not None)
""",
    "grad_of_grad_custom": """
import torch
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g
x = torch.tensor([2.0], requires_grad=True)
y = Cube.apply(x)
(g,) = torch.autograd.grad(y, x, create_graph=True)
(g2,) = torch.autograd.grad(g, x)
print(g, g2)
""",
    "grad_set_none_and_zero": """
import torch
w = torch.ones(2, requires_grad=True)
(w * 2).sum().backward()
w.grad.zero_()
(w * 3).sum().backward()
g1 = w.grad.clone()
w.grad = None
(w * 4).sum().backward()
print(g1, w.grad)
""",
    "grads_batched": """
import torch
x = torch.randn(3, requires_grad=True)
y = x ** 2
(g,) = torch.autograd.grad(y, x, torch.eye(3), is_grads_batched=True)
print(g.shape)
""",
    "increment_version_error": """
import torch
x = torch.ones(3, requires_grad=True)
y = x * 1
z = y.sin()
torch.autograd.graph.increment_version(y)
z.sum().backward()
""",
    "int_backward_error": """
import torch
x = torch.tensor([1, 2, 3])
y = (x * 2).sum()
y.backward()
""",
    "linalg_ops": """
import torch
torch.manual_seed(0)
A = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
inv = torch.linalg.inv(A + 3 * torch.eye(3, dtype=torch.float64))
U, S, Vh = torch.linalg.svd(A)
loss = inv.sum() + S.sum() + torch.linalg.det(A)
loss.backward()
print(A.grad.shape)
""",
    "materialize_grads": """
import torch
x = torch.ones(2, requires_grad=True)
u = torch.ones(2, requires_grad=True)
y = (x * 2).sum()
gx, gu = torch.autograd.grad(y, [x, u], allow_unused=True, materialize_grads=True)
print(gx, gu)
""",
    "metadata_user": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.grad_fn.metadata['note'] = 'mine'
print(y.grad_fn.metadata.get('note'))
y.sum().backward()
""",
    "module_state_dict_load": """
import torch, torch.nn as nn
torch.manual_seed(0)
a = nn.Linear(2, 2)
b = nn.Linear(2, 2)
b.load_state_dict(a.state_dict())
x = torch.randn(3, 2)
print(torch.equal(a(x), b(x)))
b(x).sum().backward()
print(b.weight.grad.shape)
""",
    "once_differentiable": """
import torch
from torch.autograd.function import once_differentiable
class Sq(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x
    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = Sq.apply(x).sum()
y.backward()
print(x.grad)
""",
    "requires_grad_attr": """
import torch
w = torch.zeros(3)
w.requires_grad = True
loss = (w + 1).pow(2).sum()
loss.backward()
print(w.grad)
""",
    "retain_grad_then_inplace": """
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.retain_grad()
y.add_(1)
(y * y).sum().backward()
print(y.grad, x.grad)
""",
    "set_grad_enabled_call": """
import torch
x = torch.ones(2, requires_grad=True)
torch.set_grad_enabled(False)
y = x * 2
torch.set_grad_enabled(True)
z = x * 3
print(y.requires_grad, z.requires_grad)
z.sum().backward()
""",
    "set_materialize_false": """
import torch
class Two(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        return x.clone(), x.clone()
    @staticmethod
    def backward(ctx, g1, g2):
        out = torch.zeros(2) if g1 is None else g1.clone()
        if g2 is not None:
            out = out + g2
        return out
x = torch.ones(2, requires_grad=True)
a, b = Two.apply(x)
a.sum().backward()
print(x.grad)
""",
    "sgd_zero_grad_none": """
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(8, 3)
for step in range(3):
    opt.zero_grad()
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
print(round(loss.item(), 6))
""",
    "sparse_embedding": """
import torch, torch.nn as nn
torch.manual_seed(0)
emb = nn.Embedding(10, 3, sparse=True)
idx = torch.tensor([1, 2, 1])
loss = emb(idx).sum()
loss.backward()
print(emb.weight.grad.is_sparse)
""",
    "tensor_subclass_tf": """
import torch
class Logged(torch.Tensor):
    calls = []
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append(getattr(func, '__name__', str(func)))
        return super().__torch_function__(func, types, args, kwargs or {})
x = torch.ones(3, requires_grad=True)
y = (x.as_subclass(Logged) * 2).sum()
y.backward()
print(type(y).__name__, x.grad, len(Logged.calls) > 0)
""",
    "unbind_chunk_split": """
import torch
x = torch.arange(6.0, requires_grad=True)
a, b, c = x.chunk(3)
p, q = x.split([2, 4])
r = x.view(2, 3).unbind(0)
loss = (a * b).sum() + q.sum() + (r[0] * r[1]).sum()
loss.backward()
print(x.grad)
""",
    "user_hook_raises_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 3
def bad(g):
    raise ValueError('hook refused')
y.register_hook(bad)
y.sum().backward()
""",
    "user_node_prehook": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 3
h = y.grad_fn.register_prehook(lambda gO: (gO[0] * 10,))
y.sum().backward()
print(x.grad)
h.remove()
""",
    "where_nan_grad": """
import torch
x = torch.tensor([0.0, 4.0], requires_grad=True)
y = torch.where(x > 0, torch.sqrt(x), torch.zeros_like(x))
y.sum().backward()
print(x.grad)
""",
    "allow_mutation_on_saved": """
import torch
x = torch.ones(3, requires_grad=True)
with torch.autograd.graph.allow_mutation_on_saved_tensors():
    y = x * 2
    z = y.sin()
    y.add_(1)
    z.sum().backward()
print(x.grad)
""",
    "anonymous_module": """
import torch, torch.nn as nn
torch.manual_seed(0)
x = torch.randn(2, 3, requires_grad=True)
y = nn.Linear(3, 1)(x).sum()
y.backward()
print(x.grad.shape)
""",
    "caught_backward_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = (x * x).sum()
y.backward()
try:
    y.backward()
except RuntimeError as e:
    print('caught:', type(e).__name__)
z = (x * 3).sum()
z.backward()
print(x.grad)
""",
    "comprehension_lines": """
import torch
x = torch.ones(2, requires_grad=True)
ys = [x * i for i in range(1, 4)]
total = sum(y.sum() for y in ys)
total = (total
         * 2
         + 1)
total.backward()
print(x.grad)
""",
    "dataclass_tensors": """
import torch
from dataclasses import dataclass
@dataclass
class State:
    w: torch.Tensor
    b: torch.Tensor
s = State(torch.ones(2, requires_grad=True), torch.zeros(2, requires_grad=True))
loss = (s.w * 3 + s.b).pow(2).sum()
loss.backward()
print(s.w.grad, s.b.grad)
""",
    "forward_hook_user": """
import torch, torch.nn as nn
torch.manual_seed(0)
lin = nn.Linear(3, 2)
lin.register_forward_hook(lambda m, i, o: o * 2)
out = lin(torch.randn(4, 3)).sum()
out.backward()
print(lin.bias.grad)
""",
    "func_jacrev_functional_call": """
import torch, torch.nn as nn
from torch.func import jacrev, functional_call
torch.manual_seed(0)
m = nn.Linear(3, 2)
params = dict(m.named_parameters())
x = torch.randn(3)
J = jacrev(lambda p: functional_call(m, p, (x,)))(params)
print(J['weight'].shape)
""",
    "grad_accumulate_two_losses_retain": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x.exp()
l1 = h.sum()
l2 = (h * h).sum()
l1.backward(retain_graph=True)
l2.backward()
print(x.grad)
""",
    "inplace_on_leaf_no_grad_then_backward_error": """
import torch
w = torch.ones(3, requires_grad=True)
y = (w * w).sum()
with torch.no_grad():
    w.add_(1)
y.backward()
""",
    "jit_script_fn": """
import torch
@torch.jit.script
def f(x: torch.Tensor) -> torch.Tensor:
    return (x * x + 1.0).sum()
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = f(x)
y.backward()
print(x.grad)
""",
    "lambda_and_closure": """
import torch
def make_scale(k):
    return lambda t: t * k
double = make_scale(2.0)
x = torch.ones(3, requires_grad=True)
out = double(double(x)).sum()
out.backward()
print(x.grad)
""",
    "leaf_hook_modifies": """
import torch
w = torch.ones(2, requires_grad=True)
w.register_hook(lambda g: g * 100)
(w * 3).sum().backward()
print(w.grad)
""",
    "multiple_roots_backward": """
import torch
x = torch.ones(2, requires_grad=True)
a = (x * 2).sum()
b = (x ** 3).sum()
torch.autograd.backward([a, b])
print(x.grad)
""",
    "nested_tuple_outputs_custom": """
import torch
class Split(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x[:1] * 2, x[1:] * 3, 7
    @staticmethod
    def backward(ctx, g1, g2, _g3):
        return torch.cat([g1 * 2, g2 * 3])
x = torch.ones(3, requires_grad=True)
a, b, n = Split.apply(x)
(a.sum() + b.sum() * n).backward()
print(x.grad)
""",
    "no_grad_inside_loop_eval": """
import torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Linear(2, 1)
x = torch.randn(4, 2)
m.eval()
with torch.no_grad():
    preds = [m(x[i]) for i in range(4)]
m.train()
loss = m(x).mean()
loss.backward()
print(len(preds), preds[0].requires_grad)
""",
    "requires_grad_false_param_update": """
import torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Linear(2, 2)
loss = m(torch.ones(1, 2)).sum()
loss.backward()
with torch.no_grad():
    for p in m.parameters():
        p -= 0.1 * p.grad
print(m.weight._version)
""",
    "sdpa_explicit": """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
q = torch.randn(1, 2, 4, 8, requires_grad=True)
k = torch.randn(1, 2, 4, 8, requires_grad=True)
v = torch.randn(1, 2, 4, 8, requires_grad=True)
out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
out.sum().backward()
print(q.grad.shape)
""",
    "second_order_mixed": """
import torch
x = torch.tensor(3.0, requires_grad=True)
y = x ** 3
(g,) = torch.autograd.grad(y, x, create_graph=True)
g.backward()
print(x.grad)
""",
    "view_of_view_inplace_nonleaf": """
import torch
x = torch.ones(4, requires_grad=True)
y = x * 1
v = y.view(2, 2)[0]
v.mul_(5)
y.sum().backward()
print(x.grad)
""",
    "arange_requires_grad_error": """
import torch
idx = torch.arange(3).requires_grad_()
""",
    "grad_of_constant_error": """
import torch
x = torch.ones(2)
y = (x * 2).sum()
torch.autograd.grad(y, x)
""",
    "grad_unrelated_input_error": """
import torch
x = torch.ones(2, requires_grad=True)
z = torch.ones(2, requires_grad=True)
y = (x * 2).sum()
torch.autograd.grad(y, z)
""",
    "inference_in_module_error": """
import torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Linear(3, 1)
with torch.inference_mode():
    feats = torch.randn(2, 3)
    feats = feats * 2
loss = m(feats).sum()
loss.backward()
y = feats.clone()
w = torch.ones(3, requires_grad=True)
(w * feats).sum().backward()
""",
    "matrix_backward_nonscalar_error": """
import torch
x = torch.ones(2, 2, requires_grad=True)
y = x @ x
y.backward()
""",
    "nonleaf_requires_grad_false_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.requires_grad_(False)
""",
    "plus_equals_leaf_error": """
import torch
w = torch.zeros(3, requires_grad=True)
w += 1
""",
    "shared_subgraph_backward_twice_error": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
h = x.exp()
a = h.sum()
b = (h * 2).sum()
a.backward()
b.backward()
""",
    "sigmoid_out_inplace_error": """
import torch
x = torch.randn(4, requires_grad=True)
s = torch.sigmoid(x)
s.mul_(2)
s.sum().backward()
""",
    "zero_leaf_error": """
import torch
w = torch.ones(3, requires_grad=True)
w.zero_()
""",
    "written_view_of_saved_output_error": """
import torch
torch.manual_seed(0)
w = torch.randn(4, requires_grad=True)
h = w.exp()
v = h[1:3]
v.mul_(2)
a = w.sin().sum()
b = (v * v).sum()
(a + b + h.sum()).backward()
print(w.grad)
""",
    "written_view_rebuilt_later": """
import torch
torch.manual_seed(0)
w = torch.randn(2, 2, requires_grad=True)
h = w * 2
v = h.transpose(0, 1)
v[0, 0] = 3.0
u = w.tanh()
p = (u * 3).exp()
loss = p.sum() + v.sum() + h.sum()
loss.backward()
print(w.grad)
""",
    "retain_grad_no_grad_error": """
import torch
w = torch.ones(3, requires_grad=True)
with torch.no_grad():
    h = w * 2
h.retain_grad()
""",
    "view_no_grad_inplace_error": """
import torch
w = torch.ones(3, requires_grad=True)
h = w * 2
with torch.no_grad():
    v = h[:2]
v.mul_(3)
""",
    "no_grad_view_of_written_base_error": """
import torch
torch.manual_seed(0)
w = torch.ones(2, 2, requires_grad=True)
h = torch.randn(2, 2) * 1
with torch.no_grad():
    v = h.t()
h.add_(w)
loss = (v * v).sum()
""",
    "checkpoint_reentrant": """
import torch, torch.nn as nn
from torch.utils.checkpoint import checkpoint
torch.manual_seed(0)
block = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
x = torch.randn(2, 3, requires_grad=True)
y = checkpoint(block, x, use_reentrant=True)
loss = y.pow(2).sum()
loss.backward()
print(x.grad.shape, block[0].weight.grad.shape)
""",
    "grad_inside_custom_backward": """
import torch
class Smooth(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.tanh()
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            xi = x.detach().requires_grad_(True)
            (d,) = torch.autograd.grad(xi.tanh().sum(), xi)
        return g * d
x = torch.tensor([0.5, -1.0], requires_grad=True)
y = (Smooth.apply(x) * 3).sum()
y.backward()
print(x.grad)
""",
    "hook_ops_create_graph": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x ** 2
y.register_hook(lambda g: g * x)
(g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
g.sum().backward()
print(x.grad)
""",
    "forward_ad_then_backward": """
import torch
import torch.autograd.forward_ad as fwAD
x = torch.tensor([1.0, 2.0], requires_grad=True)
with fwAD.dual_level():
    d = fwAD.make_dual(x, torch.ones(2))
    y = (d * d).sin()
    p, t = fwAD.unpack_dual(y)
p.sum().backward()
print(x.grad, t)
""",
    "functional_vjp_jvp_hvp": """
import torch
from torch.autograd.functional import vjp, jvp, hvp
f = lambda x: (x ** 3).sum()
x = torch.tensor([1.0, 2.0])
v = torch.ones(2)
print(vjp(lambda x: x ** 2, x, v)[1])
print(jvp(lambda x: x ** 2, x, v)[1])
print(hvp(f, x, v)[1])
""",
    "module_full_backward_pre_hook": """
import torch, torch.nn as nn
torch.manual_seed(0)
lin = nn.Linear(2, 2)
lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
x = torch.randn(3, 2, requires_grad=True)
lin(x).sum().backward()
print(x.grad.shape, lin.weight.grad.sum().item() != 0)
""",
    "multi_grad_hook": """
import torch
a = torch.ones(2, requires_grad=True)
b = torch.ones(2, requires_grad=True)
seen = []
torch.autograd.graph.register_multi_grad_hook((a, b), lambda gs: seen.append(len(gs)))
((a * 2) + (b * 3)).sum().backward()
print(seen, a.grad, b.grad)
""",
    "post_accumulate_optimizer_in_hook": """
import torch
w = torch.ones(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
def step(p):
    opt.step()
    opt.zero_grad()
w.register_post_accumulate_grad_hook(step)
for _ in range(3):
    (w * w).sum().backward()
print(w)
""",
    "vmap_grad": """
import torch
from torch.func import vmap, grad
xs = torch.tensor([1.0, 2.0, 3.0])
print(vmap(grad(lambda x: (x ** 3).sum()))(xs.unsqueeze(1)))
""",
    # A saved view from a multi-view op whose base is written under no_grad: reading it for
    # backward fails with a view error, not the version one; still flagged stale beforehand.
    "saved_view_base_inplace_error": """
import torch
w = torch.randn(6, 2, requires_grad=True)
x = torch.randn(3, 2, requires_grad=True)
a, b = w.split([2, 4])
y = x @ a.t()
with torch.no_grad():
    w.mul_(2)
y.sum().backward()
""",
    # backward(inputs=...) retains its inputs' grads: a frozen input fails with retain_grad's
    # message, though the learner never called it.
    "backward_inputs_frozen_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
model = nn.Linear(3, 1)
loss = model(torch.randn(4, 3)).pow(2).mean()
model.weight.requires_grad_(False)  # frozen after the forward pass
loss.backward(inputs=[model.bias, model.weight])
""",
    "detach_view_inplace_error": """
import torch
x = torch.randn(4, requires_grad=True)
y = x * 2
first = y[:2]
first.detach_()
""",
    "double_backward_sdpa_error": """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
q = torch.randn(1, 2, 4, 8, requires_grad=True)
out = F.scaled_dot_product_attention(q, q, q)
(g,) = torch.autograd.grad(out.sum(), q, create_graph=True)
g.pow(2).sum().backward()
""",
    "view_after_transpose_error": """
import torch
w = torch.randn(3, 4, requires_grad=True)
flat = w.t().view(-1)
""",
    "inplace_on_expanded_error": """
import torch
x = torch.randn(1, 3, requires_grad=True)
y = (x * 1).expand(4, 3)
y.add_(1)
""",
    # Pack/unpack hooks run exactly as often as in plain PyTorch: reading saved values for
    # the trace must not call the unpack hook (nor recompute a checkpoint).
    "saved_tensors_hooks_print": """
import torch
def pack(t):
    print("pack", tuple(t.shape))
    return t
def unpack(t):
    print("unpack", tuple(t.shape))
    return t
x = torch.randn(3, requires_grad=True)
with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
    y = x.sin()
    z = y * x
z.sum().backward()
print(x.grad.shape)
""",
    "checkpoint_print_save_on_cpu": """
import torch
from torch.utils.checkpoint import checkpoint
torch.manual_seed(0)
layer = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.Tanh())
def block(t):
    print("block runs")
    return layer(t)
x = torch.randn(2, 4, requires_grad=True)
y = checkpoint(block, x, use_reentrant=False)
with torch.autograd.graph.save_on_cpu():
    z = (y * y).sum()
z.backward()
print(x.grad.sum().item())
""",
    # The tracer's own reads must not reach a Tensor subclass's __torch_function__.
    "subclass_counts_its_calls": """
import torch
calls = []
class Logged(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        calls.append(getattr(func, "__name__", str(func)))
        return super().__torch_function__(func, types, args, kwargs or {})
x = torch.randn(3, requires_grad=True).as_subclass(Logged)
y = (x * 2).sin()
y.sum().backward()
print(len(calls), calls[:12])
""",
    # ...nor a TorchDispatchMode's (reading a saved output runs an aten op it would log).
    "dispatch_mode_logs_aten_ops": """
import torch
from torch.utils._python_dispatch import TorchDispatchMode
class Log(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        print(func)
        return func(*args, **(kwargs or {}))
x = torch.randn(2, 2, requires_grad=True)
with Log():
    y = (x * x).relu()
    y.sum().backward()
    x.grad.zero_()
print(x.grad)
""",
    # The seed articles' derived-parameter bug with a split: the views outlive the update.
    "derived_split_in_init_error": """
import torch
import torch.nn as nn

class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 2))
        self.w_q, self.w_kv = self.w.split([2, 4])  # derived once, in __init__

    def forward(self, x):
        return x @ self.w_q.t()

model = Heads()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(3, 2)
for step in range(2):
    loss = model(x).pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
""",
})

SCENARIOS.update({
"numpy_float64_into_linear_error": """
import numpy as np
import torch
model = torch.nn.Linear(2, 1)
x = torch.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]))
y = model(x)
""",
"float_class_targets_error": """
import torch
torch.manual_seed(0)
logits = torch.randn(3, 5, requires_grad=True)
target = torch.tensor([1.0, 0.0, 4.0])
loss = torch.nn.functional.cross_entropy(logits, target)
""",
"embedding_float_indices_error": """
import torch
emb = torch.nn.Embedding(10, 3)
ids = torch.tensor([1.0, 2.0])
vectors = emb(ids)
""",
"bce_integer_targets_error": """
import torch
p = torch.sigmoid(torch.zeros(3, requires_grad=True))
y = torch.tensor([1, 0, 1])
loss = torch.nn.functional.binary_cross_entropy(p, y)
""",
"lstm_float64_input_error": """
import torch
lstm = torch.nn.LSTM(2, 3)
seq = torch.ones(4, 1, 2, dtype=torch.float64)
out, _ = lstm(seq)
""",
"backward_on_item_error": """
import torch
w = torch.ones(2, requires_grad=True)
loss = (w * 2).sum().item()
print(loss)
loss.backward()
""",
"saved_no_grad_view_written_error": """
import torch
x = torch.ones(3, requires_grad=True)
h = x * 2
with torch.no_grad():
    v = h[:2]
w = torch.ones(2, requires_grad=True)
y = w * v
h.mul_(2)
y.sum().backward()
""",
"module_missing_error": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
import torchvision.transforms as T
""",
"cuda_call_error": """
import torch
model = torch.nn.Linear(2, 1)
x = torch.ones(4, 2)
model = model.cuda()
""",
"cuda_device_error": """
import torch
device = "cuda"
w = torch.zeros(3, requires_grad=True, device=device)
""",
"input_call_error": """
import torch
w = torch.ones(2, requires_grad=True)
steps = int(input("steps? "))
""",
"optimizer_nonleaf_error": """
import torch
w = torch.randn(3, 2, requires_grad=True) * 0.01
opt = torch.optim.SGD([w], lr=0.1)
""",
"layers_in_plain_list_error": """
import torch
from torch import nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(2, 2), nn.Linear(2, 1)]
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
""",
"super_init_missing_error": """
import torch
from torch import nn
class Net(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(2, 1)
net = Net()
""",
"embedding_index_error": """
import torch
from torch import nn
emb = nn.Embedding(10, 4)
tokens = torch.tensor([3, 9, 10])
vectors = emb(tokens)
""",
"item_of_vector_error": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w * 2) ** 2
print(loss.item())
""",
"bce_on_logits_error": """
import torch
from torch import nn
layer = nn.Linear(3, 1)
scores = layer(torch.tensor([[2.0, -1.0, 4.0]]))
loss = nn.functional.binary_cross_entropy(scores, torch.ones(1, 1))
""",
"view_wrong_size_error": """
import torch
x = torch.randn(2, 6, requires_grad=True)
y = x * 2
z = y.view(5, -1)
""",
"conv_wrong_channels_error": """
import torch
from torch import nn
conv = nn.Conv2d(3, 4, kernel_size=3)
gray = torch.randn(1, 1, 8, 8)
out = conv(gray)
""",
"forward_without_return_error": """
import torch
from torch import nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
    def forward(self, x):
        y = self.fc(x)
net = Net()
loss = net(torch.ones(1, 2)).sum()
""",
"download_error": """
import torch
import urllib.request
w = torch.ones(2, requires_grad=True)
raw = urllib.request.urlopen("http://gradtrace-no-such-host.invalid/data.csv").read()
""",
"sum_over_missing_dim_error": """
import torch
x = torch.ones(3, requires_grad=True)
probs = x.softmax(dim=1)
""",
"numpy_into_layer_error": """
import numpy as np
import torch
layer = torch.nn.Linear(2, 1)
batch = np.ones((4, 2), dtype=np.float32)
out = layer(batch)
""",
"cat_with_list_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = torch.cat([x, [1.0]])
""",
"tensor_as_condition_error": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
loss.backward()
if w.grad > 1:
    print("big")
""",
"nested_tensor_strided": """
import torch
a = torch.randn(2, 3, requires_grad=True)
b = torch.randn(4, 3, requires_grad=True)
nt = torch.nested.as_nested_tensor([a, b])
s = nt.sin()
out = torch.nested.to_padded_tensor(s, 0.0).sum()
out.backward()
print(a.grad.sum(), b.grad.shape, nt.is_nested)
""",
"nested_tensor_jagged": """
import torch
a = torch.randn(2, 3, requires_grad=True)
b = torch.randn(4, 3, requires_grad=True)
nt = torch.nested.as_nested_tensor([a, b], layout=torch.jagged)
s = (nt * 2).relu()
s.values().sum().backward()
print(a.grad.sum(), nt.shape[0])
""",
"nested_tensor_leaf": """
import torch
nt = torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)], requires_grad=True)
out = nt.sin()
torch.nested.to_padded_tensor(out, 0.0).sum().backward()
print(nt.grad.is_nested, [g.shape for g in nt.grad.unbind()])
""",
"snippet_replaces_builtins": """
import builtins
import sys
import torch
x = torch.ones(3, requires_grad=True)
y = (x * 2).sum()
y.backward()
builtins.len = lambda obj: 0
builtins.isinstance = lambda *args: False
builtins.str = lambda *args: "str"
del builtins.getattr
sys.modules.clear()
""",
"builtin_replaced_before_backward": """
import builtins
import torch
x = torch.ones(3, requires_grad=True)
y = (x * 2).sum()
builtins.len = lambda obj: 0
try:
    y.backward()
except RuntimeError as e:
    print("backward failed:", e)
""",
"snippet_objects_that_lie_to_readers": """
import torch
# Every method below fails once the snippet is over: reading the results must call none.
finished = False
def check():
    if finished:
        raise RuntimeError("snippet code ran after the snippet")
class Liar:
    @property
    def __class__(self):
        return torch.Tensor
    def __getattr__(self, name):
        raise RuntimeError("no " + name)
class Counting(list):
    def __getitem__(self, i):
        check()
        return list.__getitem__(self, i)
class Loud(dict):
    def items(self):
        check()
        return dict.items(self)
class Key(str):
    def __repr__(self):
        check()
        return "key"
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)
    def forward(self, x):
        return self.fc(x)
    def named_modules(self, *args, **kwargs):
        check()
        return super().named_modules(*args, **kwargs)
liar = Liar()
x = torch.ones(2, requires_grad=True)
parts = Counting([x * 2, x * 3])
heads = Loud({Key("a"): x * 4, 1: x * 5})
globals()[7] = x * 6
net = Net()
net(x).sum().backward()
print(x.grad)
finished = True
""",
"stdout_bytes": """
import sys
import torch
x = torch.ones(2, requires_grad=True)
sys.stdout.buffer.write(b"caf\\xc3\\xa9\\n")
sys.stdout.buffer.flush()
print(sys.stdout.encoding)
""",
"nested_tensor_saved_hooks": """
import torch
a = torch.randn(1, 2, requires_grad=True)
b = torch.randn(2, 2, requires_grad=True)
with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
    nt = torch.nested.as_nested_tensor([a, b])
    s = nt.sin()
torch.nested.to_padded_tensor(s, 0.0).sum().backward()
print(a.grad)
""",
"optimizer_given_tensor_error": """
import torch
w = torch.zeros(3, requires_grad=True)
opt = torch.optim.SGD(w, lr=0.1)
""",
"grad_assign_wrong_shape_error": """
import torch
w = torch.ones(3, requires_grad=True)
(w * 2).sum().backward()
w.grad = torch.zeros(2)
""",
"forward_calls_itself_error": """
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)
    def forward(self, x):
        return self(x)
Net()(torch.ones(1, 2))
""",
"stack_unequal_error": """
import torch
a = torch.ones(2, requires_grad=True)
b = torch.ones(3, requires_grad=True)
c = torch.stack([a, b])
""",
"hook_changes_grad_shape_error": """
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.register_hook(lambda g: g[:2])
y.sum().backward()
""",
"inference_tensor_requires_grad_error": """
import torch
with torch.inference_mode():
    data = torch.ones(3)
data.requires_grad_(True)
""",
"plain_tensor_as_parameter_error": """
import torch
layer = torch.nn.Linear(2, 2)
scale = torch.ones(2, 2, requires_grad=True)
layer.weight = layer.weight * scale
""",
"grad_of_module_error": """
import torch
model = torch.nn.Linear(2, 1)
model(torch.ones(1, 2)).sum().backward()
print(model.grad)
""",
"model_name_reused_error": """
import torch
model = torch.nn.Linear(2, 1)
x = torch.ones(1, 2)
model = model(x)
out = model(x)
""",
"forward_given_two_inputs_error": """
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)
    def forward(self, x):
        return self.fc(x)
Net()(torch.ones(1, 2), torch.ones(1, 2))
""",
"lbfgs_without_closure_error": """
import torch
w = torch.ones(2, requires_grad=True)
opt = torch.optim.LBFGS([w])
(w ** 2).sum().backward()
opt.step()
""",
"index_into_loss_error": """
import torch
w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
print(loss[0])
""",
"mean_of_integers_error": """
import torch
marks = torch.tensor([3, 4, 5])
print(marks.mean())
""",
"fractional_add_to_integers_error": """
import torch
counts = torch.arange(3)
counts += 0.5
""",
"gradient_of_wrong_shape_error": """
import torch
x = torch.ones(3, requires_grad=True)
y = x * 2
y.backward(torch.ones(2))
""",
"no_derivative_formula_error": """
import torch
x = torch.rand(4, requires_grad=True)
y = torch.special.zeta(x, torch.ones(4))
y.sum().backward()
""",
"old_style_function_error": """
import torch
class Double(torch.autograd.Function):
    def forward(self, x):
        return x * 2
    def backward(self, grad):
        return grad * 2
x = torch.ones(2, requires_grad=True)
y = Double()(x)
""",
"save_number_for_backward_error": """
import torch
class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x, k)
        return x * k
    @staticmethod
    def backward(ctx, grad):
        return grad * 3, None
x = torch.ones(2, requires_grad=True)
y = Scale.apply(x, 3)
""",
"backwards_typo_error": """
import torch
w = torch.ones(2, requires_grad=True)
loss = (w * 2).sum()
loss.backwards()
""",
"tensor_zero_grad_error": """
import torch
w = torch.ones(2, requires_grad=True)
(w * 2).sum().backward()
w.zero_grad()
""",
"inplace_add_grows_tensor_error": """
import torch
w = torch.ones(3, requires_grad=True)
total = w * 1
bias = torch.ones(2, 3)
total += bias
""",
"reentrant_checkpoint_grad_error": """
import torch
from torch.utils.checkpoint import checkpoint
x = torch.ones(2, requires_grad=True)
y = checkpoint(lambda t: t.sin() * 2, x, use_reentrant=True)
(g,) = torch.autograd.grad(y.sum(), x)
""",
"saved_then_detached_in_place_error": """
import torch
a = torch.ones(2, requires_grad=True)
b = a * 2
c = b * b
b.detach_()
c.sum().backward()
""",
"gather_index_too_big_error": """
import torch
x = torch.ones(2, 2, requires_grad=True)
idx = torch.zeros(3, 3, dtype=torch.long)
y = torch.gather(x, 1, idx)
""",
"no_grad_without_parentheses_error": """
import torch
x = torch.ones(2, requires_grad=True)
with torch.no_grad:
    y = x * 2
""",
"model_class_not_instantiated_error": """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
    def forward(self, x):
        return self.fc(x)
model = Net
out = model(torch.ones(1, 2))
""",
"linear_without_out_features_error": """
import torch
layer = torch.nn.Linear(2)
""",
"grads_batched_jacobian": """
import torch
x = torch.randn(3, requires_grad=True)
y = torch.randn(3, requires_grad=True)
z = (x * 2).sum()
gx, gy = torch.autograd.grad(z, [x, y], allow_unused=True, materialize_grads=True)
print(gx, gy)
w = torch.randn(2, 3, requires_grad=True)
out = w @ x
(jac,) = torch.autograd.grad(out, x, torch.eye(2), is_grads_batched=True)
print(jac)
""",
"post_accumulate_grad_hook": """
import torch
w = torch.randn(3, requires_grad=True)
seen = []
w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
(w * w).sum().backward()
print(len(seen), seen[0])
""",
"lbfgs_closure": """
import torch
torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
opt = torch.optim.LBFGS([w], max_iter=5)
target = torch.tensor([1.0, 2.0, 3.0])
def closure():
    opt.zero_grad()
    loss = ((w - target) ** 2).sum()
    loss.backward()
    return loss
for _ in range(2):
    opt.step(closure)
print(w)
""",
})

# Mistakes of Python and nn.Module usage met in course code, each with its own lesson.
SCENARIOS.update({
"lazy_linear_read_before_forward_error": """
import torch
import torch.nn as nn
model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 1))
print(model[0].weight.shape)
""",
"lazy_layer_used_before_forward_error": """
import torch
import torch.nn as nn
layer = nn.LazyLinear(3)
penalty = layer.weight.pow(2).sum()
""",
"lazy_linear_training": """
import torch
import torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.LazyLinear(4), nn.Tanh(), nn.LazyLinear(1))
untouched = nn.LazyLinear(2)
x = torch.randn(8, 5)
y = x.sum(dim=1, keepdim=True)
model(x)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
print(round(loss.item(), 6), list(model[0].weight.shape))
""",
"forward_misspelled_error": """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
    def forwad(self, x):
        return self.fc(x)
net = Net()
out = net(torch.randn(3, 2))
""",
"resize_leaf_error": """
import torch
w = torch.ones(6, requires_grad=True)
w.resize_(2, 3)
""",
"linear_keyword_typo_error": """
import torch
import torch.nn as nn
layer = nn.Linear(in_features=2, out_feature=3)
""",
"backward_retain_variables_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = (x * x).sum()
y.backward(retain_variables=True)
""",
"functional_not_imported_error": """
import torch
x = torch.randn(3, requires_grad=True)
y = F.relu(x).sum()
""",
"loss_name_typo_error": """
import torch
w = torch.ones(2, requires_grad=True)
loss = (w * 3).sum()
los.backward()
""",
"local_read_before_assignment_error": """
import torch
w = torch.ones(2, requires_grad=True)
def train_step():
    loss = (w * 2).sum()
    loss.backward()
    w = w - 0.1 * w.grad
train_step()
""",
"tensor_class_with_requires_grad_error": """
import torch
x = torch.Tensor([1.0, 2.0], requires_grad=True)
""",
"weight_data_set_to_integers_error": """
import torch
import torch.nn as nn
layer = nn.Linear(2, 2)
layer.weight.data = torch.ones(2, 2, dtype=torch.int64)
""",
"cross_entropy_3d_target_error": """
import torch
import torch.nn.functional as F
logits = torch.randn(4, 5, 6, requires_grad=True)
loss = F.cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
""",
"bce_logits_target_shape_error": """
import torch
import torch.nn as nn
scores = torch.randn(4, 1, requires_grad=True)
loss = nn.BCEWithLogitsLoss()(scores, torch.ones(4))
""",
"too_many_indices_error": """
import torch
x = torch.randn(3, requires_grad=True)
y = x[0, 1]
""",
"pool_input_too_small_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.MaxPool2d(2))
out = net(torch.randn(1, 1, 8, 8))
""",
"lstm_hidden_batch_error": """
import torch
import torch.nn as nn
torch.manual_seed(0)
lstm = nn.LSTM(10, 20)
x = torch.randn(5, 4, 10)
state = (torch.zeros(1, 3, 20), torch.zeros(1, 3, 20))
out, _ = lstm(x, state)
""",
"layer_attribute_typo_error": """
import torch
import torch.nn as nn
layer = nn.Linear(2, 3)
w = layer.weights
""",
"submodule_name_typo_error": """
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 3)
    def forward(self, x):
        return self.fc_1(x)
net = Net()
out = net(torch.ones(1, 2))
""",
"optimizer_method_typo_error": """
import torch
w = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
opt.zero_grads()
""",
"activation_class_typo_error": """
import torch
import torch.nn as nn
act = nn.Relu()
""",
"state_dict_other_architecture_error": """
import torch
import torch.nn as nn
small = nn.Linear(2, 3)
wide = nn.Linear(2, 4)
wide.load_state_dict(small.state_dict())
""",
"parameters_not_called_error": """
import torch
import torch.nn as nn
model = nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters, lr=0.1)
""",
"float_mask_index_error": """
import torch
x = torch.randn(4, requires_grad=True)
mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
y = x[mask]
""",
"integer_mask_fill_error": """
import torch
x = torch.randn(4, requires_grad=True)
y = x.masked_fill(torch.tensor([1, 0, 1, 0]), 0.0)
""",
"function_in_sequential_error": """
import torch
import torch.nn as nn
model = nn.Sequential(nn.Linear(2, 2), torch.relu)
""",
"tensor_of_tensors_error": """
import torch
a = torch.ones(2, requires_grad=True)
b = torch.ones(2, requires_grad=True)
both = torch.tensor([a, b])
""",
"two_outputs_one_gradient_error": """
import torch
class Split(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3
    @staticmethod
    def backward(ctx, g):
        return g
x = torch.ones(2, requires_grad=True)
a, b = Split.apply(x)
(a + b).sum().backward()
""",
"hook_returns_text_error": """
import torch
x = torch.ones(2, requires_grad=True)
h = x.register_hook(lambda g: print(g) or "seen")
(x * 2).sum().backward()
""",
"hessian_of_vector_error": """
import torch
from torch.autograd.functional import hessian
H = hessian(lambda t: t ** 2, torch.ones(2))
""",
"checkpoint_reentrant_hook_error": """
import torch
from torch.utils.checkpoint import checkpoint
x = torch.ones(3, requires_grad=True)
def blk(t):
    u = t * 2
    u.register_hook(lambda g: g)
    return u.sum()
y = checkpoint(blk, x, use_reentrant=True)
y.backward()
""",
"backward_inside_hook_error": """
import torch
w = torch.ones(3, requires_grad=True)
x = torch.ones(3, requires_grad=True)
def hook(g):
    (w * g).sum().backward()
    return g
y = x * 2
y.register_hook(hook)
y.sum().backward()
""",
"custom_function_returns_input_then_inplace_error": """
import torch
class Same(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x
    @staticmethod
    def backward(ctx, g):
        return g
a = torch.ones(3, requires_grad=True)
b = a * 1
c = Same.apply(b)
c.mul_(2)
c.sum().backward()
""",
"hook_on_nonleaf_returns_text_error": """
import torch
x = torch.ones(2, requires_grad=True)
y = x * 2
y.register_hook(lambda g: "nope")
y.sum().backward()
""",
"float_index_error": """
import torch
w = torch.randn(4, requires_grad=True)
i = torch.tensor([0, 2])
y = w[i.float()]
""",
"matrix_vector_size_error": """
import torch
y = torch.ones(2, 2) @ torch.ones(3)
""",
"out_argument_requires_grad_error": """
import torch
a = torch.ones(2, requires_grad=True)
out = torch.zeros(2)
torch.add(a, 1, out=out)
""",
"strict_jacobian_constant_error": """
import torch
from torch.autograd.functional import jacobian
J = jacobian(lambda t: torch.ones(2), torch.ones(2), strict=True)
""",
"gradient_differentiated_again_error": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = (x ** 3).sum()
g, = torch.autograd.grad(y, x)
h, = torch.autograd.grad(g.sum(), x)
""",
"leaf_grad_backward_again_error": """
import torch
x = torch.tensor([1.0, 2.0], requires_grad=True)
(x ** 3).sum().backward()
x.grad.sum().backward()
""",
"rebinding_update_error": """
import torch
w = torch.ones(2, requires_grad=True)
x = torch.tensor([1.0, 2.0])
for step in range(3):
    loss = (w * x).sum()
    loss.backward()
    w = w - 0.1 * w.grad
""",
"format_vector_loss_error": """
import torch
w = torch.ones(1, requires_grad=True)
loss = (w * 3) ** 2
print(f"loss {loss:.4f}")
""",
"scaled_at_creation_error": """
import torch
w = torch.randn(3, requires_grad=True) * 0.01
x = torch.ones(3)
loss = (w * x).sum()
loss.backward()
w.data -= 0.1 * w.grad
""",
"cat_without_list_error": """
import torch
a = torch.ones(2, requires_grad=True)
b = torch.ones(2)
c = torch.cat(a, b)
""",
"loader_unpacks_two_from_one_error": """
import torch
from torch.utils.data import DataLoader, TensorDataset
data = TensorDataset(torch.randn(4, 2))
for x, y in DataLoader(data, batch_size=2):
    pass
""",
"dataset_sizes_differ_error": """
import torch
from torch.utils.data import TensorDataset
data = TensorDataset(torch.randn(4, 2), torch.randn(3))
""",
"loss_given_list_target_error": """
import torch
import torch.nn as nn
pred = torch.randn(3, requires_grad=True)
loss = nn.MSELoss()(pred, [1.0, 2.0, 3.0])
""",
})

# The fix of the carried hidden state: the same loop, cut after each step.
SCENARIOS["rnn_hidden_state_detached"] = SCENARIOS["rnn_hidden_state_carried_error"] + "    h = h.detach()\n"

ERROR_KINDS = {
    "backward_twice_error": "backward_twice",
    "rnn_hidden_state_carried_error": "backward_twice",
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
    "numpy_requires_grad_error": "numpy_requires_grad",
    "grad_input_no_grad_error": "input_no_grad",
    "hook_no_grad_error": "hook_no_grad",
    "nonleaf_grad_none_error": "grad_is_none",
    "manual_sgd_nonleaf_error": "grad_is_none",
    "view_inplace_unbind_error": "view_inplace",
    "custom_wrong_shape_error": "custom_function_shape",
    "inplace_in_module_forward_error": "inplace_version",
    "anomaly_nan_error": "anomaly_nan",
    "anomaly_mode_inplace_error": "inplace_version",
    "custom_saved_inplace_error": "inplace_version",
    "increment_version_error": "inplace_version",
    "int_backward_error": "no_grad_fn",
    "inplace_on_leaf_no_grad_then_backward_error": "inplace_version",
    "shared_subgraph_backward_twice_error": "backward_twice",
    "plus_equals_leaf_error": "inplace_leaf",
    "zero_leaf_error": "inplace_leaf",
    "matrix_backward_nonscalar_error": "nonscalar_backward",
    "grad_unrelated_input_error": "unused_input",
    "grad_of_constant_error": "no_grad_fn",
    "arange_requires_grad_error": "requires_grad_dtype",
    "nonleaf_requires_grad_false_error": "requires_grad_nonleaf",
    "sigmoid_out_inplace_error": "inplace_version",
    "inference_in_module_error": "inference_tensor_saved",
    "written_view_of_saved_output_error": "inplace_version",
    "retain_grad_no_grad_error": "retain_grad_no_grad",
    "view_no_grad_inplace_error": "view_no_grad_inplace",
    "no_grad_view_of_written_base_error": "view_no_grad_inplace",
    "saved_view_base_inplace_error": "saved_view_inplace",
    "derived_split_in_init_error": "saved_view_inplace",
    "backward_inputs_frozen_error": "input_no_grad",
    "detach_view_inplace_error": "detach_view_inplace",
    "double_backward_sdpa_error": "double_backward_unsupported",
    "view_after_transpose_error": "view_noncontiguous",
    "inplace_on_expanded_error": "inplace_overlap",
    "numpy_float64_into_linear_error": "dtype_mismatch",
    "float_class_targets_error": "integer_expected",
    "embedding_float_indices_error": "integer_expected",
    "bce_integer_targets_error": "dtype_mismatch",
    "lstm_float64_input_error": "dtype_mismatch",
    "tensor_as_condition_error": "tensor_bool",
    "module_missing_error": "module_unavailable",
    "sum_over_missing_dim_error": "dim_out_of_range",
    "numpy_into_layer_error": "tensor_expected",
    "lstm_in_sequential_error": "tuple_for_tensor",
    "cross_entropy_classes_last_error": "class_dim_position",
    "plateau_step_without_metric_error": "plateau_needs_metric",
    "attention_mask_batch_first_error": "attention_mask_shape",
    "attention_embed_dim_error": "attention_embed_dim",
    "cat_with_list_error": "tensor_expected",
    "download_error": "network_unavailable",
    "optimizer_nonleaf_error": "optimizer_nonleaf",
    "layers_in_plain_list_error": "empty_parameters",
    "super_init_missing_error": "module_init_missing",
    "embedding_index_error": "index_out_of_range",
    "item_of_vector_error": "not_a_scalar",
    "bce_on_logits_error": "probabilities_expected",
    "view_wrong_size_error": "shape_mismatch",
    "conv_wrong_channels_error": "shape_mismatch",
    "forward_without_return_error": "grad_is_none",
    "cuda_call_error": "gpu_unavailable",
    "cuda_device_error": "gpu_unavailable",
    "input_call_error": "no_input",
    "backward_on_item_error": "backward_on_number",
    "saved_no_grad_view_written_error": "view_no_grad_inplace",
    "optimizer_given_tensor_error": "optimizer_params_type",
    "grad_assign_wrong_shape_error": "grad_assign_mismatch",
    "forward_calls_itself_error": "recursion_depth",
    "stack_unequal_error": "shape_mismatch",
    "hook_changes_grad_shape_error": "hook_changed_grad",
    "inference_tensor_requires_grad_error": "inference_requires_grad",
    "plain_tensor_as_parameter_error": "parameter_expected",
    "grad_of_module_error": "module_has_no_grad",
    "model_name_reused_error": "tensor_not_callable",
    "forward_given_two_inputs_error": "forward_arguments",
    "lbfgs_without_closure_error": "optimizer_closure",
    "index_into_loss_error": "index_scalar",
    "mean_of_integers_error": "float_expected",
    "fractional_add_to_integers_error": "float_expected",
    "gradient_of_wrong_shape_error": "gradient_shape",
    "no_derivative_formula_error": "derivative_not_implemented",
    "old_style_function_error": "legacy_function",
    "save_number_for_backward_error": "save_for_backward_type",
    "backwards_typo_error": "no_such_attribute",
    "tensor_zero_grad_error": "no_such_attribute",
    "inplace_add_grows_tensor_error": "inplace_broadcast",
    "reentrant_checkpoint_grad_error": "checkpoint_reentrant",
    "saved_then_detached_in_place_error": "saved_detached_inplace",
    "gather_index_too_big_error": "shape_mismatch",
    "no_grad_without_parentheses_error": "context_manager_not_called",
    "model_class_not_instantiated_error": "constructor_arguments",
    "linear_without_out_features_error": "constructor_arguments",
    "lazy_linear_read_before_forward_error": "lazy_uninitialized",
    "lazy_layer_used_before_forward_error": "lazy_uninitialized",
    "forward_misspelled_error": "forward_missing",
    "resize_leaf_error": "resize_requires_grad",
    "linear_keyword_typo_error": "unexpected_keyword",
    "backward_retain_variables_error": "unexpected_keyword",
    "functional_not_imported_error": "name_not_defined",
    "loss_name_typo_error": "name_not_defined",
    "local_read_before_assignment_error": "name_not_defined",
    "tensor_class_with_requires_grad_error": "legacy_constructor",
    "weight_data_set_to_integers_error": "requires_grad_dtype",
    "loss_given_list_target_error": "tensor_expected",
    "cross_entropy_3d_target_error": "shape_mismatch",
    "bce_logits_target_shape_error": "shape_mismatch",
    "too_many_indices_error": "dim_out_of_range",
    "pool_input_too_small_error": "input_too_small",
    "lstm_hidden_batch_error": "shape_mismatch",
    "layer_attribute_typo_error": "no_such_member",
    "submodule_name_typo_error": "no_such_member",
    "optimizer_method_typo_error": "no_such_member",
    "activation_class_typo_error": "no_such_member",
    "state_dict_other_architecture_error": "state_dict_mismatch",
    "parameters_not_called_error": "method_not_iterable",
    "float_mask_index_error": "integer_expected",
    "integer_mask_fill_error": "bool_expected",
    "function_in_sequential_error": "module_expected",
    "tensor_of_tensors_error": "not_a_scalar",
    "two_outputs_one_gradient_error": "custom_backward_arguments",
    "hook_returns_text_error": "hook_return_type",
    "hessian_of_vector_error": "nonscalar_backward",
    "strict_jacobian_constant_error": "functional_strict",
    "checkpoint_reentrant_hook_error": "hook_no_grad",
    "backward_inside_hook_error": "no_grad_fn",
    "custom_function_returns_input_then_inplace_error": "view_inplace",
    "hook_on_nonleaf_returns_text_error": "hook_return_type",
    "float_index_error": "integer_expected",
    "matrix_vector_size_error": "shape_mismatch",
    "out_argument_requires_grad_error": "out_requires_grad",
    "gradient_differentiated_again_error": "no_grad_fn",
    "leaf_grad_backward_again_error": "no_grad_fn",
    "rebinding_update_error": "grad_is_none",
    "format_vector_loss_error": "format_tensor",
    "scaled_at_creation_error": "grad_is_none",
    "cat_without_list_error": "tensor_list_expected",
    "loader_unpacks_two_from_one_error": "unpack_mismatch",
    "dataset_sizes_differ_error": "shape_mismatch",
    "once_differentiable_twice_error": "once_differentiable",
    "gradcheck_wrong_backward_error": "gradcheck_mismatch",
    "func_grad_nonscalar_error": "func_grad_nonscalar",
    "func_grad_tuple_error": "func_grad_aux",
    "vmap_item_error": "vmap_item",
    "vmap_control_flow_error": "vmap_control_flow",
    "vmap_size_mismatch_error": "vmap_size_mismatch",
    "vmap_batchnorm_error": "vmap_batchnorm",
    "mark_dirty_leaf_error": "inplace_leaf",
    "complex_backward_error": "complex_backward",
    "saved_read_after_backward_error": "saved_freed_read",
    "rnn_hidden_2d_error": "shape_mismatch",
    "full_hook_then_inplace_relu_error": "backward_hook_inplace",
    "deepcopy_kept_activation_error": "deepcopy_nonleaf",
    "nonfinite_grad_norm_error": "nonfinite_grad_norm",
    "batchnorm_one_sample_error": "batchnorm_batch_of_one",
}
