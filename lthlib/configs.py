"""Presets as frozen dataclasses: one way to build and check them for every family."""

from __future__ import annotations

import dataclasses
from typing import Any

PRESETS = ("smoke", "cpu", "paper")


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
    return {f.name: values[f.name] for f in dataclasses.fields(config) if f.metadata.get("hash", True)}
