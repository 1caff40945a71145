"""Errors explained: map an exception to a stable kind, its culprit, and a short lesson.

One table of kinds (`RULES`): a message pattern, a title, what happened and how to fix it.
Culprit resolution (which node or tensor to pin) is done by the tracer, which knows the
graph; this module only reads messages.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    title: str
    what: str
    fix: str
    types: tuple[str, ...] = ("RuntimeError",)


def _rule(kind: str, pattern: str, title: str, what: str, fix: str, types: tuple[str, ...] = ("RuntimeError",)) -> Rule:
    return Rule(kind, re.compile(pattern, re.S | re.I), title, what, fix, types)


_OUT_OF_MEMORY = (
    "Out of memory",
    "The snippet tried to allocate more memory than it is allowed.",
    "Use smaller tensors or fewer iterations that keep graphs alive.",
)

RULES: tuple[Rule, ...] = (
    _rule(
        "backward_twice",
        r"backward through the graph a second time",
        "Backward through a graph whose buffers were already freed",
        "A backward pass without retain_graph=True frees the tensors each node saved for it. "
        "This pass reached a node whose saved tensors an earlier pass had already freed, so it "
        "cannot compute that node's gradient again. A common cause is a tensor computed once "
        "(for example in __init__ or before a training loop) and reused by every iteration.",
        "Recompute the value inside forward() / inside the loop so each iteration builds a fresh "
        "graph. If two losses share part of a graph, add them and call backward once "
        "((loss1 + loss2).backward()). Only if you really need a second pass through the same "
        "graph, call the first backward with retain_graph=True.",
    ),
    # The same message as backward_twice; errors.describe picks this one when no backward
    # pass was running (`grad_fn._saved_result` or `ctx.saved_tensors` read after backward).
    _rule(
        "saved_freed_read",
        r"directly access saved tensors after they have already been freed",
        "Saved tensors read after backward freed them",
        "A backward pass without retain_graph=True frees the tensors each node saved as soon as "
        "it has used them. This line read a node's saved tensors (grad_fn._saved_... or a custom "
        "Function's ctx.saved_tensors) after a pass had freed them; no second backward ran.",
        "Read the saved values before calling backward, or pass retain_graph=True to the "
        "backward call if you need them afterwards.",
    ),
    _rule(
        "inplace_version",
        r"modified by an inplace operation",
        "A tensor saved for backward was modified in place",
        "Autograd saved a tensor to compute a gradient later, then an in-place operation changed "
        "it (its version counter moved past the version recorded at save time). The saved value "
        "is no longer the one the gradient needs, so backward refuses to run.",
        "Use the out-of-place form (y = y * 2 instead of y *= 2, x = x.relu() instead of "
        "x.relu_()), or clone() the tensor before modifying it.",
    ),
    _rule(
        "backward_hook_inplace",
        r"of BackwardHookFunction is a view and is being modified inplace",
        "An in-place layer after a module with a full backward hook",
        "register_full_backward_hook wraps the module's outputs in a custom autograd Function so "
        "the hook can see their gradients. The next layer then modified that output in place "
        "(nn.ReLU(inplace=True), x += ...), which autograd does not allow for a custom "
        "Function's output.",
        "Use the out-of-place layer (nn.ReLU() instead of nn.ReLU(inplace=True)), or a tensor "
        "hook (output.register_hook) instead of the module's full backward hook.",
    ),
    _rule(
        "deepcopy_nonleaf",
        r"Only Tensors created explicitly by the user \(graph leaves\) support the deepcopy protocol",
        "Only leaf tensors can be deep-copied",
        "copy.deepcopy met a tensor that is the output of operations (it has a grad_fn), for "
        "example an activation a module kept as an attribute in forward(); autograd cannot copy "
        "a tensor together with the graph that made it.",
        "Keep a detached copy instead (self.last = out.detach()), delete the attribute before "
        "copying, or copy only the state_dict.",
    ),
    _rule(
        "nonfinite_grad_norm",
        r"for gradients from `parameters` is non-finite",
        "A gradient is inf or NaN",
        "clip_grad_norm_(..., error_if_nonfinite=True) found an infinite or NaN gradient. It "
        "usually comes from the forward pass: a log or a division at 0, a sqrt at 0 (its "
        "derivative is infinite there), or values that overflowed.",
        "Find where the gradient becomes inf or NaN (torch.autograd.set_detect_anomaly(True) "
        "names the operation), and keep inputs away from the bad points (log(x + 1e-8), "
        "clamp(min=...)).",
    ),
    _rule(
        "batchnorm_batch_of_one",
        r"Expected more than 1 value per channel when training",
        "Batch norm needs more than one value per channel in training mode",
        "In training mode BatchNorm normalizes with the statistics of the batch: with a batch "
        "of one sample (and no other positions), the variance is undefined.",
        "Use a batch of at least two samples, or switch the model to evaluation mode "
        "(model.eval()) to use the running statistics, as for a single prediction.",
        types=("ValueError",),
    ),
    # The view rule goes first: its message contains the leaf rule's.
    _rule(
        "inplace_leaf_view",
        r"view of a leaf Variable that requires grad is being used in an in-place operation",
        "In-place operation on a view of a leaf that requires grad",
        "Slicing or indexing a leaf gives a view that shares its memory; writing into it would "
        "modify the leaf in place, which autograd does not allow for leaves that require grad.",
        "Do the assignment under torch.no_grad(), or on a clone (y = x.clone(); y[0] = 0).",
    ),
    _rule(
        "inplace_leaf",
        # "has been used": the wording when a custom Function marks a leaf dirty (mark_dirty)
        r"leaf Variable that requires grad (is being|has been) used in an in-place operation",
        "In-place operation on a leaf tensor that requires grad",
        "The tensor is a leaf (created by you, requires_grad=True); autograd accumulates its "
        "gradient and cannot record an in-place change to it as part of the graph.",
        "Update it inside a with torch.no_grad(): block (as optimizers do), or modify x.data, or "
        "build a new tensor out of place.",
    ),
    _rule(
        "unused_input",
        r"appears to not have been used in the graph|appear to not have been used in the graph",
        "A differentiated tensor was not used to compute the output",
        "torch.autograd.grad was asked for the gradient with respect to a tensor that the "
        "output does not depend on (no path in the graph leads from the output to it).",
        "Check that the output really uses this tensor, or pass allow_unused=True (its "
        "gradient is then None) or materialize_grads=True (zeros).",
    ),
    _rule(
        "complex_backward",
        r"grad can be implicitly created only for real scalar outputs but got torch\.complex",
        "backward() on a complex output needs a gradient",
        "backward() without arguments starts from d out/d out = 1, which is only defined for a "
        "real number. This output is complex, so autograd does not know which real quantity "
        "you want to differentiate.",
        "Differentiate a real value made from it (out.abs().sum().backward(), "
        "out.real.sum().backward()), or pass gradient=torch.ones_like(out) to say how to weight it.",
    ),
    _rule(
        "func_grad_nonscalar",
        r"Expected f\(\*args\) to return a scalar Tensor",
        "torch.func.grad needs a function that returns one number",
        "torch.func.grad(f) differentiates a function with a single-number output, like "
        "backward() without arguments. The function returned a tensor with several elements.",
        "Return a reduction (.sum(), .mean()) from the function, or use torch.func.jacrev / "
        "torch.func.vjp for a function with several outputs.",
    ),
    _rule(
        "func_grad_aux",
        r"Expected f\(\*args\) to return a Tensor, got <class 'tuple'>",
        "torch.func.grad needs the function to return one tensor",
        "torch.func.grad(f) differentiates the single tensor f returns. This function returned a "
        "tuple (the loss and something else, often a value to look at).",
        "Return the loss alone, or keep the tuple and say the rest is extra: "
        "grad(f, has_aux=True)(x) returns (gradient, the rest).",
    ),
    _rule(
        "vmap_item",
        r"vmap: It looks like you're calling \.item\(\) on a Tensor",
        "vmap cannot turn a batched value into a Python number",
        "Inside vmap each tensor stands for a whole batch of values, one per example, so .item() "
        "(one Python number) has no single answer.",
        "Keep the value a tensor (drop .item(), float(), int()): vmap then carries it through "
        "the rest of the function.",
    ),
    _rule(
        "vmap_control_flow",
        r"vmap: It looks like you're attempting to use a Tensor in some data-dependent control flow",
        "vmap cannot branch on a batched value",
        "Inside vmap each tensor stands for a whole batch of values, so `if t > 0:` would have a "
        "different answer for each example; Python's if can take only one branch.",
        "Compute both branches and pick per element: torch.where(x.sum() > 0, x, -x), instead of "
        "an if / else on a tensor.",
    ),
    _rule(
        "vmap_size_mismatch",
        r"vmap: Expected all tensors to have the same size in the mapped dimension",
        "vmap's inputs disagree on the batch size",
        "vmap maps over one dimension of every input (dim 0 unless in_dims says otherwise), and "
        "each input must have the same number of examples along it.",
        "Give every mapped input the same size along the mapped dimension, or pass in_dims with "
        "None for an input that is shared by every example (vmap(f, in_dims=(0, None))).",
        types=("ValueError",),
    ),
    _rule(
        "vmap_batchnorm",
        r"Batch norm got a batched tensor as input while the running_mean or running_var",
        "Batch norm's running statistics cannot be updated under vmap",
        "In training mode BatchNorm updates its running mean and variance in place; under vmap "
        "each example would write its own statistics into the same buffers.",
        "Use the module in eval mode (model.eval()) or build it with track_running_stats=False; "
        "torch.func.replace_all_batch_norm_modules_(model) does the latter for a whole model.",
    ),
    # hessian's own message: backward()'s `gradient` does not apply to it.
    _rule(
        "nonscalar_backward",
        r"returned by the function given to hessian should contain a single element",
        "hessian needs a function that returns one number",
        "torch.autograd.functional.hessian(f, x) computes the second derivatives of a function "
        "whose result is a single number (a loss). This function returned a tensor with several "
        "elements, whose second derivatives form one matrix per element, not a Hessian.",
        "Return one number from the function: hessian(lambda t: f(t).sum(), x). For the second "
        "derivatives of every element, take the jacobian of the jacobian: "
        "jacobian(lambda t: jacobian(f, t, create_graph=True), x), or torch.func.hessian(f)(x), "
        "which accepts a function with several outputs.",
    ),
    _rule(
        "nonscalar_backward",
        r"grad can be implicitly created only for (real )?scalar outputs",
        "backward() on a non-scalar tensor needs a gradient",
        "backward() without arguments assumes the output is a single number (d out/d out = 1). "
        "This output has several elements, so autograd does not know how to weight them.",
        "Reduce it first (out.sum().backward(), out.mean().backward()) or pass the vector of "
        "weights: out.backward(gradient=torch.ones_like(out)).",
    ),
    # torch.autograd.functional's strict=True checks: their own lesson (before no_grad_fn, which
    # one of their messages resembles).
    _rule(
        "functional_strict",
        r"in a differentiable manner from the input when running in strict mode|"
        r"is not allowed in strict mode",
        "strict=True found an output that does not depend on the input",
        "torch.autograd.functional's jacobian, hessian, vjp, jvp, hvp and vhp with strict=True "
        "check that what they differentiate is computed from the inputs through differentiable "
        "operations. Here it is not: a constant (torch.ones(2)), a value cut with detach() / "
        ".item() / NumPy, or, for hessian, a function whose first derivative does not depend on "
        "the input (a linear one). Its derivative is zero everywhere; strict mode refuses rather "
        "than return zeros. (Making the input require grad does not change that.)",
        "Compute the result from the input with torch operations (lambda x: x ** 2, not a "
        "constant or x.detach()). If a zero derivative is what you expect, drop strict=True "
        "(strict=False is the default): the result then holds zeros for it.",
    ),
    _rule(
        "no_grad_fn",
        r"does not require grad and does not have a grad_fn",
        "The output is not connected to any tensor that requires grad",
        "The tensor you called backward on has no grad_fn: it was computed from tensors that do "
        "not require grad, or under torch.no_grad()/inference_mode, or after detach()/.data.",
        "Create the inputs with requires_grad=True (or call x.requires_grad_()), and compute the "
        "output outside torch.no_grad() and without detach().",
    ),
    _rule(
        "custom_function_grads",
        r"returned an incorrect number of gradients",
        "A custom autograd.Function returned the wrong number of gradients",
        "backward() of a custom Function must return one gradient per input of forward() "
        "(None for inputs that need none).",
        "Return a tuple with exactly as many entries as forward() took arguments after ctx.",
    ),
    _rule(
        "custom_function_shape",
        r"Function \w+ returned an invalid gradient at index",
        "A custom autograd.Function returned a gradient of the wrong shape or type",
        "Each gradient backward() returns must match the shape (and dtype) of the matching input.",
        "Check the gradient formula in backward(); reshape or reduce it to the input's shape.",
    ),
    _rule(
        "inference_tensor_saved",
        r"Inference tensors cannot be saved for backward",
        "A tensor created in inference_mode was used in autograd",
        "Tensors made under torch.inference_mode() carry no version counter, so autograd cannot "
        "save them for backward.",
        "Create it outside inference_mode, use torch.no_grad() instead, or clone() it outside "
        "inference_mode before using it in a graph.",
    ),
    _rule(
        "inference_inplace",
        r"Inplace update to inference tensor outside InferenceMode",
        "In-place update of an inference tensor outside inference_mode",
        "Tensors created under inference_mode cannot be modified in place later.",
        "clone() the tensor first, or make it outside inference_mode.",
    ),
    _rule(
        "requires_grad_nonleaf",
        r"you can only change requires_grad flags of leaf variables",
        "requires_grad can only be changed on leaf tensors",
        "This tensor was computed by an operation (it has a grad_fn), so whether it requires grad "
        "is decided by its inputs, not set by hand.",
        "To stop gradients, use y = y.detach(); to get a gradient for it, call y.retain_grad().",
    ),
    _rule(
        "requires_grad_dtype",
        r"only Tensors of floating point( and complex)? dtype can require gradients|"
        r"data set to a tensor that requires gradients must be floating point",
        "Only floating point (and complex) tensors can require gradients",
        "Gradients are not defined for integer or boolean tensors.",
        "Create it as a float tensor: torch.tensor([1., 2.], requires_grad=True) or "
        "x.float().requires_grad_().",
    ),
    # Before view_inplace, whose pattern also matches this wording.
    _rule(
        "saved_view_inplace",
        r"is a view and its base or another view of its base has been modified inplace",
        "A view went stale: its base was changed in place after the view was made",
        "This tensor (or one autograd saved for backward) is one of several views a single "
        "operation returned (split, chunk, unbind, or a view of one of those). The tensor they "
        "share memory with was then changed in place, by an in-place op, a write under "
        "torch.no_grad() or an optimizer step. Autograd cannot rebuild how such a view derives "
        "from its changed base, so it refuses to use the view again. A common cause is a view "
        "computed once (in __init__ or before a training loop) that outlives a parameter update.",
        "Make the views after the in-place change: compute the split/chunk inside forward() (or "
        "inside the loop), or clone() the views you need to keep before changing their base.",
    ),
    # A custom Function whose forward() returned its input (or a view of it): PyTorch's
    # message says so; the general view lesson (several views, no_grad) does not apply.
    _rule(
        "view_inplace",
        r"created inside a custom Function \(or because an input was returned as-is\)",
        "In-place change of a custom Function's output that is its input",
        "The custom autograd.Function's forward() returned its input as-is (or a view of it, "
        "such as x.view_as(x)), so its output shares memory with that input and autograd treats "
        "it as a view. Changing it in place would make autograd rebuild the view's gradient and "
        "bypass the Function's own backward(), giving wrong gradients, so PyTorch forbids it.",
        "Return a new tensor from forward(): return x.clone() instead of return x (a view such "
        "as x.view_as(x) is refused the same way). Or modify a copy of the output: "
        "c = c.clone(), then c.mul_(2).",
    ),
    _rule(
        "view_inplace",
        r"is a view and (its base or another view of its base )?(has been|is being) modified inplace",
        "In-place modification of a view that autograd cannot handle",
        "This view was produced by an operation that returns several views (or in no_grad mode); "
        "changing it in place would leave autograd with a wrong graph.",
        "clone() the view before modifying it, or use an out-of-place operation.",
    ),
    _rule(
        "view_no_grad_inplace",
        r"created in no_grad mode and (is being|its base or another view of its base has been) "
        r"modified inplace with grad mode enabled",
        "In-place change, with grad on, of a view made under no_grad",
        "This view was created while gradient recording was off (torch.no_grad), so autograd "
        "has no record of how it relates to its base. Changing it in place with recording back "
        "on is ambiguous (should the change reach the base's gradient or not?), so autograd "
        "refuses.",
        "Make the view and change it in the same mode: both under torch.no_grad() (a parameter "
        "update, say) or both with grad on; or clone() the view before changing it.",
    ),
    _rule(
        "retain_grad_no_grad",
        r"can't retain_grad on Tensor that has requires_grad=False",
        "retain_grad() on a tensor that does not require grad",
        "retain_grad() asks autograd to keep the .grad of a non-leaf tensor during backward. "
        "This tensor does not require grad (nothing it was computed from requires grad, or it "
        "was made under torch.no_grad() or detached), so it is in no graph and will never "
        "receive a gradient.",
        "Call retain_grad() on a tensor that is part of the graph (check t.requires_grad): "
        "compute it from tensors with requires_grad=True, outside torch.no_grad().",
    ),
    _rule(
        "input_no_grad",
        r"One of the differentiated Tensors does not require grad",
        "Asked for the gradient of a tensor that does not require grad",
        "torch.autograd.grad (or backward(inputs=...)) was given, as an input to differentiate "
        "with respect to, a tensor with requires_grad=False (never set, or switched off with "
        "requires_grad_(False) to freeze it): autograd does not track it, so there is no "
        "gradient to return.",
        "Create that tensor with requires_grad=True (or call t.requires_grad_() before using it), "
        "or leave it out of the inputs.",
    ),
    _rule(
        "numpy_requires_grad",
        r"Can't call numpy\(\) on Tensor that requires grad",
        "numpy() on a tensor that is part of the graph",
        "NumPy arrays live outside autograd: converting a tensor that requires grad would "
        "silently cut it out of the graph, so PyTorch asks you to do that explicitly.",
        "Use t.detach().numpy() (or t.detach().cpu().numpy()); to plot or print values, "
        "t.tolist() or t.item() work too. If the value is part of a loss, stay in torch instead "
        "(torch.sqrt(torch.mean((p - t) ** 2)) rather than np.sqrt(np.mean(...))): a NumPy result "
        "has no graph, so detaching would make the error go away and the model stop learning.",
    ),
    _rule(
        "hook_no_grad",
        r"cannot register a hook on a tensor that doesn't require gradient",
        "A gradient hook on a tensor that does not require grad",
        "Tensor.register_hook runs when the tensor's gradient is computed; this tensor does not "
        "require grad, so no gradient will ever be computed for it.",
        "Register the hook on a tensor that requires grad (check t.requires_grad), or create "
        "it with requires_grad=True first.",
    ),
    _rule(
        "anomaly_nan",
        r"Function '\w+' returned nan values in its \d+th output",
        "A backward function produced NaN (found by anomaly detection)",
        "With anomaly detection on, autograd checks every gradient a node computes. This node's "
        "gradient contained NaN, usually 0 * inf from its forward op at a point where the "
        "derivative is infinite or undefined: sqrt or log at 0, a division by zero, pow with "
        "a negative base.",
        "Look at the pinned node's forward line and keep its input away from that point "
        "(x.clamp(min=1e-12), sqrt(x + eps)). Masking with torch.where after the unsafe op is "
        "not enough: the gradient of the unused branch is still computed (0 * inf = NaN), so "
        "mask the input before the op.",
    ),
    _rule(
        "class_dim_position",
        # (N, T, C) scores with an (N, T) target: same number of dims, the wrong one for classes.
        r"^Expected target size \[\d+, \d+\], got \[\d+, \d+\]",
        "cross_entropy reads the classes from dimension 1",
        "For an input with more than two dimensions, cross_entropy and nll_loss expect the class "
        "scores in dimension 1, (N, C, d1, ...), with a target of shape (N, d1, ...). A sequence "
        "model's output is usually (N, T, C), classes last, so the loss took T for the classes "
        "and found a target that does not fit.",
        "Move the classes to dimension 1: F.cross_entropy(logits.permute(0, 2, 1), target), or "
        "flatten both: F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1)).",
    ),
    _rule(
        "plateau_needs_metric",
        r"ReduceLROnPlateau\.step\(\) missing 1 required positional argument: 'metrics'",
        "ReduceLROnPlateau.step() needs the value it watches",
        "Unlike the other schedulers, ReduceLROnPlateau lowers the learning rate when a measured "
        "value (usually the validation loss) stops improving, so each step() call must be given "
        "that value.",
        "Pass it once per epoch, after evaluating: scheduler.step(val_loss) (a number or a 0-d "
        "tensor; val_loss.item() works too).",
        types=("TypeError",),
    ),
    _rule(
        "attention_mask_shape",
        r"The shape of the [23]D attn_mask is|Expected key_padded_mask\.shape\[0\] to be",
        "An attention mask of the wrong shape",
        "nn.MultiheadAttention wants attn_mask of shape (L, S), target length by source length, "
        "or (N * num_heads, L, S) with one mask per batch element and head, and key_padding_mask "
        "of shape (N, S). It reads the sizes from its inputs, and without batch_first=True its "
        "inputs are (L, N, E): a (batch, seq, embed) tensor then has its batch size taken as the "
        "sequence length, so a mask made for the real sequence no longer fits. The message gives "
        "the shape it expected.",
        "If your inputs are (batch, seq, embed), build the layer with batch_first=True. A 2D mask "
        "is (L, S) for every batch element and head; for a per-example mask of shape (N, L, S), "
        "repeat it per head: mask.repeat_interleave(num_heads, dim=0). key_padding_mask is "
        "(N, S): True marks padding positions to ignore.",
        types=("RuntimeError", "AssertionError"),
    ),
    _rule(
        "attention_embed_dim",
        r"was expecting embedding dimension of \d+, but got \d+|embed_dim must be divisible by num_heads",
        "The attention layer's embedding size does not fit",
        "nn.MultiheadAttention(embed_dim, num_heads) needs inputs whose last dimension is "
        "embed_dim (it checks the query's), and splits embed_dim into num_heads equal parts, so "
        "embed_dim must be a multiple of num_heads. (Without batch_first=True the inputs are "
        "(seq, batch, embed); the embedding is the last dimension either way.)",
        "Make the inputs' last dimension embed_dim (project them first with nn.Linear(d_in, "
        "embed_dim)), pass kdim= / vdim= if keys and values have other sizes, and pick num_heads "
        "so that embed_dim % num_heads == 0.",
        types=("AssertionError",),
    ),
    _rule(
        "shape_mismatch",
        r"shapes cannot be multiplied|size of tensor a \(\d+\) must match|must match the size|"
        r"is invalid for input of size|Sizes of tensors must match|Given groups=\d+, weight of size|"
        r"stack expects each tensor to be equal size|must match the existing size|inconsistent tensor size|"
        r"Size does not match at dimension \d+ expected index|"
        r"Expected input batch_size|target tensor expected|Expected \d+D \(unbatched\) or \d+D|"
        r"Expected target size|Target size \(.*\) must be the same as input size|"
        r"Expected hidden\[?\d?\]? size|must be equal to input_size|^Size mismatch between tensors|"
        r"hx should also be \d-D|size mismatch, got input \(",
        "Tensor shapes do not fit together",
        "The operation received tensors whose shapes are incompatible. (Not an autograd error: "
        "the graph up to here is fine.)",
        "Print the shapes just before this line (print(x.shape)) and reshape, transpose or fix "
        "the layer sizes: nn.Linear(in_features, out) needs x.shape[-1] == in_features, "
        "nn.Conv2d(in_channels, ...) needs input of shape (N, in_channels, H, W), view/reshape "
        "must keep the number of elements, and class targets of cross_entropy are one index per "
        "sample, shape (N,).",
        types=("RuntimeError", "ValueError", "AssertionError"),
    ),
    _rule(
        "detach_view_inplace",
        r"Can't detach views in-place",
        "detach_() on a view",
        "detach_() cuts a tensor out of the graph in place. This tensor is a view (a slice, "
        "transpose, reshape, ... of another tensor) and shares its base's place in the graph, "
        "so it cannot be cut out on its own.",
        "Use t = t.detach() (a new tensor sharing the data, outside the graph), or detach the "
        "base tensor instead.",
    ),
    _rule(
        "once_differentiable",
        r"differentiate twice a function that was marked with @once_differentiable",
        "A custom Function marked @once_differentiable was differentiated twice",
        "Its backward() is decorated with @once_differentiable: it runs without recording a "
        "graph, so its result has no grad_fn to differentiate again. A second derivative "
        "(create_graph=True, then backward or autograd.grad through that gradient) needs one.",
        "Remove @once_differentiable and write backward() with differentiable torch operations, "
        "or do not ask for a second derivative through this Function.",
    ),
    _rule(
        "gradcheck_mismatch",
        r"Jacobian mismatch|Backward is not reentrant|Gradients failed to compare equal",
        "gradcheck: backward() does not match the numerical gradient",
        "torch.autograd.gradcheck compared the gradients backward() computes (analytical) with "
        "finite differences of forward() (numerical), and they differ: the derivative formula "
        "in backward() is wrong for these inputs.",
        "Fix the formula in backward(): the numerical matrix in the message is what it should "
        "give. Check with double-precision inputs (dtype=torch.float64), as gradcheck expects.",
        types=("GradcheckError",),
    ),
    _rule(
        "double_backward_unsupported",
        r"derivative for \S*backward\S* is not implemented",  # the op's own backward
        "This operation cannot be differentiated twice",
        "A backward pass had to differentiate through the backward of an operation that "
        "PyTorch can only differentiate once (its own backward has no derivative). That happens "
        "with create_graph=True, or when differentiating a gradient.",
        "Drop create_graph=True if you do not need a second derivative; otherwise replace the "
        "operation with one built from differentiable pieces (for attention: compute "
        "softmax(q @ k.T / sqrt(d)) @ v by hand instead of scaled_dot_product_attention).",
    ),
    _rule(
        "inplace_broadcast",
        r"output with shape \[.*?\] doesn't match the broadcast shape",
        "An in-place operation cannot grow its tensor",
        "An in-place operation (+=, add_, mul_, ...) writes its result into the tensor's own "
        "memory, so the result must keep that tensor's shape. Here broadcasting with the other "
        "operand would make it bigger.",
        "Use the out-of-place form, which makes a new tensor of the broadcast shape (a = a + b), "
        "or give the other operand a shape that fits (b.sum(0), b[0], ...).",
    ),
    _rule(
        "saved_detached_inplace",
        r"Trying to use a saved tensor that has been detached in-place",
        "A tensor saved for backward was detached in place",
        "detach_() cut this tensor out of the graph in place, after an operation had saved it "
        "for backward. Backward needs it in the graph, the way it was when it was saved.",
        "Use the out-of-place y = b.detach() (a new tensor; b stays in the graph), or call "
        "detach_() only after backward has run.",
    ),
    _rule(
        "checkpoint_reentrant",
        r"When use_reentrant=True, torch\.utils\.checkpoint is incompatible with \.grad\(\)",
        "Reentrant checkpointing supports backward() only",
        "checkpoint(..., use_reentrant=True) recomputes its segment inside a backward() of its "
        "own, which cannot serve torch.autograd.grad or backward(inputs=...): those ask for the "
        "gradients of particular tensors only.",
        "Pass use_reentrant=False to checkpoint (the recommended mode), or call loss.backward() "
        "without inputs=.",
    ),
    _rule(
        "derivative_not_implemented",
        r"derivative for .+ is not implemented",
        "This operation has no gradient formula",
        "PyTorch can run this operation forward, but has no formula for its derivative with "
        "respect to (at least one of) the inputs that require grad, so backward cannot pass "
        "through it.",
        "Detach that input if no gradient is needed through it (x.detach()), or express the "
        "computation with operations that have derivatives, or write the gradient yourself in "
        "a custom torch.autograd.Function.",
    ),
    _rule(
        "gradient_shape",
        r"Mismatch in shape: grad_output\[\d+\] has a shape of",
        "The gradient given to backward has the wrong shape",
        "backward(gradient) and autograd.grad(outputs, inputs, grad_outputs) start from the "
        "gradient you give for each output, so it must have that output's shape: it is the "
        "vector in the vector-Jacobian product, dL/d(output) for some L.",
        "Pass a gradient shaped like the output: y.backward(torch.ones_like(y)) (the same as "
        "y.sum().backward()), or any weights of y.shape.",
    ),
    _rule(
        "legacy_function",
        r"Legacy autograd function with non-static forward method",
        "An old-style autograd.Function",
        "Custom Functions used to be instances with forward(self, ...) and backward(self, ...), "
        "called as MyFn()(x). That style was removed: forward and backward are now "
        "@staticmethods taking a context object, and the Function is used through apply.",
        "Write @staticmethod def forward(ctx, x): ... and @staticmethod def backward(ctx, "
        "grad_out): ..., keep what backward needs with ctx.save_for_backward(x), and call "
        "MyFn.apply(x).",
    ),
    _rule(
        "save_for_backward_type",
        r"save_for_backward can only save variables",
        "save_for_backward takes tensors only",
        "ctx.save_for_backward is for tensors (so autograd can check their versions and free "
        "them after backward); a number or other Python object was passed to it.",
        "Keep other values as attributes of the context: ctx.scale = 3 in forward, read "
        "ctx.scale in backward.",
        types=("TypeError",),
    ),
    _rule(
        "view_noncontiguous",
        r"view size is not compatible with input tensor's size and stride",
        "view() on a tensor whose memory layout does not allow it",
        "view() never copies: it only reinterprets the existing memory. After transpose(), "
        "permute(), expand() or some slices, the elements are no longer laid out in the order "
        "the new shape needs, so no view can express it. (Not an autograd error: the graph is "
        "fine.)",
        "Use reshape() (copies only when it must), or call .contiguous() before .view().",
    ),
    _rule(
        "inplace_overlap",
        r"more than one element of the written-to tensor refers to a single memory location",
        "In-place write into a tensor whose elements share memory",
        "The tensor written in place is an expand()ed (or otherwise broadcast) view: several of "
        "its elements are the same memory cell, so an in-place result is ambiguous.",
        "clone() the tensor before writing into it, or use the out-of-place operation.",
    ),
    _rule(
        "grad_is_none",
        r"'NoneType' object has no attribute|unsupported operand type\(s\) for .*'NoneType'",
        "A value is None (often a .grad that was never populated)",
        ".grad stays None for tensors that do not require grad, for non-leaf tensors (unless "
        "retain_grad() was called), and before any backward pass reached them. A function that "
        "ends without return gives None too: a forward() that forgot to return its result.",
        "Check requires_grad / is_leaf of the tensor, call retain_grad() on intermediates, and "
        "run backward() first; check that forward() (or your helper) returns its result.",
        types=("AttributeError", "TypeError"),
    ),
    _rule(
        "backward_on_number",
        r"'(float|int|bool|complex)' object has no attribute '(backward|grad|grad_fn|retain_grad|requires_grad_)'",
        "backward() on a Python number, not a tensor",
        ".item(), float() and Python's own arithmetic on such results give plain Python "
        "numbers. A number has no autograd graph (no grad_fn), so there is nothing to run "
        "backward through: the link to the tensors that made it was cut at the conversion.",
        "Keep the tensor: call loss.backward() on the tensor itself and use loss.item() only "
        "to print or log. To add up losses, add tensors (total = total + loss), not their "
        ".item() values.",
        types=("AttributeError",),
    ),
    _rule(
        "optimizer_nonleaf",
        r"can't optimize a non-leaf Tensor",
        "An optimizer was given a non-leaf tensor",
        "Optimizers update leaf tensors in place. A tensor made by an operation on a tensor "
        "that requires grad, such as torch.randn(3, requires_grad=True) * 0.01, is not a leaf: "
        "it has a grad_fn, and backward fills .grad only on leaves, so an optimizer would "
        "have no gradient to update it with (the leaf it was made from is another tensor).",
        "Make the scaled tensor the leaf: w = (torch.randn(3) * 0.01).requires_grad_(), or "
        "nn.Parameter(torch.randn(3) * 0.01) inside a module.",
        types=("ValueError",),
    ),
    _rule(
        "empty_parameters",
        r"optimizer got an empty parameter list",
        "The optimizer found no parameters",
        "model.parameters() was empty. An nn.Module registers parameters only when they are "
        "assigned as attributes: an nn.Parameter, or a layer such as nn.Linear. Tensors and "
        "layers kept in a plain Python list or dict are invisible to it, and so are plain "
        "tensors (even with requires_grad=True).",
        "Assign layers as attributes (self.fc = nn.Linear(...)), keep lists of layers in "
        "nn.ModuleList and of tensors in nn.ParameterList, and wrap tensors in nn.Parameter.",
        types=("ValueError",),
    ),
    _rule(
        "optimizer_params_type",
        r"params argument given to the optimizer should be an iterable",
        "The optimizer needs an iterable of tensors",
        "An optimizer takes its parameters as an iterable: model.parameters(), or a list of "
        "tensors. A single tensor was passed, and an optimizer does not iterate over its "
        "elements (each step updates whole tensors in place).",
        "Wrap the tensor in a list: torch.optim.SGD([w], lr=0.1), or pass model.parameters() "
        "for a module.",
        types=("TypeError",),
    ),
    _rule(
        "grad_assign_mismatch",
        r"attempting to assign a gradient",
        "The assigned .grad does not match its tensor",
        "Assigning to .grad by hand is allowed only with a tensor of the same shape, dtype and "
        "device as the tensor itself, since an optimizer later updates the tensor with it, "
        "element for element.",
        "Assign a gradient built from the tensor: w.grad = torch.zeros_like(w), or reshape or "
        "convert it (g.reshape(w.shape).to(w.dtype)). To clear it, use w.grad = None.",
    ),
    _rule(
        "code_too_nested",
        r"maximum recursion depth exceeded during (compilation|ast construction)",
        "The code is nested too deeply to compile",
        "Python compiles an expression by descending into it, and this one (a very long chain "
        "such as 1 + 1 + ... with thousands of terms, or brackets nested thousands deep) goes "
        "deeper than its limit. Nothing ran.",
        "Build long sums and products in a loop (total = 0; for v in values: total = total + v) "
        "or with sum(...) / torch.stack(...).sum().",
        types=("RecursionError",),
    ),
    _rule(
        "recursion_depth",
        r"maximum recursion depth exceeded",
        "A function called itself too many times",
        "Python stops at about 1,000 nested calls. Usually a function calls itself with no case "
        "that ends the recursion, or a module's forward() calls the module itself "
        "(self(x) or model(x) inside forward) instead of its layers.",
        "Give the recursion a base case, or call the layers (self.fc(x)) inside forward(); for "
        "deep computations, use a loop instead of recursion.",
        types=("RecursionError",),
    ),
    _rule(
        "hook_changed_grad",
        r"hook '.*' has changed the (size|type) of value",
        "A gradient hook returned a gradient of another shape or dtype",
        "A hook registered with register_hook may replace the gradient flowing through its "
        "tensor, but the replacement must have the same shape and dtype as the tensor: the "
        "engine passes it on to the node that produced the tensor, which expects exactly that.",
        "Return a tensor shaped like the gradient it received (g * 0.5, g.clamp(-1, 1)), or "
        "None to leave the gradient unchanged.",
    ),
    _rule(
        "hook_return_type",
        r"but hook returned '\w+'",
        "A gradient hook returned something that is not a tensor",
        "A hook registered with register_hook is called with the gradient and may return a "
        "replacement; whatever it returns other than None is used as the gradient, so it must "
        "be a tensor.",
        "Return a tensor (g * 2, g.clamp(-1, 1)) or None; to only look at the gradient, print "
        "it and return nothing.",
        types=("TypeError", "RuntimeError"),
    ),
    _rule(
        "custom_backward_arguments",
        r"backward\(\) (takes \d+ positional arguments? but \d+ (was|were) given|"
        r"missing \d+ required positional arguments?)",
        "A custom Function's backward() takes one gradient per output",
        "The engine calls backward(ctx, *grad_outputs) with one gradient for each tensor "
        "forward() returned: a forward that returns two tensors gets backward(ctx, g1, g2).",
        "Give backward one parameter per output of forward (after ctx), or return a single "
        "tensor from forward.",
        types=("TypeError",),
    ),
    _rule(
        "inference_requires_grad",
        r"requires_grad=True on inference tensor outside InferenceMode",
        "A tensor made under inference_mode cannot join autograd later",
        "Tensors created inside torch.inference_mode() are inference tensors: autograd keeps "
        "no version counter or history for them, so they can never require grad, not even "
        "after the block ends.",
        "Create the tensor outside inference_mode, or make a normal copy that can require "
        "grad: t = t.clone().requires_grad_(). Use torch.no_grad() instead of inference_mode "
        "for tensors you may differentiate later.",
    ),
    _rule(
        "parameter_expected",
        r"cannot assign '.*' as parameter '.*' \(torch\.nn\.Parameter or None expected\)",
        "A plain tensor assigned to a parameter's attribute",
        "This attribute of the module is a registered nn.Parameter, and a module accepts only "
        "an nn.Parameter (or None) there: a plain tensor, even one computed from other "
        "parameters, would not be a parameter (the optimizer and model.parameters() would "
        "not see it).",
        "To set new values, write them in place: with torch.no_grad(): m.weight.copy_(new). "
        "To give the module a new parameter, wrap it: m.weight = nn.Parameter(new). A weight "
        "derived from other parameters must be recomputed in forward() on every call.",
        types=("TypeError",),
    ),
    _rule(
        "module_has_no_grad",
        r"'(?!NoneType)\w+' object has no attribute 'grad'",
        "Only tensors have .grad",
        "A module (or another object) was asked for .grad. Gradients live on the tensors that "
        "require grad: the module's parameters.",
        "Read the parameters' gradients: model.fc.weight.grad, or "
        "for name, p in model.named_parameters(): print(name, p.grad).",
        types=("AttributeError",),
    ),
    _rule(
        "tensor_not_callable",
        r"'(Tensor|torch\.Size)' object is not callable",
        "A tensor was called like a function",
        "Parentheses after a tensor call it, and tensors cannot be called. Often the name of a "
        "model or layer was reused for its output (model = model(x), then model(x) again), or "
        "an attribute was called: x.grad() instead of x.grad, x.shape() instead of x.shape "
        "(x.size() is the method).",
        "Give outputs their own names (out = model(x)) and use attributes without "
        "parentheses: x.shape, x.grad, x.T.",
        types=("TypeError",),
    ),
    _rule(
        "forward_arguments",
        r"forward\(\) (takes \d+ positional arguments? but \d+ (was|were) given|"
        r"missing \d+ required positional arguments?)",
        "forward() was given a different number of inputs than it takes",
        "Calling a module, model(a, b), runs model.forward(a, b), and a custom Function's "
        "Fn.apply(a, b) runs Fn.forward(ctx, a, b): the arguments of the call must match the "
        "parameters of forward (after self or ctx).",
        "Pass as many inputs as forward() declares, or change forward's signature; several "
        "tensors can also travel as one tuple.",
        types=("TypeError",),
    ),
    _rule(
        "optimizer_closure",
        r"step\(\) missing 1 required positional argument: 'closure'",
        "This optimizer needs a closure",
        "LBFGS evaluates the loss several times per step, so step() takes a function that "
        "clears the gradients, recomputes the loss, calls backward() and returns the loss.",
        "def closure():\n    opt.zero_grad()\n    loss = loss_fn(model(x), y)\n    loss.backward()\n"
        "    return loss\nopt.step(closure)",
        types=("TypeError",),
    ),
    _rule(
        "index_scalar",
        r"invalid index of a 0-dim tensor",
        "A scalar tensor has nothing to index",
        "This tensor has no dimensions (a loss, a sum, a single value), so x[0] has nothing to "
        "select.",
        "Use the tensor itself, or loss.item() for a Python number.",
        types=("IndexError",),
    ),
    _rule(
        "float_expected",
        r"could not infer output dtype\. Input dtype must be either a floating point|"
        r"not implemented for '(Long|Int|Short|Byte|Char|Bool)'|"
        r"result type Float can't be cast to the desired output type (Long|Int|Short|Byte|Char|Bool)|"
        r"Expected floating point type for target with class probabilities",
        "Integer tensor where floating point is needed",
        "torch.tensor([1, 2, 3]) and torch.arange(5) make int64 (Long) tensors. Means, "
        "softmax and other smooth functions need floating point, an integer tensor cannot "
        "store a fractional result in place, and such tensors can never require grad.",
        "Make the data floating point: torch.tensor([1., 2., 3.]), torch.arange(5.0), "
        "x.float(), or dtype=torch.float32.",
    ),
    _rule(
        "no_such_attribute",
        r"^'(Tensor|Parameter)' object has no attribute '\w+'$",
        "Tensors have no attribute of that name",
        "The attribute or method does not exist on tensors (a typo, or a method that belongs to "
        "something else).",
        "Check the spelling; zero_grad() belongs to optimizers and modules (for a tensor: "
        "w.grad = None), backward() is singular.",
        types=("AttributeError",),
    ),
    _rule(
        "context_manager_not_called",
        r"'type' object does not support the context manager protocol",
        "A context manager used without ()",
        "torch.no_grad, torch.enable_grad and torch.inference_mode are classes: the with "
        "statement needs an instance of one, made by calling it.",
        "Write with torch.no_grad(): (and torch.enable_grad(), torch.inference_mode()).",
        types=("TypeError",),
    ),
    _rule(
        "constructor_arguments",
        r"__init__\(\) (takes \d+ positional arguments? but \d+ (was|were) given|"
        r"missing \d+ required positional arguments?)",
        "A class was created with the wrong arguments",
        "Calling a class runs its __init__. Either a layer was created without the sizes it "
        "needs (nn.Linear(2) instead of nn.Linear(2, 1)), or the class itself was used where an "
        "instance was meant: model = Net without (), so model(x) passes x to __init__.",
        "Create each layer or model once, with all its arguments (model = Net(), "
        "layer = nn.Linear(in_features, out_features)), then call it on data: out = model(x).",
        types=("TypeError",),
    ),
    _rule(
        "module_init_missing",
        r"before Module\.__init__\(\) call|object has no attribute '_(modules|parameters|buffers)'",
        "super().__init__() was not called",
        "An nn.Module subclass must run nn.Module's own __init__ before it stores layers or "
        "parameters: that is where the registries of submodules and parameters are created.",
        "Make super().__init__() the first line of your __init__.",
        types=("AttributeError",),
    ),
    _rule(
        "index_out_of_range",
        r"out of bounds|index out of range",
        "An index past the end",
        "Indices count from 0, so a dimension of size n takes 0 to n-1 (or -n to -1). Every "
        "index given to nn.Embedding(num_embeddings, ...) must be below num_embeddings, and "
        "every class target of cross_entropy below the number of classes.",
        "Print the size (x.shape) and the largest index (idx.max()) just before this line; "
        "make the layer bigger or the indices smaller.",
        types=("IndexError",),
    ),
    _rule(
        "dim_out_of_range",
        r"Dimension out of range|too many indices for tensor of dimension",
        "A dimension the tensor does not have",
        "dim= counts a tensor's dimensions from 0 (or from the end with -1): a tensor of shape "
        "(3,) has only dim 0, so x.sum(dim=1) or x.softmax(dim=1) on it fails. The message says "
        "which range was allowed.",
        "Print x.shape (or x.dim()) before this line; use dim=-1 for the last dimension, or add "
        "the missing one with x.unsqueeze(0) (a batch of one).",
        types=("IndexError",),
    ),
    _rule(
        "tuple_for_tensor",
        r"must be Tensor, not tuple",
        "A tuple where a tensor is needed (a layer that returns several values)",
        "Some layers return a tuple, not a tensor: nn.LSTM, nn.GRU and nn.RNN return (output, hidden "
        "state), nn.MultiheadAttention returns (output, attention weights). Passed on as it is (by "
        "nn.Sequential, or to the next layer in forward()), the tuple reached a layer that needs a tensor.",
        "Unpack it: out, _ = self.lstm(x), then use out (out[:, -1] for the last step with "
        "batch_first=True). nn.Sequential cannot unpack for you: write a small nn.Module whose "
        "forward() does it.",
        types=("TypeError",),
    ),
    _rule(
        "tensor_expected",
        r"must be Tensor, not |expected Tensor as element \d+|^'(list|tuple)' object has no attribute '\w+'$",
        "A NumPy array, list or number where a tensor is needed",
        "nn layers and torch functions such as torch.cat / torch.stack take tensors. A NumPy array, "
        "a Python list or a plain number was passed instead (only some operators convert "
        "them for you).",
        "Convert first: torch.from_numpy(a).float() for a NumPy array (float32, like the "
        "layers), torch.tensor(values) for a list, torch.tensor(3.0) for a number.",
        types=("TypeError", "AttributeError"),
    ),
    _rule(
        "unpack_mismatch",
        r"^(not enough|too many) values to unpack \(expected \d+",
        "Unpacked into a different number of names than the item holds",
        "a, b = item (or for x, y in loader) needs exactly as many values as names. A "
        "TensorDataset of one tensor yields 1-tuples, of two tensors (x, y) pairs; a model's "
        "forward returns what its return statement gives.",
        "Print one item to see its structure (print(next(iter(loader)))), then unpack to match: "
        "for (x,) in loader, or build the dataset from (inputs, targets).",
        types=("ValueError",),
    ),
    _rule(
        "tensor_list_expected",
        r"must be tuple of Tensors, not Tensor",
        "torch.cat and torch.stack take one list of tensors",
        "The tensors to join go in a single list or tuple, the first argument; passed one by one, "
        "the second tensor lands where dim= goes.",
        "Put them in a list: torch.cat([a, b], dim=0), torch.stack([a, b]).",
        types=("TypeError",),
    ),
    _rule(
        "legacy_constructor",
        r"^new\(\) received an invalid combination of arguments",
        "torch.Tensor(...) is the class, not torch.tensor(...)",
        "torch.Tensor (capital T, like torch.FloatTensor) is the tensor type: calling it makes an "
        "uninitialized float32 tensor from sizes, or one from data, and it takes no "
        "requires_grad= or dtype=. The lower-case torch.tensor(data, ...) is the function that "
        "takes them.",
        "Use torch.tensor([1., 2., 3.], requires_grad=True) for values, or torch.zeros(3, "
        "requires_grad=True) / torch.randn(3, requires_grad=True) for a shape.",
        types=("TypeError",),
    ),
    _rule(
        "lazy_uninitialized",
        r"uninitialized parameter",
        "A lazy module's parameter used before its first forward call",
        "Lazy layers (nn.LazyLinear, nn.LazyConv2d, ...) learn their input size from the first "
        "batch they see: until the model has been called once, their weight and bias are "
        "placeholders with no shape, and reading or using them fails. Only the forward call "
        "turns them into real parameters.",
        "Run the model once on an example batch (model(x)) before reading its parameters or "
        "using them elsewhere; or give the layer its input size (nn.Linear(in_features, "
        "out_features)).",
        types=("RuntimeError", "ValueError"),
    ),
    _rule(
        "forward_missing",
        r'is missing the required "forward" function',
        "This module has no forward() method",
        "Calling a module, model(x), runs its forward(x). nn.Module found no method of that "
        "exact name on the class: it is misspelled (forwad, Forward), or indented so that it "
        "is not inside the class.",
        "Name the method def forward(self, x): and indent it inside the class, at the same "
        "level as __init__.",
        types=("NotImplementedError",),
    ),
    _rule(
        "resize_requires_grad",
        r"cannot resize variables that require grad",
        "resize_() on a tensor that requires grad",
        "resize_() changes a tensor's size in place, reallocating its memory; autograd cannot "
        "describe that as a differentiable step, so it refuses it on tensors that require grad.",
        "Use reshape() or view() (same number of elements, a new tensor in the graph), or make a "
        "new tensor of the size you need; to change a leaf's storage on purpose, do it under "
        "torch.no_grad() on w.data.",
    ),
    _rule(
        "out_requires_grad",
        r"functions with out=\.\.\. arguments don't support automatic differentiation",
        "out= on a computation autograd records",
        "A function given out= writes its result into an existing tensor. Autograd cannot record "
        "that write as a step of the graph, so PyTorch refuses out= as soon as one of the "
        "call's arguments requires grad, rather than give a result without a gradient.",
        "Assign the result instead of passing out=: out = torch.add(a, 1) rather than "
        "torch.add(a, 1, out=out) (a new tensor, recorded in the graph). If no gradient should "
        "flow through it, keep out= and run the call under torch.no_grad() (or pass a.detach()).",
    ),
    _rule(
        "unexpected_keyword",
        r"got an unexpected keyword argument '\w+'",
        "A keyword argument the function does not take",
        "Keyword arguments must match the names of the function's parameters exactly; this call "
        "passed one that it does not have (a typo, a plural that should be singular, or a name "
        "from an older PyTorch or from NumPy).",
        "Check the spelling against the function's documentation (help(nn.Linear), "
        "help(torch.Tensor.backward)).",
        types=("TypeError",),
    ),
    _rule(
        "name_not_defined",
        r"^name '\w+' is not defined|^cannot access (local|free) variable '\w+'",
        "A name that was never defined",
        "Python looked the name up and found nothing: it was never assigned, it is assigned "
        "only on a later line (or inside a function), it is misspelled, or it comes from a "
        "module that was not imported.",
        "Define it before this line, check its spelling, or import it.",
        types=("NameError", "UnboundLocalError"),
    ),
    _rule(
        "not_a_scalar",
        r"elements? cannot be converted to Scalar|only one element tensors can be converted",
        "A tensor with several values used as one number",
        ".item(), float() and int() turn a one-element tensor into a Python number; this tensor "
        "has more than one element.",
        "Reduce it first (t.sum().item(), t.mean().item()), pick one element (t[0].item()), or "
        "use t.tolist() for all of them. To make one tensor of several, use torch.stack([a, b]) "
        "(torch.tensor([a, b]) turns each into a number, and keeps no graph).",
        types=("RuntimeError", "ValueError"),
    ),
    _rule(
        "probabilities_expected",
        r"all elements of input should be between 0 and 1",
        "binary_cross_entropy needs probabilities",
        "binary_cross_entropy (nn.BCELoss) takes probabilities in [0, 1], but the input has "
        "values outside that range: raw scores (logits) of a layer.",
        "Use nn.BCEWithLogitsLoss / F.binary_cross_entropy_with_logits on the raw scores (it "
        "applies the sigmoid itself, more stably), or pass torch.sigmoid(scores).",
    ),
    # Three beginner errors that are not about autograd but stop most first snippets.
    # Plain indexing (w[i], w[mask]) has its own message and its own fix.
    _rule(
        "integer_expected",
        r"tensors used as indices must be long, int, byte or bool",
        "A float tensor used as an index",
        "A tensor used to index another (w[i]) must hold positions, as integers (torch.long or "
        "torch.int), or be a boolean mask of which elements to keep. This one holds floats, "
        "such as torch.tensor([0., 2.]) or the result of .float() or a division, so PyTorch "
        "cannot tell positions from a mask.",
        "Convert it: w[i.long()] for positions, w[mask.bool()] (or w[mask > 0]) for a mask; or "
        "build it with dtype=torch.long. Indices need no gradient: the gradient flows to w.",
    ),
    _rule(
        "integer_expected",
        r"expected target dtype to be Long|'indices' to have one of the following scalar types",
        "Expected integer indices, got floats",
        "Class targets of cross_entropy / nll_loss and the indices of an Embedding are "
        "positions, so they must be integer tensors (torch.long). A float tensor, such as "
        "torch.tensor([1., 0., 4.]), was given.",
        "Make them integers: target = target.long(), or build them with dtype=torch.long. "
        "(For soft labels, probabilities per class, cross_entropy takes instead a float target "
        "of the same shape as its input.)",
    ),
    _rule(
        "dtype_mismatch",
        r"must have the same dtype|to have the same dtype|type \(\w+\) and \w+ type \(\w+\) should be "
        r"the same|Found dtype \w+ but expected \w+|input dtype \(.*\) does not match weight dtype",
        "Tensors of different dtypes meet in one operation",
        "This operation needs its inputs to share a dtype. PyTorch's default, and the dtype of "
        "nn layers' parameters, is float32; NumPy arrays are float64 (double), so "
        "torch.from_numpy(a) or torch.tensor(a) of a NumPy array gives float64, and integer "
        "literals give int64 (torch.tensor([1, 0, 1])).",
        "Convert the data to the model's dtype: x = x.float() (or torch.tensor(a, "
        "dtype=torch.float32)); or convert the model with model.double(). Targets of BCE or "
        "MSE losses must be floats too: y = y.float().",
        types=("RuntimeError", "ValueError"),
    ),
    _rule(
        "tensor_bool",
        r"Boolean value of Tensor with more than one value is ambiguous",
        "A tensor with several values used as True or False",
        "if, while, and, or and not need one truth value. A comparison such as x > 0 on a "
        "tensor gives one boolean per element, and PyTorch will not guess whether you mean all "
        "of them or any.",
        "Say which: (x > 0).all() or (x > 0).any(); or compare one value: x[0] > 0, or "
        "loss.item() < 0.1 for a one-element tensor.",
    ),
    _rule(
        "module_unavailable",
        r"No module named",
        "A module that is not installed here",
        "The snippet imports a module that is not installed where it runs. The gradtrace "
        "playground runs snippets with Python's standard library, PyTorch and NumPy: "
        "torchvision, matplotlib, pandas and the like are not there.",
        "Remove that import and what uses it. Build a small input by hand instead of loading a "
        "dataset (torch.randn(8, 1, 28, 28) stands in for a batch of MNIST images, "
        "torch.randint(0, 10, (8,)) for its labels), and print values instead of plotting "
        "them: the autograd graph does not depend on where the data came from.",
        types=("ModuleNotFoundError",),
    ),
    _rule(
        "gpu_unavailable",
        r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|no CUDA GPUs are available|"
        r"with arguments from the '(CUDA|MPS|XPU)' backend|MPS backend is not available",
        "No GPU here",
        "The snippet asked for a GPU (.cuda(), .to('cuda'), device='cuda' or 'mps'), but it "
        "runs on a CPU-only build of PyTorch. Autograd builds the same graph on every device.",
        "Pick the device the machine has: device = 'cuda' if torch.cuda.is_available() else "
        "'cpu', then model.to(device) and x.to(device); or just leave out .cuda().",
        types=("AssertionError", "RuntimeError", "NotImplementedError"),
    ),
    _rule(
        "network_unavailable",
        r"name resolution|Name or service not known|No address associated with hostname|Network is unreachable|"
        r"nodename nor servname",
        "No network here",
        "The snippet tried to reach the internet (to download a dataset, weights or a file). "
        "Snippets run without network access.",
        "Build the data in the code instead: torch.randn / torch.randint stand in for a dataset, "
        "and a small literal tensor for a file's contents.",
        types=("URLError", "gaierror", "OSError", "ConnectionError", "HTTPError"),
    ),
    _rule(
        "no_input",
        r"EOF when reading a line",
        "input() has no one to ask",
        "The snippet called input(), but it runs without a keyboard: nobody can type an answer, "
        "so input() found the end of its input straight away.",
        "Write the value into the code instead, e.g. n = 3 rather than n = int(input()).",
        types=("EOFError",),
    ),
    _rule("out_of_memory", r"can't allocate memory|DefaultCPUAllocator|out of memory", *_OUT_OF_MEMORY,
          types=("RuntimeError", "MemoryError")),
    # Python's own MemoryError (a huge bytearray or list) has no message at all.
    _rule("out_of_memory", r"", *_OUT_OF_MEMORY, types=("MemoryError",)),
    _rule(
        "snippet_exit",
        r"",
        "The snippet called exit() with an error code",
        "sys.exit(), exit() or quit() with a code other than 0 or None stops the program there and "
        "reports failure, as it does when you run the file with python. The graph built up to that "
        "line is kept.",
        "Remove the call if it was meant to end a notebook cell, or raise the error you mean to "
        "report (raise ValueError(...)).",
        types=("SystemExit",),
    ),
    _rule(
        "format_tensor",
        r"unsupported format string passed to Tensor\.__format__",
        "A format such as :.4f needs a number, not a tensor",
        "f-strings format a tensor with a spec like :.4f only when it is a single number (0-d); "
        "this one has a dimension (shape [1], or several values).",
        "Format the number: f\"{loss.item():.4f}\" for a one-element tensor; for several values, "
        "format each one (t.tolist()).",
        types=("TypeError",),
    ),
    _rule(
        "input_too_small",
        r"Output size is too small",
        "The input is too small for this layer",
        "Every convolution without padding shrinks height and width by kernel_size - 1, and "
        "every pooling divides them by its stride: after the layers before this one, the input "
        "has no pixels left for it.",
        "Use bigger inputs, fewer pooling layers or padding= on the convolutions; "
        "nn.AdaptiveAvgPool2d(output_size) gives a fixed size whatever comes in.",
    ),
    _rule(
        "state_dict_mismatch",
        r"Error\(s\) in loading state_dict",
        "The saved weights do not fit this model",
        "load_state_dict matches entries by name and by shape. The dict has names the model "
        "does not (or lacks some it has: wrapping a model in nn.Sequential prefixes every name "
        "with '0.'), or a tensor of another shape (a layer of another size).",
        "Build the same architecture as the one saved (same attribute names and sizes). To load "
        "only what matches by name, pass strict=False (shapes must still agree).",
    ),
    _rule(
        "method_not_iterable",
        r"^'method' object is not iterable",
        "A method passed where its result was needed",
        "model.parameters (without parentheses) is the method itself; an optimizer needs what it "
        "returns, the parameters to update.",
        "Call it: torch.optim.SGD(model.parameters(), lr=0.1).",
        types=("TypeError",),
    ),
    _rule(
        "bool_expected",
        r"only supports boolean masks",
        "A mask must be boolean",
        "masked_fill and friends take a mask of True/False values; a mask of 0s and 1s (an "
        "integer or float tensor) is not one.",
        "Make it boolean: mask.bool(), or build it from a comparison (mask = x > 0).",
    ),
    _rule(
        "module_expected",
        r"is not a Module subclass",
        "nn.Sequential (and ModuleList) take modules, not functions",
        "torch.relu, F.relu and other functions have no parameters and are not nn.Module "
        "instances, so a container of modules cannot hold them.",
        "Use the module form: nn.ReLU() (layers are classes, created with ()), or call the "
        "function inside forward().",
        types=("TypeError",),
    ),
    _rule(
        "no_such_member",
        r"^'\w+' object has no attribute '\w+'$|^module '[\w.]+' has no attribute '\w+'$",
        "No attribute of that name",
        "The object has no attribute or method of that name: a typo, a layer that __init__ "
        "stored under another name, or a method that belongs to another kind of object.",
        "Check the spelling against where it is defined (self.name = ... in __init__, or the "
        "documentation of the class or module).",
        types=("AttributeError",),
    ),
    # Chosen from the traceback, not the message (a bare "[Errno 2] No such file or
    # directory"): see errors.describe.
    _rule(
        "multiprocessing_unavailable",
        r"(?!)",
        "No worker processes here",
        "multiprocessing (a Pool, a Queue, a Lock) needs shared memory for its semaphores and "
        "queues, and the sandbox that runs snippets has none: the pool could not even start. "
        "Worker processes would also build no autograd graph the trace could show.",
        "Do the work in the snippet's own process: [f(x) for x in items] instead of "
        "pool.map(f, items). (DataLoader's num_workers needs no change: its batches are loaded "
        "in process here.)",
        types=("OSError", "FileNotFoundError", "PermissionError"),
    ),
)

GENERIC = Rule(
    "exception",
    re.compile(""),
    "The snippet raised an exception",
    "The error is not specific to autograd; the graph shows everything built up to it.",
    "Read the message and the marked line.",
)


# inplace_version when the write was an optimizer step: "use the out-of-place form" cannot apply.
INPLACE_BY_STEP = Rule(
    "inplace_version",
    re.compile(""),
    "An optimizer step changed parameters a graph still needed",
    "optimizer.step() updates the parameters in place. A graph built before the step saved "
    "some of them for its backward pass (their version counter moved past the version saved), "
    "so backward through that graph after the step refuses to run.",
    "Call backward() for every loss built from these parameters before optimizer.step() (sum "
    "the losses, or order the calls), or run the forward pass again after the step.",
)


# Runs the tracer stopped rather than failed (the trace's `status`): no message to match.
STOPPED: dict[str, Rule] = {
    "timeout": Rule(
        "timeout",
        re.compile(""),
        "The snippet ran out of time",
        "It was still running when its time limit came, so it was stopped at the marked line. "
        "The graph shows everything recorded up to there.",
        "Look for a loop that never ends, a training loop with many steps, or one operation on "
        "huge tensors, and make it smaller (fewer steps, smaller tensors).",
    ),
    "output_limit": Rule(
        "output_limit",
        re.compile(""),
        "The snippet printed too much",
        "Its output went past the limit, so it was stopped at the marked line. What it printed "
        "and built up to there is kept.",
        "Print less: every 100th step instead of every step, or a shape or a mean instead of a "
        "whole tensor.",
    ),
}


# PyTorch's warnings that carry an autograd (or training) lesson. `types` are warning
# categories. A warning is not an error: these explain what it means for the graph.
WARNING_RULES: tuple[Rule, ...] = (
    _rule(
        "nonleaf_grad",
        r"\.grad attribute of a Tensor that is not a leaf Tensor is being accessed",
        ".grad of a non-leaf tensor stays None",
        "Autograd stores .grad only on leaf tensors (the ones you created with "
        "requires_grad=True, such as parameters). This tensor is the result of an operation: "
        "backward passes its gradient on through the graph and does not keep it.",
        "Call t.retain_grad() before backward() to keep it, or use torch.autograd.grad(loss, t), "
        "which returns it.",
        types=("UserWarning",),
    ),
    _rule(
        "tensor_copy_construct",
        r"To copy construct from a tensor, it is recommended to use",
        "torch.tensor() of a tensor makes a copy outside the graph",
        "torch.tensor(t) copies t's values into a new tensor with no grad_fn: gradients will not "
        "flow back to t through the copy (with requires_grad=True it becomes a separate leaf).",
        "Use t itself, or t.clone() for a copy that stays in the graph; write t.detach().clone() "
        "when leaving the graph is what you want.",
        types=("UserWarning",),
    ),
    _rule(
        "target_size_broadcast",
        r"Using a target size \(.*?\) that is different to the input size",
        "The loss broadcast the target against the prediction",
        "The prediction and the target have different shapes (for example [N, 1] and [N]), so "
        "broadcasting compares every prediction with every target: the loss, and every gradient "
        "backward computes from it, are wrong, with no error.",
        "Make the shapes equal before the loss: pred.squeeze(1), or target.unsqueeze(1) "
        "(target.view_as(pred)).",
        types=("UserWarning",),
    ),
    _rule(
        "softmax_implicit_dim",
        r"Implicit dimension choice for (log_)?softmax",
        "softmax without dim",
        "softmax had to guess which dimension to normalise over; for some shapes it guesses the "
        "batch dimension instead of the classes.",
        "Name it: F.softmax(x, dim=-1), nn.Softmax(dim=1), F.log_softmax(x, dim=-1).",
        types=("UserWarning",),
    ),
    _rule(
        "scheduler_before_optimizer",
        r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`",
        "The scheduler stepped before the optimizer",
        "lr_scheduler.step() ran before any optimizer.step(), so the schedule moved on before the "
        "first update: its first learning rate is never used.",
        "In the loop: loss.backward(), then optimizer.step(), then scheduler.step().",
        types=("UserWarning",),
    ),
    _rule(
        "old_loss_arguments",
        r"size_average and reduce args will be deprecated",
        "Old loss arguments",
        "size_average= and reduce= come from old PyTorch versions (and old tutorials); they are "
        "translated to reduction=.",
        "Use reduction='mean' (the default), 'sum' or 'none'.",
        types=("UserWarning",),
    ),
    _rule(
        "non_full_backward_hook",
        r"Using a non-full backward hook when the forward contains multiple autograd Nodes",
        "register_backward_hook sees only the last operation",
        "A module backward hook registered with register_backward_hook is attached to the last "
        "autograd node of the module's forward, so its grad_input is that node's, not the "
        "module's inputs' gradients.",
        "Use module.register_full_backward_hook(hook): grad_input is then the gradient with "
        "respect to the module's inputs.",
        types=("FutureWarning", "UserWarning"),
    ),
    _rule(
        "backward_hook_no_input_grad",
        r"Full backward hook is firing when gradients are computed with respect to module outputs",
        "The module's backward hook gets no input gradients",
        "None of the module's inputs requires grad (typical for the first layer: the data does "
        "not), so its full backward hook is called with grad_input of None, once the gradients "
        "of its outputs are known.",
        "Read grad_output in the hook, or make the input require grad if you need grad_input.",
        types=("UserWarning",),
    ),
    _rule(
        "scalar_from_grad_tensor",
        r"Converting a tensor with requires_grad=True to a scalar",
        "float() / int() of a tensor that requires grad leaves the graph",
        "The Python number it returns carries no history: anything computed from it is a "
        "constant to autograd, so no gradient flows back through it.",
        "For logging, read it on purpose: t.item() or float(t.detach()). To keep gradients, "
        "stay with tensor operations (t * 2, not float(t) * 2).",
        types=("UserWarning",),
    ),
    _rule(
        "create_graph_cycle",
        r"Using backward\(\) with create_graph=True will create a reference cycle",
        "backward(create_graph=True) ties each parameter to its gradient",
        "With create_graph=True the gradients written into .grad are themselves results of a "
        "graph, and that graph refers back to the parameters: parameter -> .grad -> graph -> "
        "parameter is a reference cycle, so memory is not freed as soon as it could be.",
        "For gradients of gradients use torch.autograd.grad(loss, params, create_graph=True): "
        "it returns them instead of storing them in .grad. Otherwise set p.grad = None once "
        "done with them.",
        types=("UserWarning",),
    ),
    _rule(
        "deprecated_overload",
        r"This overload of \w+_? is deprecated",
        "An old argument order (p.data.add_(-lr, p.grad))",
        "Old tutorials update weights with p.data.add_(-lr, p.grad), the scalar first. PyTorch "
        "still runs it, but that form is deprecated: the scalar is now given by keyword.",
        "Write p.add_(p.grad, alpha=-lr) inside with torch.no_grad(): (the same for addcmul_ and "
        "addcdiv_: value=).",
        types=("UserWarning",),
    ),
    _rule(
        "volatile_removed",
        r"volatile was removed and now has no effect",
        "volatile=True does nothing any more",
        "Variable(x, volatile=True) used to switch graph building off. Since PyTorch 0.4 the flag "
        "is ignored (and Variable just returns a tensor), so this code builds the graph it meant "
        "to avoid.",
        "Put the code that needs no gradients inside with torch.no_grad(): and use tensors "
        "directly instead of Variable(...).",
        types=("UserWarning",),
    ),
    _rule(
        "checkpoint_inputs_no_grad",
        r"None of the inputs have requires_grad=True\. Gradients will be None",
        "A checkpointed block none of whose inputs requires grad",
        "Reentrant checkpointing (use_reentrant=True, also what checkpoint does when it is not "
        "given) connects the block to the graph through its inputs only. None of them requires "
        "grad here, so the output has no grad_fn and the parameters inside the block get no "
        "gradient at all.",
        "Pass use_reentrant=False (it also tracks the parameters used inside the block), or "
        "make an input require grad.",
        types=("UserWarning",),
    ),
    _rule(
        "checkpoint_use_reentrant",
        r"the use_reentrant parameter should be passed explicitly",
        "checkpoint() without use_reentrant",
        "torch.utils.checkpoint has two implementations. Without use_reentrant it takes the old, "
        "reentrant one, which runs backward inside backward, gives no gradient to a block whose "
        "inputs need none, and does not work with torch.autograd.grad.",
        "Pass use_reentrant=False (what PyTorch recommends).",
        types=("UserWarning",),
    ),
    _rule(
        "underscore_renamed",
        r"`[\w.]+` is now deprecated in favor of `[\w.]+_`",
        "Functions that modify their argument end with an underscore",
        "PyTorch names the functions that change a tensor in place with a trailing underscore "
        "(clip_grad_norm_, nn.init.xavier_uniform_, zero_): the in-place write shows in the "
        "name, and in the tensor's version counter. The old names without it still run but are "
        "deprecated.",
        "Call the name with the underscore, as the warning says.",
        types=("FutureWarning", "UserWarning"),
    ),
)


def hint(lesson: Any) -> dict[str, str]:
    """A warning event's `hint` from a rule or a lint finding (both have these four fields)."""
    return {"kind": lesson.kind, "title": lesson.title, "what": lesson.what, "fix": lesson.fix}


