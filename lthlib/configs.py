"""Presets as frozen dataclasses: one way to build and check them for every family."""

from __future__ import annotations

import dataclasses
from typing import Any

PRESETS = ("smoke", "cpu", "paper")
# The paper's late-rewinding point as a share of each family's training budget: epoch 1 of 20 (classic
# control), of 25 (Atari), of 10 (LSTM), update 1,000 of 50,000 (Transformer). Every preset keeps it.
PAPER_REWIND_SHARE = {"classic_control": 1 / 20, "atari": 1 / 25, "lstm_lm": 1 / 10, "transformer_mt": 1000 / 50_000}
# Field metadata {"hash": UNLESS_DEFAULT}: a field added after runs were committed enters the run's hash
# only when it differs from its default, so those runs keep their names (OpenLTH does the same).
UNLESS_DEFAULT = "unless default"


def check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")


def make_config(cls: type, **fields: Any):
    """`cls(**fields)`, refusing unknown fields by name; lists become tuples (JSON and papermill give lists)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(fields) - names
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}; valid: {sorted(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def hashed_fields(config) -> dict[str, Any]:
    """The config's fields that define a run (not where data lives or which device runs it)."""
    values = dataclasses.asdict(config)
    hashed = {}
    for f in dataclasses.fields(config):
        rule = f.metadata.get("hash", True)
        if rule is True or (rule == UNLESS_DEFAULT and values[f.name] != f.default):
            hashed[f.name] = values[f.name]
    return hashed


def rewind_point(budget: int, share: float) -> int:
    """The late-rewinding point that takes `share` of a `budget` counted in the trainer's own unit
    (episodes, batches, updates): at least 1, so that a tiny preset still rewinds after training began."""
    return max(1, round(budget * share))


def keeps_share(fraction: float, share: float, tolerance: float = 0.1) -> bool:
    """Whether a preset's rewind point `fraction` of its budget is the paper's `share`, up to rounding."""
    return abs(fraction - share) <= tolerance * share


def paper_differences(family, config) -> dict[str, tuple[Any, Any]]:
    """{field: (ours, the paper preset's)} for the same task, placement fields (data_dir, device) aside."""
    placement = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.metadata.get("hash", True) is False}
    paper = dataclasses.asdict(family.config(config.task, "paper", **placement))
    ours = dataclasses.asdict(config)
    return {k: (ours[k], paper[k]) for k in hashed_fields(config) | hashed_fields(family.config(config.task, "paper", **placement))
            if ours[k] != paper[k]}
