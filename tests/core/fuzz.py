"""Random small autograd programs for differential testing against plain PyTorch.

`snippet(seed)`: a few leaves, a random mix of ops (element-wise, reductions, views,
indexing, matmul, `.data`), in-place writes into intermediates and views, grad-mode blocks,
`retain_grad`, then one or two backward passes and sometimes `autograd.grad`.
`module_snippet(seed)`: an `nn.Sequential`, custom Functions (one with a non-tensor
argument, one whose backward runs `autograd.grad`), checkpointing (both kinds), tensor
hooks, then one of several endings (optimizer step, `create_graph` double backward,
`retain_graph` with `zero_grad`, several roots, grads of all parameters).
`zoo_snippet(seed)`: common layers (LSTM/GRU/RNN, packed sequences, attention, conv,
batch norm, dropout, embedding, weight/spectral norm) and Functions with `mark_dirty`,
`mark_non_differentiable` and `setup_context`, sometimes run in eval/no_grad/inference mode.
`mechanics_snippet(seed)`: what happens between forward passes (backward variants,
optimizer steps, clipping, freezing, autocast, state_dict round trips, hooks, writes).
`observer_snippet(seed)`: snippet code watching autograd (subclass, dispatch and function
modes, pack/unpack hooks, logging Functions and hooks) whose log is printed.
`loop_program(seed)`: a training loop (model, optimizer, 5-400 steps, graphs kept or not)
with random caps, for the bounds. Many end in an autograd error (backward twice, a stale saved tensor, a write into a view of a leaf, ...):
that is the point, errors must match too. Same seed, same snippet.
"""

from __future__ import annotations

import random
from typing import Any

UNARY = [
    "{a}.sin()", "{a}.exp()", "{a}.tanh()", "{a} * 2", "{a} + 1", "{a}.pow(2)", "{a}.sigmoid()", "{a}.relu()",
    "{a}.t()", "{a}.clone()", "{a}.abs()", "{a}[0:1]", "{a}.view(-1).view(2, 2)", "{a}.transpose(0, 1)",
    "{a}.mean(0, keepdim=True).expand(2, 2)", "{a}.detach()", "torch.softmax({a}, 1)",
    "{a}.reshape(4).flip(0).reshape(2, 2)", "{a}.unsqueeze(0).squeeze(0)", "{a}.index_select(0, torch.tensor([1, 0]))",
    "{a}.gather(1, torch.tensor([[0, 0], [1, 0]]))", "{a}.masked_fill({a} > 0.5, 0.0)", "{a}.data * 1",
    "{a}.diagonal().diag_embed()", "{a}.cumsum(0)", "{a}.norm() * {a}",
]
BINARY = [
    "{a} + {b}", "{a} * {b}", "{a} @ {b}", "{a} - {b}", "torch.maximum({a}, {b})", "torch.where({a} > 0, {a}, {b})",
    "torch.cat([{a}, {b}])[:2]", "torch.stack([{a}, {b}]).sum(0)", "{a} / ({b}.abs() + 1)",
]
INPLACE = [
    "{a}.mul_(2)", "{a}.add_(1)", "{a}.sin_()", "{a}[0, 0] = 3.0", "{a}.clamp_(-1, 1)", "{a}.sigmoid_()",
    "{a}.masked_fill_({a} > 0.5, 0.0)", "{a}.copy_(w0 * 2)", "{a}.data.mul_(2)", "{a}[1].add_({a}[0])",
    "{a}.transpose(0, 1)[0].zero_()", "{a}.detach_()", "{a}.add_(w0, alpha=0.5)",
]
CONTEXTS = ["with torch.no_grad():\n    {line}", "with torch.enable_grad():\n    {line}", "{line}"]


def snippet(seed: int) -> str:
    r = random.Random(seed)
    lines = ["import torch", f"torch.manual_seed({seed})"]
    names = []
    for i in range(r.randint(1, 3)):
        lines.append(f"w{i} = torch.randn(2, 2, requires_grad=True)")
        names.append(f"w{i}")
    lines.append("c = torch.randn(2, 2)")
    names.append("c")
    k = 0
    for _ in range(r.randint(2, 9)):
        roll = r.random()
        if roll < 0.45:
            expr = r.choice(UNARY).format(a=r.choice(names))
        elif roll < 0.85:
            expr = r.choice(BINARY).format(a=r.choice(names), b=r.choice(names))
        else:
            written = [n for n in names if n.startswith("h")]
            if written:
                lines.append(r.choice(INPLACE).format(a=r.choice(written)))
            continue
        lines.append(r.choice(CONTEXTS).format(line=f"h{k} = {expr}"))
        names.append(f"h{k}")
        k += 1
    if r.random() < 0.3 and names[-1].startswith("h"):
        lines.append(f"{names[-1]}.retain_grad()")
    lines.append(f"loss = ({names[-1]} * {names[-1]}).sum() + sum(n.sum() for n in [{', '.join(names)}])")
    lines.append(f"loss.backward(retain_graph={r.random() < 0.4})")
    if r.random() < 0.3:
        lines.append("loss.backward()")
    if r.random() < 0.2:
        lines.append("g = torch.autograd.grad((w0 * 3).sum(), w0)")
    return "\n".join(lines) + "\n"


