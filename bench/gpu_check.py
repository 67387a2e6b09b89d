"""A device check for a CUDA machine, well under 10 minutes: each family's `paper` preset for a few hundred
updates, dense and masked (half the weights pruned), side by side.

    .venv/bin/python bench/gpu_check.py [--families lstm transformer atari classic]

Prints, per family: samples (or tokens) per second, peak GPU memory, the masked / dense speed ratio
and a line saying whether it passed (trained, finite metric, pruned weights still exactly zero). On a
machine without a CUDA GPU it says so and exits 0. Data: WikiText-2 and Multi30k as the notebooks find
them (the Transformer runs the paper's Base on Multi30k where WMT'14 is absent).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from lthlib import Mask, prune_global


def _budgets():
    """family -> (module, config of the paper preset shrunk to a few hundred updates, what a sample is)."""
    from lthlib.families import atari, classic_control, lstm_lm, transformer_mt

    def transformer():
        try:
            return transformer_mt.config("WMT14", "paper", device="cuda", updates=300, checkpoint_every=100,
                                         average_last=2, test_sentences=100)
        except FileNotFoundError:
            return transformer_mt.config("Multi30k", "paper", device="cuda", updates=300, checkpoint_every=100,
                                         average_last=2, test_sentences=100, vocab_size=8000)

    return {
        "lstm": (lstm_lm, lambda: lstm_lm.config("paper", device="cuda", epochs=2, train_tokens=30 * 50 * 150,
                                                 eval_tokens=50_000), "tokens"),
        "transformer": (transformer_mt, transformer, "tokens"),
        "atari": (atari, lambda: atari.config("Breakout", "paper", device="cuda", epochs=2, batches_per_epoch=150,
                                              last_episodes=16), "env steps"),
        "classic": (classic_control, lambda: classic_control.config("LunarLander-v3", "paper", device="cuda",
                                                                    max_updates=300), "env steps"),
    }


def check(name: str) -> bool:
    module, make, unit = _budgets()[name]
    cfg = make()
    rates, peaks, ok = {}, {}, True
    for kind in ("dense", "masked"):
        model = module.build_model(cfg, 0)
        mask = Mask.ones(model) if kind == "dense" else prune_global(model.state_dict(), Mask.ones(model), 0.5)
        mask.apply(model)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = module.train(model, mask, cfg, seed=0)
        torch.cuda.synchronize()
        rates[kind] = result["stats"]["samples"] / (time.perf_counter() - start)
        peaks[kind] = torch.cuda.max_memory_allocated() / 2**30
        params = dict(model.named_parameters())
        ok &= all(math.isfinite(v) for v in result["metrics"].values() if isinstance(v, float))
        ok &= all(bool((params[n].detach()[~m] == 0).all()) for n, m in mask.items())
    print(f"{name:<12} {rates['dense']:>12,.0f} {unit}/s dense  {rates['masked']:>12,.0f} masked  "
          f"masked/dense {rates['masked'] / rates['dense']:.2f}  peak {max(peaks.values()):.1f} GiB  "
          f"precision {getattr(cfg, 'precision', 'fp32')}  {'PASSED' if ok else 'FAILED'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="*", default=["lstm", "transformer", "atari", "classic"],
                        choices=["lstm", "transformer", "atari", "classic"])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here; nothing to check (run it on a GPU machine)")
        return 0
    print(f"gpu_check on {torch.cuda.get_device_name()} (torch {torch.__version__})")
    results = {name: check(name) for name in args.families}
    print("all passed" if all(results.values()) else f"failed: {[n for n, ok in results.items() if not ok]}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
