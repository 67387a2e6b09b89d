"""Choosing a preset by measurement: the dense nets of a family's dense-only runs (levels 0), published beside its
lottery runs, with their validation score after each epoch, so that a preset's width and epochs are picked where
validation is still falling or flat at the end, not where it has turned (an overfitting net's verdicts say little).
The `cpu` preset's own main run is drawn beside them for reference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lthlib import families
from lthlib.atomic import read_json
from lthlib.store import SUMMARY_SUFFIX, run_name


def dense_curves(results_dir: str | Path, family: str, history_key: str, fields: tuple[str, ...]) -> pd.DataFrame:
    """One row per (run, seed, epoch) of every published dense net of `family` that has `history_key` in its
    history: its validation score after that epoch, its final metric, and the config `fields` that tell the runs
    apart (e.g. the tokens and epochs it trained on)."""
    rows = []
    for path in sorted((Path(results_dir) / family).rglob(f"*{SUMMARY_SUFFIX}")):
        summary = read_json(path)
        config, metric = summary["settings"]["config"], families.get(family).metric
        for ticket in summary["tickets"]:
            if ticket["ticket"] != "dense" or history_key not in ticket.get("history", {}):
                continue
            for epoch, value in enumerate(ticket["history"][history_key], start=1):
                rows.append({"run": run_name(summary["settings"]), "seed": ticket["seed"], "epoch": epoch,
                             history_key: value, metric: ticket["metrics"][metric],
                             "dense only": all(t["level"] == 0 for t in summary["tickets"]),
                             **{f: config.get(f) for f in fields}})
    return pd.DataFrame(rows)


def turned(curve: pd.Series, tolerance: float = 0.0) -> bool:
    """Whether a lower-is-better validation curve ends above its best (by more than `tolerance`): it has turned."""
    return bool(curve.iloc[-1] > curve.min() + tolerance)