# ---- module programs ---------------------------------------------------------------

_MODULE_PRELUDE = '''import torch, torch.nn as nn
torch.manual_seed({seed})
class Sq(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g
class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k
    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None
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
net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))
x = torch.randn(5, 3, requires_grad={xg})
w = torch.randn(3, requires_grad=True)
'''
_MODULE_STEPS = [
    "h{k} = net({a})", "h{k} = Sq.apply({a})", "h{k} = Scale.apply({a}, 0.5)", "h{k} = {a} * w",
    "h{k} = torch.relu({a}) + {b}", "h{k} = {a}.softmax(-1)", "h{k} = nn.functional.layer_norm({a}, (3,))",
    "h{k} = {a}.detach().requires_grad_()", "h{k} = {a}[:, :2].sum(1, keepdim=True) * {b}",
    "h{k} = torch.utils.checkpoint.checkpoint(net, {a}, use_reentrant=False)",
    "h{k} = torch.utils.checkpoint.checkpoint(net, {a}, use_reentrant=True)", "h{k} = Smooth.apply({a})",
]
_MODULE_AFTER = [
    "h{k}.register_hook(lambda g: g * 0.5)", "h{k}.retain_grad()",
    "net[0].weight.register_hook(lambda g: g.clamp(-1, 1))",
]
_MODULE_ENDINGS = [
    "loss = h{k}.pow(2).mean()\nloss.backward()",
    "loss = h{k}.pow(2).mean()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nloss.backward()\nopt.step()\nloss2 = net(x).sum()\nloss2.backward()",
    "loss = h{k}.pow(2).mean()\n(g,) = torch.autograd.grad(loss, w, create_graph=True, allow_unused=True)\nif g is not None:\n    g.sum().backward()",
    "loss = h{k}.pow(2).mean()\nloss.backward(retain_graph=True)\nnet.zero_grad()\nloss.backward()",
    "loss = h{k}.pow(2).mean()\ntorch.autograd.backward([loss, h{k}.sum()])",
    "loss = h{k}.pow(2).mean()\nparams = [p for p in net.parameters()] + [w]\ngs = torch.autograd.grad(loss, params, allow_unused=True)\nprint([None if g is None else tuple(g.shape) for g in gs])",
]
def _chain(r: random.Random, steps: list[str], wrap: Any, after: Any) -> tuple[list[str], int]:
    """1-5 random steps `h0 = ...`, `h1 = ...` over earlier names (x first); `wrap(step)` may
    put a step in a block, `after(k)` may add a line after it. Returns lines and step count."""
    lines: list[str] = []
    names = ["x"]
    k = 0
    for _ in range(r.randint(1, 5)):
        step = r.choice(steps).format(k=k, a=r.choice(names), b=r.choice(names))
        lines.append(wrap(step))
        names.append(f"h{k}")
        extra = after(k)
        if extra is not None:
            lines.append(extra)
        k += 1
    return lines, k


def module_snippet(seed: int) -> str:
    r = random.Random(seed)
    lines = [_MODULE_PRELUDE.format(seed=seed, xg=r.random() < 0.6)]
    steps, k = _chain(
        r,
        _MODULE_STEPS,
        lambda step: "with torch.no_grad():\n    " + step if r.random() < 0.15 else step,
        lambda k: r.choice(_MODULE_AFTER).format(k=k) if r.random() < 0.25 else None,
    )
    lines += steps
    lines.append(r.choice(_MODULE_ENDINGS).format(k=k - 1))
    return "\n".join(lines) + "\n"


# ---- layer zoo: the nn layers and Function features courses use ------------------------

