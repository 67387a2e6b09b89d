"""Reusing a sibling run's tickets: every variant, pruning scope or rate trains the same dense net."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lthlib.family import Family
from lthlib.masks import Mask
from lthlib.runs import Lottery, level_dir
from lthlib.atomic import atomic_copy, atomic_write_json, read_json
from lthlib.store import RECORDED

LOTTERY_SETTINGS = ("variant", "exclude", "pruning_rate", *RECORDED)  # what the dense net does not depend on


def sibling_runs(root: Path, settings: dict | None = None) -> list[Path]:
    """Runs beside `root` whose settings differ from its own (its settings.json, or `settings` for a run
    not started yet) only in how they prune and rewind."""
    def dense_settings(run_settings: dict) -> dict:
        return {k: v for k, v in run_settings.items() if k not in LOTTERY_SETTINGS}

    if settings is None:
        if not (root / "settings.json").exists():
            return []
        settings = read_json(root / "settings.json")
    if not root.parent.exists():
        return []
    mine = dense_settings(settings)
    return [run for run in sorted(root.parent.iterdir())
            if run != root and (run / "settings.json").exists() and dense_settings(read_json(run / "settings.json")) == mine]


def _level_files(lends_random: bool) -> dict[int, list[str]]:
    return {0: ["mask.pt", "trained.pt", "dense.json"],
            1: ["mask.pt", "trained.pt", "winning.json"] + (["random.json"] if lends_random else [])}


def _seed_files(lottery: Lottery) -> list[str]:
    return ["init.pt"] + (["rewind.pt"] if lottery.late_rewinding else [])


def lender(root: Path, seed: int, lottery: Lottery, settings: dict | None = None) -> tuple[Path, list[int], bool] | None:
    """The sibling run that would lend this seed's tickets now, the levels it lends and whether level 1's
    random ticket comes along; None where none can (see `reuse_sibling_tickets`). `settings`: those of a
    run not started yet (for the dry run's count)."""
    def shares_level_1(run: Path) -> bool:
        other = read_json(run / "settings.json")
        return (Lottery(variant=other["variant"]).late_rewinding == lottery.late_rewinding
                and tuple(other["exclude"]) == lottery.exclude and other["pruning_rate"] == lottery.pruning_rate)

    seed_files = _seed_files(lottery)
    for sibling in sorted(sibling_runs(root, settings), key=lambda run: not shares_level_1(run)):
        # level 1's random ticket comes along where this run trains random tickets and the sibling has it
        # (else this run trains its own, or none: a run without random tickets copies none)
        lends_random = lottery.random_tickets and (level_dir(sibling, seed, 1) / "random.json").exists()
        files = _level_files(lends_random)

        def have(level: int) -> bool:
            return all((level_dir(sibling, seed, level) / f).exists() for f in files[level])

        if not (all((sibling / f"seed_{seed}" / f).exists() for f in seed_files) and have(0)):
            continue
        levels = [0] + ([1] if shares_level_1(sibling) and lottery.levels >= 1 and have(1)
                        and not level_dir(root, seed, 1).exists() else [])
        return sibling, levels, lends_random
    return None


def reuse_sibling_tickets(family: Family, config: Any, root: Path, seed: int, lottery: Lottery) -> None:
    """Copy this seed's dense net from a run of another variant, pruning scope or rate with the same
    settings otherwise: all of them train the same dense net (with another scope its mask is rebuilt).
    Level 1 is copied too when the sibling prunes alike and rewinds to the same point (its mask, the
    dense net pruned at r_1, and its tickets are then the same in iterative and one-shot pruning).
    Each level appears at once (a directory rename); copied records name their source run in
    `copied_from`."""
    found = lender(root, seed, lottery)
    if found is None:
        return
    sibling, levels, lends_random = found
    level_files, seed_files = _level_files(lends_random), _seed_files(lottery)
    dense_mask = (None if tuple(read_json(sibling / "settings.json")["exclude"]) == lottery.exclude
                  else Mask.ones(family.build_model(config, 0), lottery.exclude))  # another scope: rebuild it
    for f in seed_files:
        atomic_copy(sibling / f"seed_{seed}" / f, root / f"seed_{seed}" / f)
    for level in levels:
        stage = Path(tempfile.mkdtemp(dir=root / f"seed_{seed}", prefix=".copy-"))
        for f in level_files[level]:
            source = level_dir(sibling, seed, level) / f
            if f.endswith(".json"):
                record = read_json(source) | {"copied_from": sibling.name}
                if dense_mask is not None:
                    record["layer_fractions_pruned"] = dense_mask.layer_fractions_pruned()
                atomic_write_json(record, stage / f)
            elif f == "mask.pt" and dense_mask is not None:
                dense_mask.save(stage / f)
            else:
                atomic_copy(source, stage / f)
        shutil.rmtree(level_dir(root, seed, level), ignore_errors=True)  # a dense run cut short leaves its mask
        os.replace(stage, level_dir(root, seed, level))


def lent_tickets(root: Path, seed: int, lottery: Lottery, settings: dict) -> int:
    """How many of this seed's tickets a sibling would lend it now (none once its dense net is trained):
    the dry run does not count them as work."""
    if (level_dir(root, seed, 0) / "dense.json").exists():
        return 0
    found = lender(root, seed, lottery, settings)
    if found is None:
        return 0
    _, levels, lends_random = found
    return sum(f.endswith(".json") for level in levels for f in _level_files(lends_random)[level])  # a record each
