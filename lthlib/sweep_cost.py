"""What a sweep's grid costs: its tickets left and their CPU core-hours, from the ticket wall times of
committed runs (`lth sweep --dry-run`)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pandas as pd

from lthlib.configs import hashed_fields
from lthlib.gpu_estimate import gpu_hours_per_ticket
from lthlib.machine import machine
from lthlib.paths import resolve
from lthlib.store import load_budgets
from lthlib import families
from lthlib.sweep import SweepTask, tickets_left

# H100-hours, and wall hours on an 8-GPU node and on four such nodes: the GPUs each spreads the tickets over
GPU_COLUMNS = {"H100-hours, one GPU": 1, "hours on one 8-GPU node": 8, "hours on four 8-GPU nodes": 32}

def estimate(grid: list[SweepTask], measured_from: str | Path = "data/results") -> pd.DataFrame:
    """Tickets still to train and their CPU core-hours per (family, task, preset), from measured ticket
    wall times (a resumed grid counts only what is left).

    Each estimate comes from committed runs under `measured_from` (column "measured on"): the largest
    with the target's config (one with tickets of this CPU kind first), else the largest of the task, else all of the family's runs on other
    tasks; their seconds per trained ticket (copied ones aside), each scaled by the family's `ticket_cost`
    (a compute proxy: episodes for classic control, tokens x multiply-adds per token for the LSTM). The
    paper presets of the GPU families also get H100-hours, estimated from their FLOPs at an assumed rate
    (`lthlib.gpu_estimate`): not measured here. Reference runs with tickets computed on this kind of CPU
    (their records' `machine`) come first, and only those tickets count: an Atari ticket took 807 s in
    fp32 on an AVX2 CPU (Berzerk) and ~230 s in bf16 on an AVX-512 BF16 one (Krull).
    """
    here = machine()["cpu_capability"]
    runs = measured_runs(measured_from)
    tickets: dict[tuple[str, str, str], int] = {}
    configs = {}
    for item in grid:
        if item.status != "failed":
            key = (item.family, item.task, item.parameters["preset"])
            tickets[key] = tickets.get(key, 0) + tickets_left(item)
            configs[key] = item.config
    rows = []
    for (family, task, preset), count in tickets.items():
        row = {"family": family, "task": task, "preset": preset, "tickets left": count, "measured on": None,
               "measured s/ticket": None, "estimated s/ticket": None, "estimated CPU core-hours": None}
        target_config = configs[(family, task, preset)]
        per_ticket = gpu_hours_per_ticket(family, dataclasses.asdict(target_config))
        if preset == "paper" and per_ticket is not None:  # estimated from FLOPs (lthlib.gpu_estimate)
            row.update({column: round(count * per_ticket / gpus, 1) for column, gpus in GPU_COLUMNS.items()})
        priced = seconds_per_ticket(runs, family, task, target_config, here)
        if priced:
            label, seconds, per_ticket_s = priced
            row.update({"measured on": label, "measured s/ticket": round(seconds, 1),
                        "estimated s/ticket": round(per_ticket_s, 1),
                        "estimated CPU core-hours": round(count * per_ticket_s / 3600, 1)})
        rows.append(row)
    hours = [r["estimated CPU core-hours"] for r in rows]
    total = {"family": "total", "task": "", "preset": "", "tickets left": sum(r["tickets left"] for r in rows),
             "estimated CPU core-hours": round(sum(hours), 1) if rows and None not in hours else None}
    for column in GPU_COLUMNS:
        if any(column in r for r in rows):
            total[column] = round(sum(r.get(column, 0) for r in rows), 1)
    rows.append(total)
    return pd.DataFrame(rows)


def measured_runs(measured_from: str | Path) -> list[dict]:
    """Each committed run under `measured_from`: its config, its trained tickets' wall times (copied ones aside) and
    the CPU kind of each, what `seconds_per_ticket` prices from."""
    budgets = load_budgets(resolve(measured_from), configs=True)
    return [{"family": family, "task": task, "name": f"{family}/{task}/{run}", "config": tickets.config.iloc[0],
             "seconds": tickets.wall_time_s.tolist(), "kinds": tickets.cpu.tolist()}
            for (family, task, run), tickets in budgets[~budgets.copied].groupby(["family", "task", "run"], sort=False)]


def seconds_per_ticket(runs: list[dict], family: str, task: str, config, kind: str) -> tuple[str, float, float] | None:
    """(what prices it, the mean measured seconds per ticket, that scaled to `config` by the family's `ticket_cost`)
    from the reference runs among `runs` (`_reference_runs`, CPU kind `kind` first); None: no run prices it."""
    fam = families.get(family)
    label, reference = _reference_runs(runs, family, task, json.loads(json.dumps(hashed_fields(config))), kind)
    if any(kind in r.get("kinds", ()) for r in reference):
        label += f", its {kind} tickets"
    reference = [on_cpu_kind(r, kind) for r in reference]
    if not reference:
        return None
    target = dataclasses.asdict(config)
    measured = [t for r in reference for t in r["seconds"]]
    scaled = [t * fam.ticket_cost(target) / fam.ticket_cost(r["config"]) for r in reference for t in r["seconds"]]
    return label, sum(measured) / len(measured), sum(scaled) / len(scaled)


def in_words(table: pd.DataFrame, grid: list[SweepTask], cores: int | None = None) -> str:
    """`estimate`'s table in a few sentences: what hardware the grid needs, how long it takes there, and
    the data it will need (a task planned without it, `SweepTask.needs_data`)."""
    total = table.iloc[-1]
    cores = cores or os.cpu_count() or 1
    gpu = [item for item in grid if item.parameters.get("preset") == "paper"
           and getattr(families.get(item.family), "paper_needs_gpu", False)]
    lines = []
    if gpu and "H100-hours, one GPU" in table:
        lines.append(f"This grid needs GPUs: about {total['H100-hours, one GPU']:,.1f} H100-hours, that is about "
                     f"{total['hours on one 8-GPU node']:,.1f} h on one 8-GPU node and "
                     f"{total['hours on four 8-GPU nodes']:,.1f} h on a cluster of four (one ticket per GPU, perfect "
                     "packing; estimated from FLOPs at an assumed rate, not measured). Run it on a cluster with "
                     "--address and --gpus-per-task 1.")
    hours = total["estimated CPU core-hours"]
    if hours is not None and not pd.isna(hours):
        where = "On a CPU it would take" if gpu else "It runs on CPUs:"
        lines.append(f"{where} about {hours:,.1f} core-hours, {hours / cores:,.1f} h of wall time on this machine's "
                     f"{cores} cores (from the ticket times of the committed runs named above, each scaled by "
                     "its family's cost proxy).")
    else:
        lines.append("No committed run of this family prices a ticket: its CPU time is unknown.")
    needs = list(dict.fromkeys(need for item in grid for need in item.needs_data))
    if needs:
        lines.append("Before it runs, it needs data that is not on this machine:\n  " + "\n  ".join(needs))
    return "\n".join(lines)


def on_cpu_kind(run: dict, kind: str) -> dict:
    """`run` with only its tickets computed on CPU kind `kind`, if it has any; else `run`."""
    seconds = [s for s, k in zip(run["seconds"], run.get("kinds", ())) if k == kind]
    return {**run, "seconds": seconds} if seconds else run


def _reference_runs(runs: list[dict], family: str, task: str, config: dict, kind: str | None = None
                    ) -> tuple[str, list[dict]]:
    """The runs whose ticket times stand for (family, task, config), see `estimate`, and what to call them.
    In order: the task's run with the target's config; another run of the task; the family's runs on
    other tasks with the target's settings but the task (e.g. Atari games, whose presets differ only in
    the game; the cost proxy does not see e.g. the precision); all of the family's runs. The first of these
    with tickets computed on CPU kind `kind` wins, else the first there is: a ticket's time depends on the
    CPU (and, for Atari, the precision it chose) more than on the game."""
    same_task = [r for r in runs if r["family"] == family and r["task"] == task]
    task_fields = {k for k, v in config.items() if v == task}
    settings = lambda c: {k: v for k, v in c.items() if k not in task_fields}  # noqa: E731
    others = [r for r in runs if r["family"] == family and r["task"] != task]
    alike = [r for r in others if settings(r["config"]) == settings(config)]
    # the run with most tickets, one with tickets of this kind first (a run of the target's config on this
    # CPU prices it better than a larger one from another CPU)
    first = lambda r: (kind in r.get("kinds", ()), len(r["seconds"]))  # noqa: E731
    largest = lambda pool: [max(pool, key=first)] if pool else []  # noqa: E731
    pools = [(None, largest([r for r in same_task if r["config"] == config])), (None, largest(same_task)),
             (f"{len(alike)} runs of other tasks, same settings", alike), (f"{len(others)} runs of other tasks", others)]
    on_kind = [(label, pool) for label, pool in pools if any(kind in r.get("kinds", ()) for r in pool)]
    label, pool = (on_kind or [(label, pool) for label, pool in pools if pool] or pools[-1:])[0]
    return (label or pool[0]["name"].split("/", 1)[1]), pool
