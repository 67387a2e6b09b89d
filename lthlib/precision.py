"""Mixed precision, written once for every trainer: bf16 autocast, or fp16 with a gradient scaler where
a GPU has no bf16.

A config's `precision` field ("fp32", "bf16", "fp16") is part of the run's hash; the `paper` presets
on CUDA get "bf16" (or "fp16") unless told otherwise (`default_precision`), and so does a family's
`cpu` preset where it asks for it and the CPU has bf16 arithmetic (Atari's convs: ~1.8x per step).
Masks are untouched: `MaskedTraining` zeroes gradients and weights in float32 after every step, so
pruned weights stay exactly zero under either.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and not str(device).startswith("cuda"):
        raise ValueError("precision 'fp16' needs a CUDA device (its gradient scaler); on a CPU use 'bf16' or 'fp32'")


def native_bf16_cpu() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX): elsewhere bf16 autocast is emulated
    and slower than fp32."""
    checks = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return any(check() for check in checks if check is not None)  # torch's private probes: absent, no bf16


def default_precision(preset: str, device: str, cpu_bf16: bool = False) -> str:
    """The paper presets on CUDA train in bf16 (fp16 where the GPU has no bf16); with `cpu_bf16` (a family
    whose step bf16 speeds up on a CPU), so does the `cpu` preset on a CPU with native bf16; everything
    else in fp32. The precision is in the run's hash, so an fp32 run elsewhere is another run."""
    if not str(device).startswith("cuda"):
        return "bf16" if cpu_bf16 and preset == "cpu" and native_bf16_cpu() else "fp32"
    if preset != "paper":
        return "fp32"
    # a planner without a GPU (a cluster's head node) assumes bf16, which every GPU since Ampere has
    return "fp16" if torch.cuda.is_available() and not torch.cuda.is_bf16_supported() else "bf16"


def autocast(precision: str, device: str):
    """The forward pass's context: autocast to bf16 / fp16, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class Stepper:
    """backward + (unscale, clip) + optimizer step, with fp16's gradient scaler where it is needed."""

    def __init__(self, optimizer: torch.optim.Optimizer, precision: str):
        self.optimizer = optimizer
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def step(self, parameters, max_grad_norm: float | None = None) -> None:
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        if max_grad_norm:
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def state_dict(self) -> dict:
        """The gradient scaler's state (fp16), for resuming inside a ticket."""
        return self.scaler.state_dict() if self.scaler else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler and state:
            self.scaler.load_state_dict(state)
