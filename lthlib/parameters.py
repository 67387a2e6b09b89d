"""A notebook's parameters, checked before anything runs: unknown names, wrong types, bad devices.

papermill passes `-p level 2` to a notebook that has no `level` with only a warning, and `-p
pruning_rate abc` as the string "abc"; both would then fail late, or silently train the defaults.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Any

import torch

from lthlib.paths import resolve

TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list, tuple, str, int),
         "dict": (dict,)}  # a list may come as text ("0,1,2") or one int (-p seeds 0): check_seeds reads both
HINTS = {"dict": ' (with papermill: -y "overrides: {epochs: 5}")', "list": ' (with papermill: -y "seeds: [0, 1, 2]")'}
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@lru_cache(maxsize=8)
def _inspect(notebook: str) -> dict[str, dict]:
    """`notebooks/<notebook>.ipynb`'s parameters cell, as papermill itself reads it."""
    import papermill

    return papermill.inspect_notebook(str(resolve(f"notebooks/{notebook}.ipynb")))


def notebook_parameters(notebook: str) -> dict[str, str]:
    """{name: type name} of the notebook's parameters."""
    return {name: spec["inferred_type_name"] for name, spec in _inspect(notebook).items()}


def notebook_defaults(notebook: str) -> dict[str, Any]:
    """{name: default value} of the notebook's parameters, as its parameters cell sets them."""
    return {name: ast.literal_eval(spec["default"]) for name, spec in _inspect(notebook).items()}


def none_allowed(notebook: str) -> set[str]:
    """The parameters whose default is None (e.g. `random_tickets: bool = None`, "as the run was started"):
    they take None besides their type. (papermill reads no `bool | None` annotation.)"""
    return {name for name, spec in _inspect(notebook).items() if spec["default"] == "None"}


def injected_names(namespace: dict) -> set[str]:
    """The names papermill injected: its cell (starting "# Parameters") is in the kernel's input history."""
    names = set()
    for source in namespace.get("In", []):
        if source.lstrip().startswith("# Parameters"):
            names |= {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
                      for t in node.targets if isinstance(t, ast.Name)}
    return names


def under_papermill(namespace: dict) -> bool:
    return any(source.lstrip().startswith("# Parameters") for source in namespace.get("In", []))


def check(namespace: dict, notebook: str) -> None:
    """A notebook's own check, given its globals: the names papermill injected, then every value."""
    known = notebook_parameters(notebook)
    check_values({name: namespace.get(name) for name in known}, notebook, injected_names(namespace))


def check_values(values: dict[str, Any], notebook: str, given: set[str] | None = None) -> None:
    """Refuse unknown parameter names (among `given`, default: the keys of `values`) and values of the wrong
    type, naming the parameter, the value and what is allowed; then check the device."""
    known = notebook_parameters(notebook)
    unknown = sorted((set(values) if given is None else given) - set(known))
    if unknown:
        raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for "
                         f"notebooks/{notebook}.ipynb; its parameters are: {', '.join(known)}")
    for name, value in values.items():
        type_name = known[name]
        if value is None and name in none_allowed(notebook):
            continue
        allowed = TYPES.get(type_name)
        if allowed and (not isinstance(value, allowed) or (type_name in ("int", "float") and isinstance(value, bool))):
            raise ValueError(f"parameter {name!r} must be {'an' if type_name == 'int' else 'a'} {type_name}"
                             f"{' or None' if name in none_allowed(notebook) else ''}{HINTS.get(type_name, '')}, "
                             f"got {value!r} ({type(value).__name__})")
    if "device" in values:
        check_device(values["device"])


def check_device(device: Any) -> None:
    if not isinstance(device, str) or not DEVICE.match(device):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU here; use device 'cpu' or 'auto'")
