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
import gc
import hashlib
import math
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from lthlib.configs import hashed_fields, paper_differences
from lthlib.family import Family
from lthlib.masks import Mask
from lthlib.pruning import check_pruning_rate, fraction_pruned_at, prune_global
from lthlib.store import RECORDED, atomic_copy, atomic_torch_save, atomic_write_json, read_json, run_name

# variant -> (iterative pruning?, late rewinding?)
VARIANTS = {
    "iterative-late": (True, True),
    "iterative-reset": (True, False),
    "oneshot-late": (False, True),
    "oneshot-reset": (False, False),
}


@dataclass(frozen=True)
class Lottery:
    """How tickets are found; the family's config says how each is trained."""

    variant: str = "iterative-late"  # see VARIANTS: iterative or one-shot; late rewinding or reset to init
    pruning_rate: float = 0.2  # p: fraction of the alive weights each iteration removes
    levels: int = 20  # pruning iterations after the dense run (level 0)
    exclude: tuple[str, ...] = ()  # glob patterns of parameter names never pruned, e.g. ("embedding.*",)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {sorted(VARIANTS)}")
        check_pruning_rate(self.pruning_rate)
        if not isinstance(self.levels, int) or self.levels < 0:
            raise ValueError(f"levels must be a non-negative integer, got {self.levels!r}")

    @property
    def iterative(self) -> bool:
        return VARIANTS[self.variant][0]

    @property
    def late_rewinding(self) -> bool:
        return VARIANTS[self.variant][1]


def check_seeds(seeds) -> list[int]:
    """A list of non-negative ints; also accepts "0,1,2" or "[0, 1, 2]" (papermill's -p passes text)."""
    if isinstance(seeds, str):
        try:
            seeds = [int(s) for s in seeds.strip().strip("[]").split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"seeds must be a list of non-negative integers, got {seeds!r}") from None
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run, it is no new "
                         f"evidence), got {seeds!r}: {repeated} more than once")
    return seeds