_ZOO_PRELUDE = """import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed({seed})
class AddOne(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x
    @staticmethod
    def backward(ctx, g):
        return g
class SortVals(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        vals, idx = x.sort(-1)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        return vals, idx
    @staticmethod
    def backward(ctx, g, _g_idx):
        (idx,) = ctx.saved_tensors
        return torch.zeros_like(g).scatter(-1, idx, g)
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x ** 3
    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)
    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return g * 3 * out / x.clamp(min=1e-3) if False else g * 3 * x * x
class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.lstm = nn.LSTM(4, 4, batch_first=True)
        self.gru = nn.GRU(4, 4, batch_first=True)
        self.rnn = nn.RNN(4, 4, batch_first=True, nonlinearity="relu")
        self.norm = nn.LayerNorm(4)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.3)
        self.emb = nn.Embedding(10, 4)
        self.wn = nn.utils.parametrizations.weight_norm(nn.Linear(4, 4))
        self.sn = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 4))
model = Zoo()
x = torch.randn(2, 5, 4, requires_grad={xg})
ids = torch.tensor([[1, 2, 3, 4, 5], [0, 1, 2, 3, 9]])
"""
_ZOO_STEPS = [
    "h{k} = model.lin({a})", "h{k} = model.lstm({a})[0]", "h{k}, state{k} = model.gru({a})", "h{k} = model.rnn({a})[0]",
    "h{k} = model.norm({a})", "h{k} = model.attn({a}, {a}, {b}, need_weights=False)[0]",
    "h{k} = model.conv({a}.transpose(1, 2)).transpose(1, 2)", "h{k} = model.bn({a}.transpose(1, 2)).transpose(1, 2)",
    "h{k} = model.drop({a})", "h{k} = {a} + model.emb(ids)", "h{k} = model.wn({a})", "h{k} = model.sn({a})",
    "h{k} = AddOne.apply({a}.clone())", "h{k}, order{k} = SortVals.apply({a})", "h{k} = Cube.apply({a})",
    "h{k} = F.gelu({a}) * F.silu({b})", "h{k} = F.scaled_dot_product_attention({a}, {b}, {b}, is_causal=True)",
    "h{k} = torch.einsum('bsd,btd->bst', {a}, {b}).softmax(-1) @ {b}",
    "packed = nn.utils.rnn.pack_padded_sequence({a}, [5, 3], batch_first=True)\n"
    "h{k} = nn.utils.rnn.pad_packed_sequence(model.lstm(packed)[0], batch_first=True, total_length=5)[0]",
    "h{k} = {a}.masked_fill(ids.unsqueeze(-1) == 0, 0.0)", "h{k} = {a}.cumsum(1).flip(1)",
    "h{k} = F.softplus({a}).log1p()",
]
_ZOO_MODES = [
    "model.eval()\n{step}\nmodel.train()", "with torch.no_grad():\n    {step}", "with torch.inference_mode():\n    {step}",
]
_ZOO_ENDINGS = [
    "loss = h{k}.pow(2).mean()\nloss.backward()",
    "loss = h{k}.pow(2).mean()\nopt = torch.optim.Adam(model.parameters(), lr=0.01)\nloss.backward()\nopt.step()\n"
    "opt.zero_grad()\nmodel.lin(x).sum().backward()",
    "loss = h{k}.pow(2).mean()\nloss.backward(retain_graph=True)\nmodel.zero_grad()\nloss.backward()",
    "loss = h{k}.pow(2).mean()\nh{k}.add_(1)\nloss.backward()",
    "loss = h{k}.pow(2).mean()\ngs = torch.autograd.grad(loss, list(model.lin.parameters()) + [x], allow_unused=True)\n"
    "print([None if g is None else round(g.sum().item(), 4) for g in gs])",
    "loss = h{k}.sum()\n(g,) = torch.autograd.grad(loss, x, create_graph=True, allow_unused=True)\n"
    "if g is not None:\n    g.pow(2).sum().backward()",
]


def zoo_snippet(seed: int) -> str:
    """A module of common layers (RNNs, attention, conv, norms, dropout, embedding,
    parametrizations) and Functions with `mark_dirty`, `mark_non_differentiable` and
    `setup_context`, chained at random on a (2, 5, 4) sequence, sometimes in eval / no_grad
    / inference mode, then one ending."""
    r = random.Random(seed)
    lines = [_ZOO_PRELUDE.format(seed=seed, xg=r.random() < 0.7)]

    def wrap(step: str) -> str:
        if r.random() >= 0.15:
            return step
        mode = r.choice(_ZOO_MODES)
        return mode.format(step=step.replace("\n", "\n    ") if mode.startswith("with") else step)

    steps, k = _chain(r, _ZOO_STEPS, wrap, lambda k: f"h{k}.retain_grad()" if r.random() < 0.2 else None)
    lines += steps
    lines.append(r.choice(_ZOO_ENDINGS).format(k=k - 1))
    return "\n".join(lines) + "\n"


