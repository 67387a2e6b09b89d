"""Benchmarks: every figure that matters is a ratio measured side by side in this one process.

    .venv/bin/python bench/run.py            # all of it, about 30 minutes on 2 cores (tickets: ~12)
    .venv/bin/python bench/run.py --only pruning sparse

Prints a table and one JSON line per benchmark, and saves bench/results/<date>-<host>.json (the
book's Performance page plots the latest one). Comparison-only dependencies are the `bench` extra.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from lthlib import Mask, prune_global

from masking import (bench_masking_atari, bench_masking_lstm, bench_masking_lstm_cpu,
                     bench_masking_transformer_cpu)
from rl import bench_a2c, bench_atari_net_limit, bench_atari_throughput, bench_env_backends, bench_sparse_rmsprop
from tickets import bench_tickets_per_hour
from timing import timed

RESULTS = Path(__file__).parent / "results"


# --- 4. pruning at scale --------------------------------------------------------------------------------

_PRUNE_CHILD = r"""
import sys, time, torch
from lthlib import Mask, prune_global
torch.manual_seed(0)
d, ffn, vocab = 1024, 4096, 32768
shapes = {"embed.weight": (vocab, d)}
for side, layers, attn in (("encoder", 6, 4), ("decoder", 6, 8)):
    for i in range(layers):
        for j in range(attn):
            shapes[f"{side}.{i}.attn{j}.weight"] = (d, d)
        shapes[f"{side}.{i}.fc1.weight"] = (ffn, d)
        shapes[f"{side}.{i}.fc2.weight"] = (d, ffn)
        shapes[f"{side}.{i}.fc1.bias"] = (ffn,)
weights = {k: torch.randn(s) for k, s in shapes.items()}
mask = Mask({k: torch.ones(s, dtype=torch.bool) for k, s in shapes.items()})
size = sum(w.numel() * 4 for w in weights.values())

def status(field):  # bytes, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
start = time.perf_counter()
if sys.argv[1] == "ours":
    new = prune_global(weights, mask, 0.2)
else:  # naive: concatenate every magnitude, sort, threshold
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    threshold = flat.sort().values[int(0.2 * flat.numel())]
    new = {k: w.abs() >= threshold for k, w in weights.items()}
seconds = time.perf_counter() - start
peak = status("VmHWM:")
mask_bytes = sum(m.numel() for m in new.values())  # the new mask itself (1 byte per weight) is the result
print(sum(w.numel() for w in weights.values()), size, seconds, peak - before - mask_bytes)
"""


def bench_pruning_at_scale() -> dict:
    out = {}
    for method in ("ours", "naive"):
        line = subprocess.run([sys.executable, "-c", _PRUNE_CHILD, method], capture_output=True, text=True,
                              check=True).stdout.split()
        params, size, seconds, extra = int(line[0]), int(line[1]), float(line[2]), int(line[3])
        out[method] = (seconds, extra)
    (ours_s, ours_extra), (naive_s, naive_extra) = out["ours"], out["naive"]
    return {"name": "global_pruning_210M", "parameters": params, "model_bytes": size,
            "ours_seconds": ours_s, "naive_seconds": naive_s, "ours_extra_memory_x_model": ours_extra / size,
            "naive_extra_memory_x_model": naive_extra / size, "ratio": ours_extra / size, "target": "<= 1.5",
            "met": ours_extra / size <= 1.5}


# --- 5. sparse inference -----------------------------------------------------------------------------

def _sparse_speedups(weight: torch.Tensor, inputs: torch.Tensor, sparsities) -> dict[str, float]:
    """Dense matmul time / CSR matmul time of `weight` (out, in) pruned by magnitude to each sparsity."""
    speedups = {}
    for sparsity in sparsities:
        mask = prune_global({"w": weight}, Mask({"w": torch.ones_like(weight, dtype=torch.bool)}), sparsity)
        pruned = weight * mask["w"]
        csr = pruned.to_sparse_csr()
        with torch.no_grad():
            dense_t = timed(lambda: pruned @ inputs, repeat=5)
            sparse_t = timed(lambda: csr @ inputs, repeat=5)
        assert torch.allclose(pruned @ inputs, csr @ inputs, atol=1e-3)
        speedups[f"{sparsity:.2f}"] = dense_t / sparse_t
    return speedups


def bench_sparse_inference() -> dict:
    torch.manual_seed(0)
    sparsities = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)
    cases = {
        "mlp_256x256_batch32": (torch.randn(256, 256), torch.randn(256, 32)),
        "lstm650_gates_batch30": (torch.randn(4 * 650, 650), torch.randn(650, 30)),
        "transformer_ffn_4096x1024_tokens64": (torch.randn(4096, 1024), torch.randn(1024, 64)),
    }
    result = {"name": "sparse_inference_csr", "speedup_vs_dense": {}}
    for case, (weight, inputs) in cases.items():
        result["speedup_vs_dense"][case] = _sparse_speedups(weight, inputs, sparsities)
    at_90 = [result["speedup_vs_dense"][c]["0.90"] for c in ("mlp_256x256_batch32", "transformer_ffn_4096x1024_tokens64")]
    result.update({"ratio": min(at_90), "target": ">= 1.5 at 90% (MLP and Transformer)", "met": min(at_90) >= 1.5})
    return result


BENCHMARKS = {"a2c": bench_a2c, "masking_lstm": bench_masking_lstm, "masking_lstm_cpu": bench_masking_lstm_cpu,
              "masking_atari": bench_masking_atari, "masking_transformer_cpu": bench_masking_transformer_cpu,
              "env_backends": bench_env_backends, "atari": bench_atari_throughput, "atari_net_limit": bench_atari_net_limit, "pruning": bench_pruning_at_scale,
              "sparse": bench_sparse_inference, "tickets": bench_tickets_per_hour, "sparse_rmsprop": bench_sparse_rmsprop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every side")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        produced = BENCHMARKS[name]()
        for record in produced if isinstance(produced, list) else [produced]:  # a bench may give several
            record["bench_seconds"] = time.perf_counter() - start
            records.append(record)
            print(json.dumps(record), flush=True)
    print()
    print(f"{'benchmark':<28} {'ratio':>8}  {'target':<38} met")
    for r in records:
        print(f"{r['name']:<28} {r['ratio']:>8.2f}  {r['target']:<38} {r['met']}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    path = RESULTS / f"{stamp}-{socket.gethostname()}.json"
    path.write_text(json.dumps({"date": stamp, "host": socket.gethostname(), "machine": platform.machine(),
                                "cpus": torch.get_num_threads(), "torch": torch.__version__,
                                "load_average": list(__import__("os").getloadavg()),
                                "benchmarks": records}, indent=1))
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