def classify_warning(category: str, text: str) -> Rule | None:
    """The lesson behind a PyTorch warning, or None for the ones without one."""
    text = text[:MATCHED_CHARS]
    for rule in WARNING_RULES:
        if category in rule.types and rule.pattern.search(text):
            return rule
    return None


def by_kind(kind: str) -> Rule:
    return next(rule for rule in RULES if rule.kind == kind)


# Messages are matched on their start only: the kinds' patterns all sit in the first lines,
# and a snippet can raise a message of any size (10 MB took 10 s of regex work).
MATCHED_CHARS = 4096


def classify(exc_type: str, message: str) -> Rule:
    """The first rule whose pattern matches the message (and type); GENERIC otherwise."""
    message = message[:MATCHED_CHARS]
    for rule in RULES:
        # RuntimeError rules match any exception type (torch raises subclasses such as
        # torch.OutOfMemoryError); the others only their listed types.
        if (rule.types == ("RuntimeError",) or exc_type in rule.types) and rule.pattern.search(message):
            return rule
    if exc_type == "SyntaxError" or exc_type == "IndentationError":
        return _syntax("The snippet is not valid Python", "Python could not parse the code, so nothing ran.",
                       "Fix the marked line and column.")
    return GENERIC


def _syntax(title: str, what: str, fix: str) -> Rule:
    return Rule("syntax_error", re.compile(""), title, what, fix)


