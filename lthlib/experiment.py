"""What every family's notebook does around the lottery loop: check parameters, run, publish."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from lthlib.configs import paper_differences
from lthlib.family import Family
from lthlib.lottery import Lottery, check_seeds, run_lottery
from lthlib.paths import resolve
from lthlib.store import publish


def resolve_device(device: str) -> str:
    """"auto" -> cuda where a GPU is visible, else cpu; a CUDA device with no GPU visible is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU here; use device 'cpu' or 'auto'")
    return device


def prepare(family: Family, task: str, preset: str, variant: str, pruning_rate: float, levels: int,
            seeds, exclude: tuple[str, ...] = (), **overrides: Any) -> tuple[Any, Lottery, list[int]]:
    """Check every parameter before any training; print the config and how it differs from `paper`.

    `exclude`: glob patterns of parameters never pruned (the lottery's); `overrides`: config fields
    (a `device` of "auto" becomes cuda where a GPU is visible, else cpu).
    """
    if "device" in overrides:
        overrides["device"] = resolve_device(overrides["device"])
    config = family.config(task, preset, **overrides)
    if preset == "paper" and getattr(config, "device", "cpu") == "cpu" and getattr(family, "paper_needs_gpu", False):
        warnings.warn(f"the paper preset of {family.name} on a CPU takes many hours per ticket: "
                      f"it is meant for a GPU (device 'cuda'); the cpu preset fits a CPU", stacklevel=2)
    lottery = Lottery(variant=variant, pruning_rate=pruning_rate, levels=levels, exclude=tuple(exclude))
    seeds = check_seeds(seeds)
    differences = paper_differences(family, config)
    print(config)
    print("differences from the paper preset (ours, paper):", differences or "none")
    return config, lottery, seeds


def run(family: Family, config: Any, lottery: Lottery, seeds: list[int], runs_dir: str, workers: int,
        publish_to: str = "") -> Path:
    """Run or resume the lottery; with `publish_to`, also write the run's summary there for the book."""
    root = run_lottery(family, config, lottery, seeds=seeds, runs_dir=resolve(runs_dir), workers=workers)
    print("run directory:", root)
    if publish_to:
        print("summary:", publish(root, resolve(publish_to)))
    return root
