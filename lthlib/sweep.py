"""Sweeps on Ray: every (task, seed, variant) of a grid is one Ray task running the family's notebook.

Each task executes the notebook with papermill for one seed, writing into the same run directories
a single run would use, so `load_results()` sees the whole grid with no merge step, and the executed
notebook lands next to its results (`<run root>/seed_<s>/notebook.ipynb`). Finished runs are
skipped, and so is a seed whose every ticket is in the run's published summary (a fresh checkout has
the summaries, not the run directories); a killed sweep resumes (each run resumes at its last
unfinished ticket); a failing task is retried a bounded number of times, then reported, while the
others go on.

Ray is the optional `cluster` extra: the library and the notebooks never need it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from lthlib import families
from lthlib.family import Family
from lthlib.runs import check_seeds, run_root, run_settings, tickets_done, tickets_per_seed
from lthlib.siblings import lent_tickets
from lthlib import parameters
from lthlib.parameters import notebook_defaults
from lthlib.data_needed import planning
from lthlib.experiment import check_dense_only, from_parameters
from lthlib.paths import resolve
from lthlib.publishing import executed_seeds, prepare_for_book, publish, published_tickets, summary_path


@dataclass
class SweepTask:
    family: str
    task: str
    seed: int
    variant: str
    parameters: dict[str, Any]  # every notebook parameter of this task
    root: Path | None = None  # the run directory; None when the parameters are invalid
    error: str = ""
    status: str = "pending"
    wall_time_s: float = 0.0
    notebook: Path | None = field(default=None)
    needs_data: list[str] = field(default_factory=list)  # planned `without_data`: the datasets it will need
    config: Any = None  # the family config the task trains (its overrides applied)
    published: bool = False  # every planned ticket of this seed is in the run's published summary
    lottery: Any = None  # the Lottery the task runs


def plan(family: str, tasks=None, seeds=(0, 1, 2), variants=("iterative-late",), preset: str = "cpu",
         runs_dir: str | Path = "data/runs", levels: int | None = None, local: bool = True, gpus_per_task: float = 0,
         publish_to: str | Path | None = None, without_data: bool = False, **parameters: Any) -> list[SweepTask]:
    """The grid, one SweepTask per (task, seed, variant), with its run directory.

    `levels` None: the family notebook's default. `without_data` (a dry run): a dataset that is not here is
    noted in the task's `needs_data` instead of failing it, so a grid is planned where it will not train.

    `local`: the tasks run on this machine, which must then have the device asked for; on a cluster
    (local=False) "auto" means cuda where tasks get GPUs (`gpus_per_task`), else cpu. With `publish_to`,
    a task whose seed is complete in the summaries there is marked `published` (nothing left to train).

    A task whose parameters are invalid is kept, with its error, so the sweep reports it as failed
    instead of refusing the whole grid.
    """
    spec, seeds = families.get(family), check_seeds(seeds)
    runs_dir = resolve(runs_dir)
    if levels is None:
        levels = notebook_defaults(Path(spec.notebook).stem)["levels"]
    grid = []
    for task in tasks or spec.paper_tasks:
        for variant in variants:
            for seed in seeds:
                notebook_parameters = {"preset": preset, "seeds": [seed], "variant": variant, "levels": levels,
                                       "runs_dir": str(runs_dir), "workers": 1, **spec.one_run_per_notebook,
                                       **parameters}
                if spec.task_parameter:
                    notebook_parameters[spec.task_parameter] = task
                item = SweepTask(family, task, seed, variant, notebook_parameters)
                with (planning() if without_data else nullcontext()) as needs:
                    plan_task(item, spec, local, gpus_per_task, publish_to, runs_dir, levels)
                item.needs_data = needs or []
                grid.append(item)
    return grid


def plan_task(item: SweepTask, spec: Family, local: bool, gpus_per_task: float, publish_to, runs_dir: Path,
              levels: int) -> None:
    """`item`'s config, lottery and run directory from its notebook parameters, or its error."""
    notebook_parameters, seed = item.parameters, item.seed
    try:
        check_notebook_parameters(spec, notebook_parameters)
        values = notebook_defaults(Path(spec.notebook).stem) | notebook_parameters
        if not local:  # the device of a cluster's worker: "auto" is cuda where tasks get GPUs
            values["device"] = ("cuda" if gpus_per_task else "cpu") if values["device"] == "auto" \
                else values["device"]
        config, lottery, _ = from_parameters(spec, values, announce=False, device_here=local)
        check_dense_only(config, levels)
        if gpus_per_task >= 2 and hasattr(config, "ranks") and "ranks" not in values["overrides"]:
            # a task given several GPUs trains each ticket on all of them (lthlib.data_parallel)
            notebook_parameters["overrides"] = {**values["overrides"], "ranks": int(gpus_per_task)}
            values["overrides"] = notebook_parameters["overrides"]
            config, lottery, _ = from_parameters(spec, values, announce=False, device_here=local)
        if "precision" not in values["overrides"] and hasattr(config, "precision"):
            # the planner's default (it may hang on the machine's bf16 support), pinned so that
            # a worker on other hardware trains, and files, the same run
            notebook_parameters["overrides"] = {**values["overrides"], "precision": config.precision}
        item.root, item.config = run_root(runs_dir, spec, config, lottery), config
        # pinned as the run was started where not given, so the notebook trains what is planned
        item.lottery = lottery.as_started(item.root, summary_path(item.root, resolve(publish_to))
                                          if publish_to is not None else None)
        notebook_parameters["random_tickets"] = item.lottery.random_tickets
        item.notebook = item.root / f"seed_{seed}" / "notebook.ipynb"
        item.published = publish_to is not None and is_published(item, publish_to)
    except (ValueError, FileNotFoundError) as e:
        item.error, item.status = str(e), "failed"


