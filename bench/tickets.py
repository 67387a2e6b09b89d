"""Tickets per hour at each family's `cpu` preset with 2 workers, before and after the speed-ups.

Each side trains a tenth of a ticket (every budget and evaluation of the preset cut by 10) in 2 processes
at once, one torch thread each, as `lth sweep --workers 2` runs tickets; the sides alternate (before,
after, before, after), best of 2, so other work on the machine slows both alike. Each process first
trains a small slice untimed (imports, data, tokenizer), so the figure is training and evaluation only.
"Before" turns off the speed-up that is a config field of each family (the ones that change no number,
such as the Atari net's ReLU after its pool, are on both sides, so the speed-ups here are lower bounds):

- classic control: gymnasium's SyncVectorEnv (`env_backend="gymnasium"`) against envpool;
- LSTM and Transformer: Adam's per-tensor loop (`fused_adam=False`) against the fused kernel;
- Atari: fp32 against the cpu preset's precision (bf16 autocast where the CPU has bf16 arithmetic).

Beside them, the `sweep` figures: tickets per hour of the committed cpu-preset runs, 2 x 3600 / their
mean ticket wall time (the grid's sweeps run 2 workers), which include everything a ticket does.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import time
from pathlib import Path

from lthlib.precision import default_precision

K = 10  # a side trains 1/K of a ticket
# family: (task, overrides cutting the cpu preset's budget by K, a tiny warm-up slice, before, after)
SLICES = {
    "classic_control": ("Acrobot-v1", {"epochs": 1}, {"episodes_per_epoch": 5, "epochs": 2},
                        {"env_backend": "gymnasium"}, {"env_backend": "envpool"}),
    "lstm_lm": ("WikiText-2", {"train_tokens": 60_000, "eval_tokens": 10_000}, {"train_tokens": 2_000, "eval_tokens": 500},
                {"fused_adam": False}, {"fused_adam": True}),
    "transformer_mt": ("Multi30k", {"updates": 60, "warmup_updates": 15, "checkpoint_every": 3, "test_sentences": 50},
                       {"updates": 6, "warmup_updates": 2, "checkpoint_every": 2, "test_sentences": 2},
                       {"fused_adam": False}, {"fused_adam": True}),
    "atari": ("Seaquest", {"batches_per_epoch": 15}, {"epochs": 1, "batches_per_epoch": 2},
              {"precision": "fp32"}, {"precision": default_precision("cpu", "cpu", cpu_bf16=True)}),
}


def _train_slice(family: str, task: str, warmup: dict, overrides: dict, barrier, out) -> None:
    """In a worker: train the warm-up slice, wait for the other worker, then time the measured slice.
    Puts the seconds, or the error, on `out`; a worker that fails breaks the barrier for the other."""
    try:
        import importlib

        import torch

        from lthlib import Mask

        torch.set_num_threads(1)
        module = importlib.import_module(f"lthlib.families.{family}")
        for timed_slice, fields in ((False, overrides | warmup), (True, overrides)):
            config = module.FAMILY.config(task, "cpu", **fields)
            model = module.build_model(config, 0)
            if timed_slice:
                barrier.wait(timeout=600)  # both workers start the timed slice together
            start = time.perf_counter()
            module.train(model, Mask.ones(model), config, seed=0)
        out.put(time.perf_counter() - start)
    except BaseException as e:  # noqa: BLE001 (reported to the parent, which raises it)
        barrier.abort()
        out.put(f"{type(e).__name__}: {e}")


def _two_workers(family: str, side: dict) -> float:
    """Seconds until both of 2 processes have trained the slice with `side`'s fields."""
    task, cut, warmup, _, _ = SLICES[family]
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_train_slice, args=(family, task, warmup, cut | side, barrier, out))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    answers = []
    while len(answers) < len(workers):
        try:
            answers.append(out.get(timeout=5))
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers):  # killed without a word (e.g. out of memory)
                answers.append(f"a worker died (exit codes {[w.exitcode for w in workers]})")
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()
    errors = [a for a in answers if isinstance(a, str)]
    if errors:
        raise RuntimeError(f"{family} {side}: {errors[0]}")
    return max(answers)


def _sweep_tickets_per_hour(results: Path = Path(__file__).parents[1] / "data" / "results") -> dict:
    """{family/task/run: tickets per hour} of the committed summaries (all at the cpu preset): 2 x 3600 / mean
    ticket wall time."""
    rates = {}
    for path in sorted(results.glob("*/*/*.summary.json")):
        summary = json.loads(path.read_text())
        walls = [t["wall_time_s"] for t in summary["tickets"] if t.get("wall_time_s") and not t.get("copied_from")]
        if len(walls) >= 5:
            rates[f"{path.parts[-3]}/{path.parts[-2]}/{path.name.removesuffix('.summary.json')}"] = {
                "tickets": len(walls), "tickets_per_hour": 2 * 3600 / (sum(walls) / len(walls))}
    return rates


def bench_tickets_per_hour(families=tuple(SLICES), rounds: int = 2) -> dict:
    per_family = {}
    for family in families:
        task, _, _, before, after = SLICES[family]
        best = {"before": float("inf"), "after": float("inf")}
        for _ in range(rounds):
            for name, side in (("before", before), ("after", after)):
                best[name] = min(best[name], _two_workers(family, side))
        per_family[family] = {
            "task": task, "before_path": before, "after_path": after,
            "before_tickets_per_hour": 2 * 3600 / (K * best["before"]),
            "after_tickets_per_hour": 2 * 3600 / (K * best["after"]), "speedup": best["before"] / best["after"]}
    ratio = min(f["speedup"] for f in per_family.values())
    return {"name": "tickets_per_hour", "per_family": per_family, "sweep": _sweep_tickets_per_hour(),
            "slice": f"1/{K} of a cpu-preset ticket, 2 processes at once, best of {rounds}", "ratio": ratio,
            "target": "report (before / after, 2 workers)", "met": True}