def derived_seed(seed: int, level: int, purpose: str) -> int:
    """A seed for one purpose at one level, independent of every other (stable across runs)."""
    digest = hashlib.sha256(f"{seed}/{level}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def run_settings(family: Family, config: Any, lottery: Lottery) -> dict[str, Any]:
    """Everything that changes a ticket's result; its hash names the run directory.

    `levels` is left out on purpose: asking for more levels extends the same run. So are config
    fields declared with `field(metadata={"hash": False})`, such as where the data lives.
    """
    return {
        "family": family.name,
        "task": config.task,
        "variant": lottery.variant,
        "pruning_rate": lottery.pruning_rate,
        "exclude": list(lottery.exclude),
        "config": hashed_fields(config),
    }


def recorded_settings(family: Family, config: Any, lottery: Lottery) -> dict[str, Any]:
    """What settings.json records beside the hashed settings, for readers of the results (not hashed):
    the rewind point's share of the training budget (0 when rewinding to the initial weights) and how
    the config differs from the paper's preset."""
    differences = paper_differences(family, config)
    return {"rewind_fraction": config.rewind_fraction if lottery.late_rewinding else 0.0,
            "paper_differences": {k: list(v) for k, v in differences.items()}}


def run_root(runs_dir: str | Path, family: Family, config: Any, lottery: Lottery) -> Path:
    task_dir = config.task.replace("/", "_")
    return Path(runs_dir) / family.name / task_dir / run_name(run_settings(family, config, lottery))


def level_dir(root: Path, seed: int, level: int) -> Path:
    return root / f"seed_{seed}" / f"level_{level:02d}"


def tickets_done(root: Path, seeds: list[int], levels: int) -> int:
    done = 0
    for seed in seeds:
        for level in range(levels + 1):
            names = ["dense.json"] if level == 0 else ["winning.json", "random.json"]
            done += sum((level_dir(root, seed, level) / n).exists() for n in names)
    return done


def _record(ticket: str, seed: int, level: int, mask: Mask, result: dict, wall: float) -> dict:
    return {
        "ticket": ticket,
        "seed": seed,
        "level": level,
        "fraction_pruned": mask.fraction_pruned(),
        "layer_fractions_pruned": mask.layer_fractions_pruned(),
        "wall_time_s": wall,
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


def _train_ticket(family, config, model, mask, seed, level, ticket, out: Path, rewind_hook=None):
    start = time.perf_counter()
    result = family.train(model, mask, config, derived_seed(seed, level, ticket), rewind_hook)
    record = _record(ticket, seed, level, mask, result, time.perf_counter() - start)
    if ticket != "random":
        atomic_torch_save(model.state_dict(), out / "trained.pt")
    atomic_write_json(record, out / f"{ticket}.json")
    release_memory()


LOTTERY_SETTINGS = ("variant", "exclude", "pruning_rate", *RECORDED)  # what the dense net does not depend on


def _sibling_runs(root: Path) -> list[Path]:
    """Runs beside `root` whose settings differ from its own only in how they prune and rewind."""
    def dense_settings(run: Path) -> dict:
        return {k: v for k, v in read_json(run / "settings.json").items() if k not in LOTTERY_SETTINGS}

    if not (root / "settings.json").exists() or not root.parent.exists():
        return []
    mine = dense_settings(root)
    return [run for run in sorted(root.parent.iterdir())
            if run != root and (run / "settings.json").exists() and dense_settings(run) == mine]


def _reuse_sibling_tickets(family: Family, config: Any, root: Path, seed: int, lottery: Lottery) -> None:
    """Copy this seed's dense net from a run of another variant, pruning scope or rate with the same
    settings otherwise: all of them train the same dense net (with another scope its mask is rebuilt).
    Level 1 is copied too when the sibling prunes alike and rewinds to the same point (its mask, the
    dense net pruned at r_1, and its tickets are then the same in iterative and one-shot pruning).
    Each level appears at once (a directory rename); copied records name their source run in
    `copied_from`."""
    def settings(run: Path) -> dict:
        return read_json(run / "settings.json")

    def shares_level_1(run: Path) -> bool:
        other = settings(run)
        return (Lottery(variant=other["variant"]).late_rewinding == lottery.late_rewinding
                and tuple(other["exclude"]) == lottery.exclude and other["pruning_rate"] == lottery.pruning_rate)

    seed_files = ["init.pt"] + (["rewind.pt"] if lottery.late_rewinding else [])
    level_files = {0: ["mask.pt", "trained.pt", "dense.json"],
                   1: ["mask.pt", "trained.pt", "winning.json", "random.json"]}
    for sibling in sorted(_sibling_runs(root), key=lambda run: not shares_level_1(run)):
        def have(level: int) -> bool:
            return all((level_dir(sibling, seed, level) / f).exists() for f in level_files[level])

        if not (all((sibling / f"seed_{seed}" / f).exists() for f in seed_files) and have(0)):
            continue
        dense_mask = (None if tuple(settings(sibling)["exclude"]) == lottery.exclude  # another scope: rebuild it
                      else Mask.ones(family.build_model(config, 0), lottery.exclude))
        levels = [0] + ([1] if shares_level_1(sibling) and lottery.levels >= 1 and have(1)
                        and not level_dir(root, seed, 1).exists() else [])
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
        return


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
             tickets: str = "all", poll_s: float = 2.0) -> None:
    """All levels of one seed; skips what is already on disk.

    tickets="winning" trains the dense net and the winning tickets and writes every mask;
    tickets="random" trains the random tickets, each as soon as its level's mask is on disk. The two
    can run in parallel processes: a random ticket needs only its mask, not the winning ticket's weights.
    """
    if tickets not in ("all", "winning", "random"):
        raise ValueError(f"tickets must be 'all', 'winning' or 'random', got {tickets!r}")
    seed_dir = root / f"seed_{seed}"
    init_path, rewind_path = seed_dir / "init.pt", seed_dir / "rewind.pt"
    on_ticket = on_ticket or (lambda: None)
    train_winning, train_random = tickets in ("all", "winning"), tickets in ("all", "random")

    dense_dir = level_dir(root, seed, 0)
    if train_winning and not (dense_dir / "dense.json").exists():
        _reuse_sibling_tickets(family, config, root, seed, lottery)
    if train_winning and not init_path.exists():
        atomic_torch_save(family.build_model(config, seed).state_dict(), init_path)

    if train_winning and not (dense_dir / "dense.json").exists():
        model = family.build_model(config, 0)
        model.load_state_dict(torch.load(init_path, weights_only=True))
        mask = Mask.ones(model, lottery.exclude)
        mask.save(dense_dir / "mask.pt")
        captured = []

        def capture_rewind_point(m):
            atomic_torch_save(m.state_dict(), rewind_path)
            captured.append(True)

        _train_ticket(family, config, model, mask, seed, 0, "dense", dense_dir,
                      capture_rewind_point if lottery.late_rewinding else None)
        if lottery.late_rewinding and not captured:
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
            _train_ticket(family, ticket_config(family, config, root, seed), model, mask, seed, level, "winning", out)
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
            _train_ticket(family, ticket_config(family, config, root, seed), model, mask, seed, level, "random", out)
            on_ticket()


def split_seeds(seeds: int, workers: int, levels: int) -> bool:
    """Whether splitting each seed into a winning and a random process finishes sooner.

    In units of one ticket's time: whole seeds side by side take ceil(S / W) * (1 + 2L); split seeds
    take about ceil(2S / W) * (1 + L) (the random process waits while the dense net trains). On 2
    workers that splits 1 or 3 seeds (3 seeds: 63 instead of 82 at 20 levels), not 2.
    """
    return levels > 0 and math.ceil(2 * seeds / workers) * (1 + levels) < math.ceil(seeds / workers) * (1 + 2 * levels)


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
    run_seed(family, config, lottery, seed, root, tickets=tickets)


def run_lottery(
    family: Family,
    config: Any,
    lottery: Lottery = Lottery(),
    seeds=(0, 1, 2),
    runs_dir: str | Path = "data/runs",
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Run (or resume) every seed of a lottery experiment; returns the run's root directory.

    With workers > 1 the work runs in that many processes (each with cpu_count // workers torch
    threads): whole seeds side by side, or, where that finishes sooner (see `split_seeds`), each
    seed's random tickets in a process of their own next to its winning tickets. Either way the results
    are the same. The bar counts finished tickets on disk, so it also shows what earlier runs did.
    """
    seeds = check_seeds(seeds)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    root = run_root(runs_dir, family, config, lottery)
    atomic_write_json(run_settings(family, config, lottery) | recorded_settings(family, config, lottery),
                      root / "settings.json")
    total = len(seeds) * (1 + 2 * lottery.levels)
    bar = tqdm(total=total, desc=f"{family.name} {config.task} {lottery.variant}", unit="ticket",
               disable=not progress)
    refresh = lambda: bar.update(tickets_done(root, seeds, lottery.levels) - bar.n)  # noqa: E731
    refresh()
    try:
        if workers == 1:
            for seed in seeds:
                run_seed(family, config, lottery, seed, root, on_ticket=refresh)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")
            split = split_seeds(len(seeds), workers, lottery.levels)
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