# Punctuation a Chinese or Japanese input method types, and what Python wanted instead
# (full-width ASCII, U+FF01..U+FF5E, is handled by its offset).
_WIDE_PUNCTUATION = {
    "\u3002": ".", "\u3001": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'",
    "\u3010": "[", "\u3011": "]", "\u300a": "<", "\u300b": ">", "\u2026": "...", "\u3000": " ",
}
_CHAR_RE = re.compile(r"invalid (?:non-printable )?character (?:'.' )?\(?U\+([0-9A-Fa-f]{4,6})")


def _ascii_for(char: str) -> str | None:
    if "\uff01" <= char <= "\uff5e":
        return chr(ord(char) - 0xFEE0)
    return _WIDE_PUNCTUATION.get(char)


def classify_syntax(message: str, line_text: str, exc_type: str = "SyntaxError") -> Rule:
    """The syntax-error rule, with the lesson for the usual ways pasted code fails to parse:
    notebook commands, interactive prompts, an input method's full-width punctuation,
    invisible characters from a web page, mixed tabs and spaces."""
    stripped = line_text.lstrip()
    if stripped.startswith(("%", "!")):
        return _syntax(
            "A Jupyter notebook command, not Python",
            "Lines that start with % (magics such as %matplotlib inline) or ! (shell commands such "
            "as !pip install) only work in Jupyter or IPython. The snippet runs as a plain Python "
            "file.",
            "Delete the line. Nothing can be installed here; a snippet has PyTorch, NumPy and "
            "Python's standard library.",
        )
    if stripped.startswith((">>>", "... ")) or stripped == "...":
        return _syntax(
            "Interactive prompts were copied with the code",
            "The >>> and ... at the start of lines are what Python's interactive shell prints; "
            "they are not part of the code.",
            "Remove the >>> and ... prompts from every line, and the output lines printed "
            "between them.",
        )
    m = _CHAR_RE.search(message)
    if m or "null bytes" in message:
        char = chr(int(m.group(1), 16)) if m else "\0"
        ascii_char = _ascii_for(char)
        if ascii_char == " ":
            return _syntax(
                "A full-width space from an input method",
                f"The marked line has a full-width space (U+{ord(char):04X}), which a Chinese or "
                "Japanese input method types; Python only accepts ordinary spaces between code.",
                "Retype it as an ordinary space (or switch the input method to half-width).",
            )
        if ascii_char is not None:
            return _syntax(
                "Full-width or typographic punctuation",
                f"The marked line has {char} (U+{ord(char):04X}), which Chinese and Japanese input "
                "methods and word processors type. Outside strings and comments, Python only "
                "understands ASCII punctuation.",
                f"Replace {char} with {ascii_char} (or switch the input method to half-width "
                "punctuation and retype it). Inside strings and comments any character is fine.",
            )
        if not char.isprintable() or char.isspace():
            return _syntax(
                "An invisible character in the code",
                f"The marked line has U+{ord(char):04X}, a character that looks like a space or "
                "nothing at all; it usually comes with code copied from a web page or a document.",
                "Retype the spaces on the marked line (or paste the code as plain text).",
            )
    if exc_type == "TabError":
        return _syntax(
            "Tabs and spaces mixed in the indentation",
            "Python cannot tell how deep a line is indented when some lines use tabs and others "
            "spaces.",
            "Indent with spaces only (4 per level); most editors can convert tabs to spaces.",
        )
    return classify(exc_type if exc_type in ("SyntaxError", "IndentationError") else "SyntaxError", message)


