"""The lottery loop, written once for every family.

Per seed: train the dense net from its initial weights (capturing the rewind point), then for each
level k = 1..levels: prune to r_k -> rewind the survivors -> train the winning ticket (WT) -> train a
random ticket (RT) with the same mask and freshly drawn weights. Each ticket trains the config's
full budget with a fresh optimizer (so a late-rewound WT sees j steps more than the dense net; see
book/method.md). Every artifact is written
atomically as soon as it exists, so a rerun skips what is done and a killed run resumes where it
stopped.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn
from tqdm.auto import tqdm

from lthlib import resume
from lthlib.family import Family
from lthlib.machine import differences, machine
from lthlib.masks import Mask
from lthlib.paths import check_directory
from lthlib.progress import TextProgress
from lthlib.pruning import check_levels as check_pruning_levels, fraction_pruned_at, prune_global
from lthlib.runs import (Lottery, check_seeds, derived_seed, levels_in_training, level_dir, recorded_settings, run_root,
                         run_settings, tickets_done)
from lthlib.siblings import reuse_sibling_tickets
from lthlib.atomic import atomic_torch_save, atomic_write_json, read_json


def _record(ticket: str, seed: int, level: int, mask: Mask, result: dict, wall: float) -> dict:
    return {
        "ticket": ticket,
        "seed": seed,
        "level": level,
        "fraction_pruned": mask.fraction_pruned(),
        "layer_fractions_pruned": mask.layer_fractions_pruned(),
        "wall_time_s": wall,
        "machine": machine(),
        **result,
    }


def winning_ticket(family: Family, config: Any, mask: Mask, rewind_state: dict) -> nn.Module:
    """The survivors of `mask` rewound to `rewind_state` (the rewind point, or the initial weights)."""
    model = family.build_model(config, 0)
    model.load_state_dict(rewind_state)
    mask.apply(model)
    return model


def random_ticket(family: Family, config: Any, mask: Mask, seed: int) -> nn.Module:
    """The same mask over weights re-drawn from the model's own initialization, with `seed`."""
    model = family.build_model(config, seed)
    mask.apply(model)
    return model


def release_memory() -> None:
    """Give the heap pages a finished ticket freed back to the OS.

    glibc keeps them otherwise, and with gymnasium's Box2D LunarLander (which holds ~1.7 KB per
    env step until its envs close) a worker's RSS grew by ~400 MB per ticket, 12 GB after ~30.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass


def ticket_config(family: Family, config: Any, root: Path, seed: int) -> Any:
    """The config a pruned ticket trains with: the family may set it from the seed's dense net
    (classic control's equal-updates control stops every ticket after the dense net's updates)."""
    if not hasattr(family, "ticket_config"):
        return config
    return family.ticket_config(config, read_json(level_dir(root, seed, 0) / "dense.json"))


@contextmanager
def pinned_threads(threads: int | None):
    """torch's thread count for one ticket, restored after. On some CPUs (Intel with AMX) the LSTM's and the
    Transformer's numbers depend on it, so a ticket trains on the run's count wherever it runs: in the
    notebook's own process or in a worker, fresh or resumed."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_ticket(family, config, model, mask, seed, level, ticket, out: Path, rewind_hook=None, threads=None):
    """Train one ticket on `threads` torch threads and write its record; families with long tickets
    (`resumes_inside_ticket`) also save their training state as they go, so that a killed ticket resumes
    (see lthlib.resume). A ticket resumed on another machine, kernels or thread count says so, on the
    terminal and in its record (`resumed_from`): its numbers are no longer those of an uninterrupted one."""
    with pinned_threads(threads):
        start = time.perf_counter()
        extra = {}
        if getattr(family, "resumes_inside_ticket", False):
            extra["checkpoint"] = resume.for_config(out / f"{ticket}.resume.pt", config)
        result = family.train(model, mask, config, derived_seed(seed, level, ticket), rewind_hook, **extra)
        record = _record(ticket, seed, level, mask, result, time.perf_counter() - start)
    changed = extra["checkpoint"].machine_changes if extra else {}
    if changed:
        record["resumed_from"] = {k: before for k, (before, _) in changed.items()}
    if ticket != "random":
        atomic_torch_save(model.state_dict(), out / "trained.pt")
    atomic_write_json(record, out / f"{ticket}.json")
    if extra:
        extra["checkpoint"].clear()
    release_memory()


def _ensure_mask(root: Path, seed: int, level: int, lottery: Lottery) -> Path:
    """The level's mask, pruned from the previous level's (iterative) or the dense net's (one-shot) weights."""
    mask_path = level_dir(root, seed, level) / "mask.pt"
    if not mask_path.exists():
        source = level_dir(root, seed, level - 1 if lottery.iterative else 0)
        if not (source / "trained.pt").exists():
            raise FileNotFoundError(
                f"{source / 'trained.pt'} is missing (results without weights?): "
                f"level {level} is pruned from it; delete {root} to rerun from scratch"
            )
        trained = torch.load(source / "trained.pt", weights_only=True)
        prune_global(trained, Mask.load(source / "mask.pt"), fraction_pruned_at(level, lottery.pruning_rate)).save(mask_path)
    return mask_path