# ---- training mechanics: what happens between forward passes -------------------------

_MECH_PRELUDE = """import copy, io, torch, torch.nn as nn
torch.manual_seed({seed})
model = {model}
opt = {opt}
x = torch.randn(6, 3, requires_grad={xg})
y = torch.randn(6, 2)
out = model(x)
loss = ((out - y) ** 2).mean()
"""
_MECH_MODELS = [
    "nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))",
    "nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))",
    "nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.GELU(), nn.Dropout(0.2), nn.Linear(4, 2))",
]
_MECH_OPTS = [
    "torch.optim.SGD(model.parameters(), lr=0.1)", "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)",
    "torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)", "torch.optim.Adagrad(model.parameters(), lr=0.1)",
]
_MECH_ACTIONS = [
    "out = model(x)\nloss = ((out - y) ** 2).mean()",
    "loss.backward()", "loss.backward(retain_graph=True)", "loss.backward(inputs=[model[0].weight], retain_graph=True)",
    "torch.autograd.backward(loss, inputs=list(model.parameters()))",
    "opt.step()", "opt.zero_grad()", "opt.zero_grad(set_to_none=False)",
    "norm = nn.utils.clip_grad_norm_(model.parameters(), 0.5, foreach=False)", "if any(p.grad is not None for p in model.parameters()):\n    nn.utils.clip_grad_value_(model.parameters(), 0.01)",
    "model[0].requires_grad_(False)", "model[0].requires_grad_(True)", "model[0].weight.grad = None",
    "with torch.autocast('cpu', dtype=torch.bfloat16):\n    out = model(x)\nloss = out.float().pow(2).mean()",
    "model.load_state_dict(copy.deepcopy(model.state_dict()))",
    "buf = io.BytesIO()\ntorch.save(model.state_dict(), buf)\nbuf.seek(0)\nmodel.load_state_dict(torch.load(buf))",
    "hook = model[0].register_forward_hook(lambda m, i, o: o * 2)\nout = model(x)\nhook.remove()\nloss = out.sum()",
    "bh = model[-1].register_full_backward_hook(lambda m, gi, go: None)",
    "(g,) = torch.autograd.grad(loss, model[0].weight, retain_graph=True, grad_outputs=torch.ones_like(loss))",
    "with torch.no_grad():\n    model[0].weight.add_(0.01)", "model[0].weight.data.mul_(0.5)",
    "ema = [p.detach().clone() for p in model.parameters()]",
    "loss = loss + 0.01 * sum(p.pow(2).sum() for p in model.parameters())",
    "model.eval()", "model.train()", "x.grad = None", "frozen = copy.deepcopy(model)\nout = frozen(x)\nloss = out.mean()",
    "for p in model.parameters():\n    if p.grad is not None:\n        p.grad.mul_(0.5)",
    "loss = torch.nn.functional.huber_loss(model(x), y, reduction='sum')",
    "@torch.no_grad()\ndef evaluate():\n    return model(x).sum()\nscore = evaluate()",
]


def mechanics_snippet(seed: int) -> str:
    """A small model after its first forward, then 3-9 random training mechanics: backward
    variants (retain_graph, inputs=), optimizer steps and zero_grad, gradient clipping,
    freezing, autocast, state_dict round trips (deepcopy, torch.save), module hooks,
    writes to parameters (no_grad, .data), weight decay terms, eval/train switches."""
    r = random.Random(seed)
    lines = [_MECH_PRELUDE.format(seed=seed, model=r.choice(_MECH_MODELS), opt=r.choice(_MECH_OPTS), xg=r.random() < 0.5)]
    lines += [r.choice(_MECH_ACTIONS) for _ in range(r.randint(3, 9))]
    return "\n".join(lines) + "\n"


# ---- observers: snippet code that watches what autograd does -----------------------------