_INDEX_RE = re.compile(r"at index (\d+)")


_TENSOR_ATTRIBUTE = re.compile(r"^'(?:Tensor|Parameter)' object has no attribute '(\w+)'$")
# Names meant for something else, with where they belong.
_ELSEWHERE = {
    "zero_grad": "zero_grad() belongs to optimizers and modules: for a tensor, set w.grad = None "
    "(or w.grad.zero_())",
    "parameters": "parameters() belongs to modules: a tensor is already the thing to optimize "
    "(torch.optim.SGD([w], lr=0.1))",
    "step": "step() belongs to optimizers: opt = torch.optim.SGD([w], lr=0.1); opt.step()",
}


def attribute_rule(message: str, tensor_attributes: list[str]) -> Rule | None:
    """For "'Tensor' object has no attribute 'x'": the names it was probably meant to be
    (as Python's own traceback suggests), or where that name does belong."""
    m = _TENSOR_ATTRIBUTE.match(message)
    if m is None:
        return None
    name = m.group(1)
    base = by_kind("no_such_attribute")
    if name in _ELSEWHERE:
        fix = _ELSEWHERE[name] + "."
    else:
        public = [a for a in tensor_attributes if not a.startswith("_") or name.startswith("_")]
        close = difflib.get_close_matches(name, public, n=3, cutoff=0.7)
        if not close:
            return base
        fix = "Did you mean " + " or ".join(close) + "?"
    return Rule(base.kind, base.pattern, f"Tensors have no attribute '{name}'", base.what, fix, base.types)