def check_notebook_parameters(spec: Family, values: dict[str, Any]) -> None:
    """What the notebook itself checks first (`lthlib.parameters`), and `workers`, which the lottery
    checks only once it runs."""
    parameters.check_values(values, Path(spec.notebook).stem)
    if not isinstance(values["workers"], int) or values["workers"] < 1:
        raise ValueError(f"workers must be a positive integer, got {values['workers']!r}")


def planned_tickets(item: SweepTask) -> int:
    return tickets_per_seed(item.parameters["levels"], item.parameters.get("random_tickets", True))


def is_published(item: SweepTask, publish_to: str | Path) -> bool:
    """Every planned ticket of the task's seed is in its run's summary under `publish_to`."""
    levels, random_tickets = item.parameters["levels"], item.parameters.get("random_tickets", True)
    have = {(r["level"], r["ticket"]) for r in published_tickets(item.root, resolve(publish_to), item.seed)
            if r["level"] <= levels and (random_tickets or r["ticket"] != "random")}
    return len(have) >= planned_tickets(item)


def is_finished(item: SweepTask) -> bool:
    return item.root is not None and tickets_left(item) == 0


def _execute(notebook: str, out: str, parameters: dict, threads: int | None = None) -> float:
    """Run the notebook with papermill; returns its wall time. `threads`: a Ray task's CPUs, which its kernel
    gets as OMP_NUM_THREADS, the lottery's default thread count (two tasks of 2 torch threads each on 2 cores
    trained an Acrobot-v1 net 12x slower than two of 1 thread)."""
    import papermill

    before = os.environ.get("OMP_NUM_THREADS")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # the kernel papermill starts inherits it
    start = time.perf_counter()
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(notebook, out, parameters=parameters, progress_bar=False,
                                   cwd=str(resolve(".")), kernel_name="python3")
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
    return time.perf_counter() - start


