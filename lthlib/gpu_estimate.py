"""Hours per ticket on one GPU, estimated (not measured: this project's machines have no GPU).

Training FLOPs = 6 x multiply-adds per sample x samples (a multiply-add is 2 FLOPs; backward costs
twice the forward), divided by an *assumed* effective rate on one H100 in bf16 (989 dense TFLOP/s
peak). The rates are guesses at what each kind of net reaches there, stated so that they can be
checked: `bench/gpu_check.py` measures the real samples/s of every family's paper preset on the GPU
it runs on. Evaluation (decoding the test set, scoring) is left out; Atari adds its emulators, which
run on the node's CPU cores.
"""

from __future__ import annotations

from typing import Any

def gpu_hours_per_ticket(family: str, config: dict[str, Any]) -> float | None:
    """Estimated hours of one H100 per ticket of `config` (a config as a dict): 6 x the family's multiply-adds
    per ticket (`Family.gpu_macs`) at its assumed effective rate (`Family.gpu_tflops`), or longer where
    something else bounds it (`Family.gpu_floor_seconds`, e.g. Atari's emulators); None for families a GPU
    does not help (classic control's small MLPs are bound by the Python loop)."""
    from lthlib import families

    fam = families.get(family)
    if fam.gpu_tflops is None:
        return None
    return max(6 * fam.gpu_macs(config) / (fam.gpu_tflops * 1e12), fam.gpu_floor_seconds(config)) / 3600