# Suggestions compare a name with at most this many candidates (a snippet can define any
# number of names; difflib's work grows with each).
MAX_CANDIDATES = 5000
_KEYWORD = re.compile(r"^(?:([\w.]+)\(\) )?got an unexpected keyword argument '(\w+)'")
# Keyword names from older PyTorch (or NumPy) and what they are called now.
_RENAMED = {
    "retain_variables": "retain_graph (its name before PyTorch 0.4)",
    "keep_graph": "retain_graph",
    "keepdims": "keepdim (singular, unlike NumPy)",
    "requires_grads": "requires_grad",
    "learning_rate": "lr",
}


def keyword_function(message: str) -> str | None:
    """The function an "unexpected keyword argument" message names, e.g. "Linear.__init__"."""
    m = _KEYWORD.match(message)
    return m.group(1) if m else None


def keyword_rule(message: str, parameters: list[str] | None) -> Rule | None:
    """For "f() got an unexpected keyword argument 'k'": what k is called now, or the
    parameter names of f that are close to it (`parameters`: f's, when it could be found)."""
    m = _KEYWORD.match(message)
    if m is None:
        return None
    where, name = m.group(1), m.group(2)
    base = by_kind("unexpected_keyword")
    close = difflib.get_close_matches(name, parameters or [], n=3, cutoff=0.6)
    if name in _RENAMED:
        fix = f"Write {_RENAMED[name]} instead of {name}."
    elif close:
        fix = "Did you mean " + " or ".join(close) + "?"
    elif parameters:
        fix = "It takes " + ", ".join(parameters[:12]) + (", ..." if len(parameters) > 12 else "") + "."
    else:
        fix = base.fix
    title = f"{where.removesuffix('.__init__')}() takes no argument named '{name}'" if where else base.title
    return Rule(base.kind, base.pattern, title, base.what, fix, base.types)


