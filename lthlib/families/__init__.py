"""Experiment families, and the one registry through which the core reaches them.

Each family module defines `FAMILY`, an `lthlib.family.Family`. A family is imported only when asked for
(`get`): the core imports this package, never a family module, so that neither import cycles nor a heavy
import (torch, gymnasium, ale-py) come with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lthlib.family import Family

MODULES = {  # name -> module defining FAMILY
    "classic_control": "lthlib.families.classic_control",
    "atari": "lthlib.families.atari",
    "lstm_lm": "lthlib.families.lstm_lm",
    "transformer_mt": "lthlib.families.transformer_mt",
}
_REGISTERED: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family of your own (see book/adding_a_family.md): the loop, the results table and the verdicts
    then know its facts by its name."""
    _REGISTERED[family.name] = family
    return family


def names() -> list[str]:
    return sorted({*MODULES, *_REGISTERED})


def get(name: str) -> Family:
    """The family called `name`."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in MODULES:
        raise ValueError(f"unknown family {name!r}; choose one of {names()}")
    return importlib.import_module(MODULES[name]).FAMILY


def output_pruned(name: str, layer_fractions: dict[str, float]) -> bool:
    """Whether a ticket has one of its family's output layers entirely pruned: then every ticket of its level
    is the same constant function, and the level is left out of the verdicts."""
    return any(layer_fractions.get(layer, 0.0) >= 1.0 for layer in get(name).output_layers)


def margin_for(name: str, dense_mean: float, task: str | None = None) -> float:
    """The practical margin for one task: the family's `margin` share of |dense - its baseline| (a random
    policy's return in classic control, where rewards have no natural zero; else 0). A dense net at or below
    its baseline gives an infinite margin: no verdict "better"."""
    family = get(name)
    floor = family.baseline(task) if task is not None else None
    if floor is None:
        floor = 0.0
    elif dense_mean <= floor:  # a dense net no better than the trivial baseline sets no scale: nothing "beats"
        return float("inf")
    return family.margin * abs(dense_mean - floor)


def margins_in_words() -> str:
    """Each family's margin, for the rules the book states."""
    return ", ".join(f"{get(n).margin:.0%} of the dense net's {get(n).margin_of} ({n})" for n in MODULES)