def run_sweep(grid: list[SweepTask], address: str | None = None, cpus_per_task: float = 1,
              gpus_per_task: float = 0, max_retries: int = 2, workers: int | None = None,
              publish_to: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Run every unfinished task of `grid` on Ray; returns the summary table (also printed as tasks end).

    With `publish_to` (e.g. "data/results"), each run's summary is written there at the end, where
    the book reads it (merged with what was published before: `publishing.publish`), and so is the
    executed notebook of each run that this machine holds and the published one does not show in full
    (`publish_notebooks`); a seed already complete there is skipped.
    """
    import ray

    pending = []
    for item in grid:
        if item.status == "failed":
            continue
        if publish_to and item.root is not None and not item.published:
            item.published = is_published(item, publish_to)
        if item.published:
            item.status = "skipped (published)"
        elif is_finished(item):
            item.status = "skipped (finished)"
        else:
            pending.append(item)

    bar = tqdm(total=len(grid), desc="sweep", unit="task", disable=not progress)
    for item in grid:
        if item.status != "pending":
            bar.update(1)
            bar.write(_line(item))
    if pending:
        # without an address, start a private Ray: ray.init() alone joins any cluster already running on the machine
        init = {"address": address} if address else {"address": "local",
                                                     "num_cpus": workers * cpus_per_task if workers else None}
        ray.init(**init, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"env_vars": worker_env_vars()})
        execute = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=max_retries,
                             retry_exceptions=True)(_execute)
        notebooks = {item.family: str(resolve(families.get(item.family).notebook)) for item in pending}
        # a notebook given publish_to also publishes what its family adds (e.g. Atari's random-policy baseline)
        extra = {"publish_to": str(resolve(publish_to))} if publish_to else {}
        threads = max(1, int(cpus_per_task))
        futures = {execute.remote(notebooks[item.family], str(item.notebook), item.parameters | extra, threads): item
                   for item in pending}
        for item in pending:
            item.status = "running"
        remaining = list(futures)
        while remaining:
            done, remaining = ray.wait(remaining, num_returns=1)
            item = futures[done[0]]
            try:
                item.wall_time_s = ray.get(done[0])
                item.status = "finished"
            except Exception as e:  # a task that failed every retry: report it, the others go on
                item.status, item.error = "failed", _short(e)
            bar.update(1)
            bar.write(_line(item))
    bar.close()
    if publish_to:
        for root in sorted({i.root for i in grid if i.root is not None and (i.root / "settings.json").exists()}):
            publish(root, resolve(publish_to))
        publish_notebooks(grid, publish_to, progress)
    return summary(grid)


def publish_notebooks(grid: list[SweepTask], publish_to: str | Path, progress: bool = True) -> list[Path]:
    """For each run of the grid whose directory is on this machine, its notebook executed once more with
    every seed the directory holds complete (a finished run only re-plots), published next to the run's
    summary as `<family>/<task>/<run>.ipynb`, where the book lists it; only where the published notebook
    is missing or shows fewer seeds. One that shows a seed this machine does not hold (trained elsewhere)
    is replaced only by one that shows more seeds in all. It executes beside the run first and moves
    into place only once it has run through, so a killed sweep never leaves a half-executed notebook
    among the results."""
    published = []
    for root, item in sorted({i.root: i for i in grid if i.root is not None and i.root.exists()}.items()):
        levels, random_tickets = item.parameters["levels"], item.parameters.get("random_tickets", True)
        if levels == 0:  # a dense-only run (a control) has no curve to show: the chapters' tables read its summary
            continue
        seeds = sorted(seed for seed in (int(d.name.removeprefix("seed_")) for d in root.glob("seed_*"))
                       if tickets_done(root, [seed], levels, random_tickets) >= planned_tickets(item))
        out = resolve(publish_to) / item.family / item.task / f"{root.name}.ipynb"
        shown = executed_seeds(out)
        if not seeds or set(shown) == set(seeds):
            continue
        if not set(shown) <= set(seeds) and len(shown) >= len(seeds):
            tqdm.write(f"kept {out}: it shows seeds {shown}, and this machine holds {seeds} complete")
            continue
        staged = root / "publishing.ipynb"
        parameters = item.parameters | {"seeds": seeds, "publish_to": str(resolve(publish_to))}
        if progress:
            tqdm.write(f"publishing the notebook of {root.name}, seeds {seeds} -> {out}")
        _execute(str(resolve(families.get(item.family).notebook)), str(staged), parameters)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, out)
        prepare_for_book(out)
        published.append(out)
    return published


def worker_env_vars() -> dict[str, str]:
    """What every task's environment gets from the sweep's: the data directories ($LTH_WIKITEXT2_DIR,
    $LTH_MULTI30K_DIR, ...), which workers of a cluster started apart (`ray start`) would otherwise
    lack, and unbuffered output."""
    return {"PYTHONUNBUFFERED": "1", **{k: v for k, v in os.environ.items() if k.startswith("LTH_")}}


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    lines = [line for line in text if "Error" in line] or text
    return lines[-1][:300] if lines else type(error).__name__


def _line(item: SweepTask) -> str:
    where = f" -> {item.notebook}" if item.notebook else ""
    why = f": {item.error}" if item.error else ""
    return f"{item.status:>18}  {item.family} {item.task} seed {item.seed} {item.variant} ({item.wall_time_s:.0f}s){why}{where}"


def summary(grid: list[SweepTask]) -> pd.DataFrame:
    return pd.DataFrame([
        {"family": i.family, "task": i.task, "seed": i.seed, "variant": i.variant, "status": i.status,
         "wall_time_s": round(i.wall_time_s, 1), "notebook": str(i.notebook or ""), "error": i.error}
        for i in grid
    ])


def tickets_left(item: SweepTask) -> int:
    """The task's tickets still to train: not on disk, and not lent now by a sibling run (none for a
    published seed)."""
    if item.published:
        return 0
    done = (tickets_done(item.root, [item.seed], item.parameters["levels"], item.parameters.get("random_tickets", True))
            if item.root is not None and item.root.exists() else 0)
    return planned_tickets(item) - done - lent(item)


def lent(item: SweepTask) -> int:
    """The task's tickets a sibling run (another variant with the same dense net) would lend it now."""
    if item.lottery is None or item.published:
        return 0
    settings = json.loads(json.dumps(run_settings(families.get(item.family), item.config, item.lottery)))
    return lent_tickets(item.root, item.seed, item.lottery, settings)  # (settings as settings.json holds them)


def describe(grid: list[SweepTask]) -> str:
    """Every task of the grid, a line each, and the total."""
    def line(i: SweepTask) -> str:
        total, left = planned_tickets(i), tickets_left(i)
        copied = lent(i)
        done = (" (published)" if i.published else f" ({total - left - copied} done, {copied} from a sibling run)"
                if copied else f" ({total - left} done)" if left < total else "")
        return f"  {i.task} seed {i.seed} {i.variant}: {total} tickets{done} -> {i.root}"

    tickets = sum(planned_tickets(i) for i in grid)
    left = sum(tickets_left(i) for i in grid)
    copied = sum(lent(i) for i in grid)
    done = (f", {tickets - left - copied} of them done" if left + copied < tickets else "") + (
        f", {copied} to copy from sibling runs" if copied else "")
    return "\n".join([line(i) for i in grid] + [f"{len(grid)} tasks (task x seed x variant), {tickets} tickets{done}"])