_NAME = re.compile(r"^name '(\w+)' is not defined")
_LOCAL = re.compile(r"^cannot access local variable '(\w+)'")
# Names courses use without defining them, and the import that gives them.
_IMPORTS = {
    "torch": "import torch",
    "nn": "import torch.nn as nn",
    "F": "import torch.nn.functional as F",
    "optim": "import torch.optim as optim",
    "np": "import numpy as np",
    "numpy": "import numpy",
    "math": "import math",
    "Variable": "from torch.autograd import Variable (plain tensors with requires_grad=True do "
    "the same today)",
    "Function": "from torch.autograd import Function",
    "DataLoader": "from torch.utils.data import DataLoader",
    "TensorDataset": "from torch.utils.data import TensorDataset",
    "Dataset": "from torch.utils.data import Dataset",
    "Parameter": "from torch.nn import Parameter",
}


def name_rule(message: str, known: list[str]) -> Rule | None:
    """For "name 'F' is not defined": the import that defines it when it is a usual alias,
    else the names the snippet has that are close to it (`known`), as Python suggests them."""
    base = by_kind("name_not_defined")
    local = _LOCAL.match(message)
    if local is not None:
        name = local.group(1)
        return Rule(base.kind, base.pattern, f"'{name}' is read before this function assigns it",
                    f"The function assigns {name} somewhere, so Python treats {name} as a local "
                    "variable in all of it (even before that line), and this line reads it "
                    "before any value was assigned.",
                    f"Assign {name} before this line or pass it in as an argument; to use the "
                    f"module-level {name}, do not assign to it inside the function (or declare "
                    f"global {name}).", base.types)
    m = _NAME.match(message)
    if m is None:
        return None
    name = m.group(1)
    if name in _IMPORTS:
        return Rule(base.kind, base.pattern, f"'{name}' was used without being imported",
                    base.what, f"Add {_IMPORTS[name]} at the top of the snippet.", base.types)
    close = difflib.get_close_matches(name, list(dict.fromkeys(known))[:MAX_CANDIDATES], n=3, cutoff=0.7)
    if not close:
        return None
    return Rule(base.kind, base.pattern, f"'{name}' is not defined", base.what,
                "Did you mean " + " or ".join(close) + "?", base.types)