_OBS_PRELUDE = """import torch, torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.overrides import TorchFunctionMode
torch.manual_seed({seed})
log = []
class Counted(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        log.append(getattr(func, "__name__", "?"))
        return super().__torch_function__(func, types, args, kwargs or {{}})
class Ops(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        log.append(str(func))
        return func(*args, **(kwargs or {{}}))
class Calls(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        log.append(getattr(func, "__name__", "?"))
        return func(*args, **(kwargs or {{}}))
class Loud(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        log.append("Loud.forward")
        ctx.save_for_backward(x)
        return x.tanh()
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        log.append("Loud.backward")
        return g * (1 - x.tanh() ** 2)
def pack(t):
    log.append(("pack", tuple(t.shape)))
    return t
def unpack(t):
    log.append(("unpack", tuple(t.shape)))
    return t
net = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
x = torch.randn(4, 3, requires_grad=True)
"""
_OBS_WRAPPERS = [
    "with Ops():\n    {body}", "with Calls():\n    {body}", "with torch.autograd.graph.saved_tensors_hooks(pack, unpack):\n    {body}",
    "with torch.autograd.graph.save_on_cpu():\n    {body}", "{body}",
]
_OBS_STEPS = [
    "h = net(h)", "h = Loud.apply(h)", "h = h.as_subclass(Counted) * 2", "h = torch.utils.checkpoint.checkpoint(net, h, use_reentrant=False)",
    "h = h.relu().sum(1, keepdim=True) * h", "h = torch.nn.functional.softplus(h)", "h.register_hook(lambda g: log.append(('grad', tuple(g.shape))))",
    "net[0].register_forward_hook(lambda m, i, o: log.append('fwd hook'))", "h = h.exp().log()",
]
_OBS_ENDINGS = [
    "loss = h.sum()\nloss.backward()", "loss = h.pow(2).mean()\n(g,) = torch.autograd.grad(loss, x, create_graph=True)\ng.sum().backward()",
    "loss = h.sum()\nloss.backward(retain_graph=True)\nloss.backward()",
]


def observer_snippet(seed: int) -> str:
    """Snippet code that watches autograd (a counting Tensor subclass, a TorchDispatchMode and
    a TorchFunctionMode logging ops, saved-tensor pack/unpack hooks, a Function and hooks that
    log), around random steps; the log is printed, so the trace must not add to it."""
    r = random.Random(seed)
    lines = [_OBS_PRELUDE.format(seed=seed), "h = x"]
    for _ in range(r.randint(1, 4)):
        body = r.choice(_OBS_STEPS)
        lines.append(r.choice(_OBS_WRAPPERS).format(body=body) if "register" not in body else body)
    ending, wrapper = r.choice(_OBS_ENDINGS), r.choice(_OBS_WRAPPERS)
    lines.append(ending if wrapper == "{body}" else wrapper.format(body=ending.replace("\n", "\n    ")))
    lines.append("print(len(log))\nprint(log)")
    return "\n".join(lines) + "\n"


# ---- training loops under caps ---------------------------------------------------------

_LOOP_OPTIMIZERS = [
    "torch.optim.SGD(model.parameters(), lr=0.05)", "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",
    "torch.optim.Adam(model.parameters(), lr=0.01)", "torch.optim.AdamW(model.parameters(), lr=0.01)",
    "torch.optim.RMSprop(model.parameters(), lr=0.01)",
]
_LOOP_MODELS = [
    "nn.Linear(3, 1)", "nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))",
    "nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.2), nn.Linear(4, 1))",
]


def loop_program(seed: int) -> tuple[str, dict[str, int]]:
    """A training loop and the caps to trace it with (max_nodes, max_json_bytes)."""
    r = random.Random(seed)
    lines = [
        "import torch, torch.nn as nn", f"torch.manual_seed({seed})", f"model = {r.choice(_LOOP_MODELS)}",
        f"opt = {r.choice(_LOOP_OPTIMIZERS)}", "x = torch.randn(8, 3); y = torch.randn(8, 1)", "history = []",
        f"for step in range({r.choice([5, 30, 120, 400])}):",
    ]
    if r.random() < 0.5:
        lines.append("    opt.zero_grad()")
    lines.append("    out = model(x)")
    lines.append("    loss = ((out - y) ** 2).mean()" if r.random() < 0.7 else "    loss = nn.functional.smooth_l1_loss(out, y)")
    if r.random() < 0.3:
        lines.append("    history.append(loss)  # keeps every graph alive")
    elif r.random() < 0.3:
        lines.append("    history.append(loss.item())")
    lines.append(f"    loss.backward(retain_graph={r.random() < 0.2})")
    lines.append("    opt.step()")
    if r.random() < 0.3:
        lines.append("    opt.zero_grad(set_to_none=False)")
    if r.random() < 0.2:
        lines.append("    if step == 3:\n        print('step', step, round(loss.item(), 4))")
    lines.append("print(round(loss.item(), 5))")
    caps = {"max_nodes": r.choice([50, 300, 2000, 20000]), "max_json_bytes": r.choice([20_000, 100_000, 400_000, 8 << 20])}
    return "\n".join(lines) + "\n", caps