def run_seed(family: Family, config: Any, lottery: Lottery, seed: int, root: Path, on_ticket=None,
             tickets: str = "all", poll_s: float = 2.0, threads: int | None = None) -> None:
    """All levels of one seed, each ticket on `threads` torch threads (None: as many as now); skips what
    is already on disk.

    tickets="winning" trains the dense net and the winning tickets and writes every mask;
    tickets="random" trains the random tickets, each as soon as its level's mask is on disk. The two
    can run in parallel processes: a random ticket needs only its mask, not the winning ticket's weights.
    """
    if tickets not in ("all", "winning", "random"):
        raise ValueError(f"tickets must be 'all', 'winning' or 'random', got {tickets!r}")
    lottery = lottery.as_started(root)
    seed_dir = root / f"seed_{seed}"
    init_path, rewind_path = seed_dir / "init.pt", seed_dir / "rewind.pt"
    on_ticket = on_ticket or (lambda: None)
    train_winning = tickets in ("all", "winning")
    train_random = tickets in ("all", "random") and lottery.random_tickets

    dense_dir = level_dir(root, seed, 0)
    if train_winning and not (dense_dir / "dense.json").exists():
        reuse_sibling_tickets(family, config, root, seed, lottery)
    if train_winning and not init_path.exists():
        atomic_torch_save(family.build_model(config, seed).state_dict(), init_path)

    if train_winning and not (dense_dir / "dense.json").exists():
        model = family.build_model(config, 0)
        model.load_state_dict(torch.load(init_path, weights_only=True))
        mask = Mask.ones(model, lottery.exclude)
        mask.save(dense_dir / "mask.pt")

        def capture_rewind_point(m):
            atomic_torch_save(m.state_dict(), rewind_path)

        if not (dense_dir / "dense.resume.pt").exists():  # a dense net resumed past its rewind point wrote it before
            rewind_path.unlink(missing_ok=True)
        train_ticket(family, config, model, mask, seed, 0, "dense", dense_dir,
                      capture_rewind_point if lottery.late_rewinding else None, threads)
        if lottery.late_rewinding and not rewind_path.exists():
            raise RuntimeError("the trainer never reached its rewind point: train longer or rewind earlier")
        on_ticket()
    if train_winning and not lottery.iterative:  # one-shot masks all come from the dense net: write them now
        for level in range(1, lottery.levels + 1):
            _ensure_mask(root, seed, level, lottery)

    for level in range(1, lottery.levels + 1):
        out = level_dir(root, seed, level)
        if train_winning and not (out / "winning.json").exists():
            mask = Mask.load(_ensure_mask(root, seed, level, lottery))
            rewind_state = torch.load(rewind_path if lottery.late_rewinding else init_path, weights_only=True)
            model = winning_ticket(family, config, mask, rewind_state)
            train_ticket(family, ticket_config(family, config, root, seed), model, mask, seed, level, "winning", out,
                          threads=threads)
            on_ticket()
        if train_random and not (out / "random.json").exists():
            if train_winning:
                _ensure_mask(root, seed, level, lottery)
            while not (out / "mask.pt").exists():  # the winning-ticket process writes it
                time.sleep(poll_s)
            if (out / "random.json").exists():  # copied from a sibling run meanwhile
                continue
            mask = Mask.load(out / "mask.pt")
            model = random_ticket(family, config, mask, derived_seed(seed, level, "random-init"))
            train_ticket(family, ticket_config(family, config, root, seed), model, mask, seed, level, "random", out,
                          threads=threads)
            on_ticket()


def check_levels(family: Family, config: Any, lottery: Lottery) -> None:
    """`pruning.check_levels` for a run started from the library: every level prunes a weight more than the one
    before and leaves one alive (the notebooks and `lth sweep` check it already, in `experiment.prepare`)."""
    if lottery.levels:
        check_pruning_levels(lottery.levels, lottery.pruning_rate, prunable_weights(family, config, lottery.exclude))


@lru_cache(maxsize=16)
def prunable_weights(family: Family, config: Any, exclude: tuple[str, ...]) -> int:
    """How many weights the lottery may prune: the model's, built on the CPU, leaving the RNG as it was."""
    on_cpu = dataclasses.replace(config, device="cpu") if hasattr(config, "device") else config
    with torch.random.fork_rng(devices=[]):
        model = family.build_model(on_cpu, 0)
    return Mask.ones(model, exclude).total


def split_seeds(seeds: int, workers: int, levels: int) -> bool:
    """Whether splitting each seed into a winning and a random process finishes sooner.

    In units of one ticket's time: whole seeds side by side take ceil(S / W) * (1 + 2L); split seeds
    take about ceil(2S / W) * (1 + L) (the random process waits while the dense net trains). On 2
    workers that splits 1 or 3 seeds (3 seeds: 63 instead of 82 at 20 levels), not 2.
    """
    return levels > 0 and math.ceil(2 * seeds / workers) * (1 + levels) < math.ceil(seeds / workers) * (1 + 2 * levels)