_MEMBER = re.compile(r"^(?:'(\w+)' object|module '([\w.]+)') has no attribute '(\w+)'$")


def member_owner(message: str) -> tuple[str, str] | None:
    """("Linear", "weights") for "'Linear' object has no attribute 'weights'"; a module's
    dotted name for "module 'torch.nn' has no attribute 'Relu'"."""
    m = _MEMBER.match(message)
    return ((m.group(1) or m.group(2)), m.group(3)) if m else None


def member_rule(message: str, candidates: list[str]) -> Rule | None:
    """For "... has no attribute 'x'": the names of `candidates` (what the object has) close
    to x, as Python's own traceback suggests them."""
    found = member_owner(message)
    if found is None:
        return None
    owner, name = found
    public = [c for c in dict.fromkeys(candidates) if not c.startswith("_") or name.startswith("_")][:MAX_CANDIDATES]
    close = difflib.get_close_matches(name, public, n=3, cutoff=0.6)
    if not close:
        lowered = [c for c in public if c.lower() == name.lower()]  # Relu -> ReLU
        close = lowered[:1]
    if not close:
        return None
    base = by_kind("no_such_member")
    return Rule(base.kind, base.pattern, f"{owner} has no attribute '{name}'", base.what,
                "Did you mean " + " or ".join(close) + "?", base.types)


def output_index(message: str) -> int | None:
    """Which output a "Mismatch in shape: grad_output[i] ..." message is about."""
    m = re.search(r"grad_output\[(\d+)\]", message)
    return int(m.group(1)) if m else None


def unused_index(message: str) -> int | None:
    m = _INDEX_RE.search(message)
    return int(m.group(1)) if m else None
