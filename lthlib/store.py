"""Run directories: settings hashed into names, and the tidy results table (atomic writes: `lthlib.atomic`;
publishing a run's summary: `lthlib.publishing`).

Layout (DESIGN.md)::

    <runs_dir>/<family>/<task>/<variant>-<hash>/settings.json
                                               /seed_<s>/init.pt, rewind.pt
                                               /seed_<s>/level_<kk>/mask.pt, trained.pt,
                                                                    dense.json | winning.json, random.json
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from lthlib.atomic import read_json
from lthlib.families import get as family_of, output_pruned

SUMMARY_SUFFIX = ".summary.json"
RECORDED = ("rewind_fraction", "paper_differences", "random_tickets")  # in settings.json, not in the run's hash
RESULT_COLUMNS = [
    "family", "task", "variant", "exclude", "run", "ticket", "seed", "level", "fraction_pruned", "metric", "value",
    "output_pruned", "rewind_fraction", "paper_differences", "dense_net", "longer_of", "lineage_budgets",
]
LONGER = "longer_by_rewind"  # the control whose dense net trains as long as a late-rewound ticket in all
LINEAGE = "lineage_budgets"  # the control whose dense net trains as long as an iterative ticket's lineage in all
LONGER_FIELDS = (LONGER, LINEAGE)  # dense-only controls that train the main runs' dense net for longer


def settings_hash(settings: dict[str, Any]) -> str:
    """A short, stable hash of JSON-able settings: equal settings give the same run directory."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def finished_tickets(root: Path):
    """(settings, ticket record) pairs from run trees and from published summaries under `root`."""
    for settings_file in sorted(root.rglob("settings.json")):
        settings = read_json(settings_file)
        for ticket_file in sorted(settings_file.parent.glob("seed_*/level_*/*.json")):
            yield settings, read_json(ticket_file)
    for summary_file in sorted(root.rglob(f"*{SUMMARY_SUFFIX}")):
        yield from summary_tickets(summary_file)


def hashed_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in RECORDED}


def dense_net(settings: dict[str, Any], leave_out: tuple[str, ...] = ()) -> str:
    """A hash of what the run's dense net depends on: runs with equal ones train the same dense net per seed,
    so their tickets compare seed by seed."""
    leave = family_of(settings["family"]).not_dense + leave_out  # where it rewinds, how long tickets train
    config = {k: v for k, v in settings["config"].items() if k not in leave}
    return settings_hash({"family": settings["family"], "task": settings["task"], "config": config})


def longer_of(settings: dict[str, Any]) -> str:
    """For a control of LONGER_FIELDS, the dense net it trains longer (`dense_net` of the main runs); else ""."""
    longer = bool(settings["config"].get(LONGER)) or settings["config"].get(LINEAGE, 1) != 1
    return dense_net(settings, LONGER_FIELDS) if longer else ""


def run_name(settings: dict[str, Any]) -> str:
    """<variant>-<hash>: the name of a run's directory."""
    return f"{settings['variant']}-{settings_hash(hashed_settings(settings))}"


def load_results(root: str | Path) -> pd.DataFrame:
    """Every finished ticket under `root` (a runs or results directory), one row per metric value.

    Columns: family, task, variant, exclude (the parameters kept out of pruning, glob patterns joined
    by ", "; "" when everything is pruned), run (the run directory's name, <variant>-<settings hash>, which
    tells apart runs of one task and variant with other settings, e.g. presets), ticket (dense |
    winning | random), seed, level, fraction_pruned, metric, value; output_pruned (an output layer of
    the ticket is entirely pruned: its family's `output_layers`), rewind_fraction (the run's rewind point's
    share of the training budget, 0 when rewinding to the initial weights) and paper_differences (the
    config fields in which the run differs from the paper's preset, joined by ", "), dense_net (a hash of what
    its dense net depends on: equal across runs that train the same dense net), longer_of (for a
    control of LONGER_FIELDS, the dense_net it trains for longer; else "") and lineage_budgets (the budgets a
    `lineage_budgets` control trains in one run; 1 for every other run).
    """
    return results_table(finished_tickets(Path(root)))