def machines_before(root: Path, seeds: list[int], threads: int) -> int:
    """How many finished tickets of these seeds say they were computed on another machine, other kernels
    or another thread count (lthlib.machine.SAME_ARITHMETIC) than this process, on `threads`, computes now."""
    here = machine() | {"threads": threads}
    records = (read_json(p) for s in seeds for p in (root / f"seed_{s}").glob("level_*/*.json"))
    return sum(bool(differences(r.get("machine"), here)) for r in records)


def default_threads(workers: int) -> int:
    """torch threads per ticket where the run names none: the cores this process was given, shared by the
    workers. Given: $OMP_NUM_THREADS where it is set (torch's own default reads it; a sweep sets it to each
    task's CPUs, so that tasks side by side do not each take the whole machine), else the machine's cores."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    cores = int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)
    return max(1, cores // workers)


def _stop_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the process that started it dies, so that a killed notebook
    kernel leaves no workers training on unseen (and beside the rerun that resumes their tickets)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != multiprocessing.parent_process().pid:  # it died before that took effect
        os._exit(1)


def _run_seed_in_worker(family, config, lottery, seed, root, threads, tickets):
    _stop_with_parent()
    torch.set_num_threads(threads)
    run_seed(family, config, lottery, seed, root, tickets=tickets, threads=threads)


def run_lottery(
    family: Family,
    config: Any,
    lottery: Lottery = Lottery(),
    seeds=(0, 1, 2),
    runs_dir: str | Path = "data/runs",
    workers: int = 1,
    progress: bool = True,
    log: TextIO | None = None,
    on_ticket: Callable[[Path], None] | None = None,
    threads: int | None = None,
) -> Path:
    """Run (or resume) every seed of a lottery experiment; returns the run's root directory.

    Every ticket trains on `threads` torch threads (default: cpu_count // workers), in this process
    as in a worker, and its record says how many (`machine.threads`). With workers > 1 the work runs
    in that many processes: whole seeds side by side, or, where that finishes sooner (see `split_seeds`), each
    seed's random tickets in a process of their own next to its winning tickets. Either way the results
    are the same. The bar counts finished tickets on disk, so it also shows what earlier runs did; with
    `log` (e.g. the terminal under papermill) each finished ticket also prints a line of text there.
    `on_ticket(root)` is called whenever more tickets are finished on disk (e.g. to publish them, so that
    a run cut short still leaves its summary).
    """
    seeds = check_seeds(seeds)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    threads = default_threads(workers) if threads is None else threads
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer (torch threads per ticket), got {threads!r}")
    check_directory("runs_dir", runs_dir)
    check_levels(family, config, lottery)
    root = run_root(runs_dir, family, config, lottery)
    lottery = lottery.as_started(root)
    atomic_write_json(run_settings(family, config, lottery) | recorded_settings(family, config, lottery),
                      root / "settings.json")
    total = len(seeds) * lottery.tickets_per_seed
    desc = f"{family.name} {config.task} {lottery.variant}"
    bar = tqdm(total=total, desc=desc, unit="ticket", disable=not progress)
    text = TextProgress(log, desc, total, tickets_done(root, seeds, lottery.levels, lottery.random_tickets)) if log is not None else None

    def refresh():
        done = tickets_done(root, seeds, lottery.levels, lottery.random_tickets)
        if on_ticket is not None and done > bar.n:
            on_ticket(root)
        bar.update(done - bar.n)
        if text is not None:
            text.update(done, levels_in_training(root, seeds, lottery.levels, lottery.random_tickets))

    refresh()
    if other := machines_before(root, seeds, threads):
        message = (f"note: {other} of this run's finished tickets were computed on another machine, other kernels or "
                   f"another thread count than the tickets it trains now (their records' `machine`): a seed continued "
                   f"here will not match, bit for bit, one run through on either")
        print(message, file=log or sys.stderr, flush=True)
    try:
        if workers == 1:
            for seed in seeds:
                run_seed(family, config, lottery, seed, root, on_ticket=refresh, threads=threads)
        else:
            context = multiprocessing.get_context("spawn")
            split = lottery.random_tickets and split_seeds(len(seeds), workers, lottery.levels)
            # a seed's winning part is queued before its random part, so a random part never holds a
            # process while the winning tickets it waits for are still queued
            parts = [(s, part) for s in seeds for part in (("winning", "random") if split else ("all",))]
            with ProcessPoolExecutor(min(workers, len(parts)), mp_context=context) as pool:
                jobs = [pool.submit(_run_seed_in_worker, family, config, lottery, s, root, threads, part)
                        for s, part in parts]
                try:
                    while wait(jobs, timeout=1.0).not_done:
                        refresh()
                        if any(job.done() and job.exception() for job in jobs):
                            break  # a failed winning-ticket process would leave its random tickets waiting
                    for job in jobs:
                        if job.done() and job.exception():
                            raise job.exception()
                except BaseException:  # Ctrl-C or a worker's error: stop the workers; finished tickets are on disk
                    for process in multiprocessing.active_children():
                        process.terminate()
                    raise
                for job in jobs:
                    job.result()  # re-raises a worker's error
        refresh()
    finally:
        bar.close()
    return root
