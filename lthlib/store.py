"""Run directories: atomic writes, settings hashed into names, and the tidy results table.

Layout (DESIGN.md)::

    <runs_dir>/<family>/<task>/<variant>-<hash>/settings.json
                                               /seed_<s>/init.pt, rewind.pt
                                               /seed_<s>/level_<kk>/mask.pt, trained.pt,
                                                                    dense.json | winning.json, random.json
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import torch

RESULT_COLUMNS = [
    "family", "task", "variant", "ticket", "seed", "level", "fraction_pruned", "metric", "value",
]


def _atomic_write(path: str | Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_json(obj: Any, path: str | Path) -> None:
    _atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, sort_keys=True).encode()))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def settings_hash(settings: dict[str, Any]) -> str:
    """A short, stable hash of JSON-able settings: equal settings give the same run directory."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def load_results(root: str | Path) -> pd.DataFrame:
    """Every finished ticket under `root` (a runs or results directory), one row per metric value.

    Columns: family, task, variant, ticket (dense | winning | random), seed, level,
    fraction_pruned, metric, value.
    """
    rows = []
    for settings_file in sorted(Path(root).rglob("settings.json")):
        settings = read_json(settings_file)
        for ticket_file in sorted(settings_file.parent.glob("seed_*/level_*/*.json")):
            record = read_json(ticket_file)
            for metric, value in record["metrics"].items():
                rows.append(
                    {
                        "family": settings["family"],
                        "task": settings["task"],
                        "variant": settings["variant"],
                        "ticket": record["ticket"],
                        "seed": record["seed"],
                        "level": record["level"],
                        "fraction_pruned": record["fraction_pruned"],
                        "metric": metric,
                        "value": value,
                    }
                )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
