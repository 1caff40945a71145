"""The built-in example snippets: small, complete PyTorch scripts a learner can trace.

Each example is one ``NAME.py`` file in this package (package data, never imported as a
module) that starts with a header of comment lines::

    # title: Backward through the same graph twice
    # description: One line shown in the examples menu.
    # tags: error, retain_graph

This registry reads those files as text and must not import torch: the web server lists
and serves examples without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["EXAMPLE_ORDER", "Example", "get_example", "list_examples", "parse_header"]

# The curated order of the examples menu: basics first, then graph mechanics, custom
# Functions, modules and training, reparametrization, in-place edits that work, and the
# errors last. Every example file must appear here exactly once (a test checks it).
EXAMPLE_ORDER: tuple[str, ...] = (
    # basics
    "first_gradient",
    "chain_rule",
    "leaf_tensors",
    "rebinding_vs_inplace",
    "l1_l4_graph",
    "nonscalar_backward_gradient",
    "retain_grad",
    "detach",
    "no_grad",
    "retain_graph",
    "rebuild_graph",
    "second_derivative",
    # custom autograd Functions
    "custom_relu",
    "custom_leaky_relu",
    # modules and training
    "linear_bce_named_parameters",
    "conv_requires_grad_propagation",
    "mlp_training_step",
    "transformer_encoder",
    "clamp_vs_sigmoid",
    "loss_shape_broadcast",
    "running_total_keeps_graphs",
    "derived_param_in_forward",
    # reparametrization
    "vector_to_parameters_backward",
    "vector_to_parameters_functional_call",
    # in-place edits that are fine
    "inplace_harmless",
    "inplace_leaf_data_fix",
    "inplace_leaf_no_grad_fix",
    # errors
    "derived_param_in_init",
    "backward_twice",
    "inplace_version_error",
    "inplace_sigmoid_output",
    "inplace_leaf_error",
    "slice_assign_leaf",
    "inplace_leaf_after_use_error",
    "vector_to_parameters_unused",
    "parameter_from_slice",
    "nonscalar_backward_error",
    "detach_then_backward",
    "custom_function_wrong_grad_count",
    "inference_tensor_saved",
    "requires_grad_integer",
    "requires_grad_nonleaf",
)

_HEADER_LINE = re.compile(r"^#\s*(title|description|tags)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Example:
    """One built-in example: its file stem, menu texts and full source (header included)."""

    name: str
    title: str
    description: str
    tags: tuple[str, ...]
    source: str


def parse_header(source: str) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a snippet (stops at the first other line)."""
    header: dict[str, str] = {}
    for line in source.splitlines():
        match = _HEADER_LINE.match(line)
        if match is None:
            break
        header[match.group(1)] = match.group(2)
    return header


def _example_files() -> dict[str, str]:
    """Stem -> source of every example file shipped in this package."""
    files: dict[str, str] = {}
    for entry in resources.files(__package__).iterdir():
        name = entry.name
        if entry.is_file() and name.endswith(".py") and not name.startswith("_"):
            files[name[: -len(".py")]] = entry.read_text(encoding="utf-8")
    return files


def _load(name: str, source: str) -> Example:
    header = parse_header(source)
    missing = [key for key in ("title", "description") if not header.get(key)]
    if missing:
        raise ValueError(f"example {name!r} lacks a header line for: {', '.join(missing)}")
    tags = tuple(tag.strip() for tag in header.get("tags", "").split(",") if tag.strip())
    return Example(
        name=name, title=header["title"], description=header["description"], tags=tags, source=source
    )


@cache
def _registry() -> dict[str, Example]:
    files = _example_files()
    unlisted = sorted(set(files) - set(EXAMPLE_ORDER))
    absent = [name for name in EXAMPLE_ORDER if name not in files]
    if unlisted or absent:
        raise RuntimeError(
            f"examples registry out of sync: files not in EXAMPLE_ORDER {unlisted}, "
            f"names in EXAMPLE_ORDER without a file {absent}"
        )
    return {name: _load(name, files[name]) for name in EXAMPLE_ORDER}


def list_examples() -> list[Example]:
    """Every example, in the curated menu order (basics first, errors last)."""
    return list(_registry().values())


def get_example(name: str) -> Example:
    """The example called ``name`` (a file stem such as ``backward_twice``).

    Raises ``KeyError`` naming the closest matches and where to see the full list.
    """
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name.replace("-", "_"), list(registry), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(
            f"no built-in example named {name!r}.{hint} "
            f"Known examples ({len(registry)}): {', '.join(registry)}"
        ) from None