def summary_tickets(summary_file: str | Path):
    """(settings, ticket record) pairs of one published summary."""
    summary = read_json(summary_file)
    return ((summary["settings"], record) for record in summary["tickets"])


def results_table(tickets) -> pd.DataFrame:
    """`load_results`' table of (settings, ticket record) pairs."""
    rows = [
        {
            "family": settings["family"], "task": settings["task"], "variant": settings["variant"],
            "exclude": ", ".join(settings.get("exclude", ())), "run": run_name(settings),
            "ticket": record["ticket"], "seed": record["seed"], "level": record["level"],
            "fraction_pruned": record["fraction_pruned"], "metric": metric, "value": value,
            "output_pruned": output_pruned(settings["family"], record["layer_fractions_pruned"]),
            "rewind_fraction": settings["rewind_fraction"],
            "paper_differences": ", ".join(sorted(settings["paper_differences"])),
            "dense_net": dense_net(settings), "longer_of": longer_of(settings),
            "lineage_budgets": settings["config"].get(LINEAGE, 1),
        }
        for settings, record in tickets
        for metric, value in record["metrics"].items()
    ]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS).astype({"output_pruned": bool})


BUDGET_COLUMNS = ["family", "task", "variant", "exclude", "run", "ticket", "seed", "level", "updates", "samples",
                  "rewind_fraction", "wall_time_s", "cpu", "copied"]


def load_budgets(root: str | Path, configs: bool = False) -> pd.DataFrame:
    """What every finished ticket trained on: family, task, variant, exclude, run, ticket, seed, level,
    updates, samples (env steps or tokens), both counted from the ticket's own start (for a late-rewound
    winning ticket, the rewind point), and rewind_fraction (the run's); and what it cost: wall_time_s,
    cpu (the CPU kind that computed it, None where unrecorded) and copied (from a sibling run, which
    computed it). With `configs`, also config: the run's config (a dict), read in the same pass."""
    rows = [
        {"family": settings["family"], "task": settings["task"], "variant": settings["variant"],
         "exclude": ", ".join(settings.get("exclude", ())), "run": run_name(settings), "ticket": record["ticket"],
         "seed": record["seed"], "level": record["level"], "updates": record["stats"]["updates"],
         "samples": record["stats"]["samples"], "rewind_fraction": settings["rewind_fraction"],
         "wall_time_s": record["wall_time_s"], "cpu": (record.get("machine") or {}).get("cpu_capability"),
         "copied": bool(record.get("copied_from")), **({"config": settings["config"]} if configs else {})}
        for settings, record in finished_tickets(Path(root))
    ]
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS + (["config"] if configs else []))


def variant_runs(root: str | Path) -> list[Path]:
    """`root` and the runs beside it with the same settings but another variant (for one figure)."""
    root = Path(root)
    mine = hashed_settings(read_json(root / "settings.json"))
    same = lambda other: {**hashed_settings(other), "variant": mine["variant"]} == mine  # noqa: E731
    return [root] + [
        path.parent for path in sorted(root.parent.glob("*/settings.json"))
        if path.parent != root and same(read_json(path))
    ]


def load_layer_sparsity(root: str | Path) -> pd.DataFrame:
    """Fraction pruned per layer of every winning ticket: family, task, variant, run, seed, level, layer,
    fraction_pruned."""
    rows = [
        {"family": settings["family"], "task": settings["task"], "variant": settings["variant"], "run": run_name(settings),
         "seed": record["seed"], "level": record["level"], "layer": layer, "fraction_pruned": fraction}
        for settings, record in finished_tickets(Path(root))
        if record["ticket"] == "winning"
        for layer, fraction in record["layer_fractions_pruned"].items()
    ]
    return pd.DataFrame(rows, columns=["family", "task", "variant", "run", "seed", "level", "layer", "fraction_pruned"])
