"""`LTH_ARITHMETIC=portable`: kernels chosen for the same numbers on every x86 CPU kind, not for speed.

torch, MKL and oneDNN each pick their kernels by the CPU, so a ticket trained on an Intel CPU with AMX
and one trained on an AMD EPYC differ in their last bits, and training makes the bits grow (the
CartPole-v0 dense net agrees through epoch 7 of 20, then drifts). The portable setting asks each for a
branch every x86-64 CPU runs the same way:
- MKL: its `COMPATIBLE` branch (SSE2 without the approximate reciprocals), the one branch MKL documents
  as giving the same results on Intel and non-Intel CPUs (`AVX2` falls back to `AUTO` on AMD);
- ATen: its scalar `default` kernels instead of the AVX2 / AVX-512 ones;
- oneDNN (Atari's convolutions): at most AVX2, which all the project's machines have.
It costs speed (a CartPole-v0 dense net ~1.3x slower here) and it is not a promise across thread counts:
the loop pins a ticket's threads, and a record says how many. Results stay comparable only between
records whose `machine` shows the same setting (lthlib.machine.SAME_ARITHMETIC).

The variables must be set before torch first computes, which is why this runs when lthlib is imported:
set `LTH_ARITHMETIC=portable` in the environment before starting Python, the kernel or `lth sweep`.
"""

from __future__ import annotations

import os
import sys

PORTABLE = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2"}
MODES = ("native", "portable")


def mode() -> str:
    """The setting asked for in LTH_ARITHMETIC: native (the default: each library's fastest kernels) or portable."""
    value = os.environ.get("LTH_ARITHMETIC", "native") or "native"
    if value not in MODES:
        raise ValueError(f"LTH_ARITHMETIC must be one of {', '.join(MODES)}, got {value!r}")
    return value


def apply() -> None:
    """Set the portable variables where LTH_ARITHMETIC asks for them; refuse when it is too late to take effect."""
    if mode() != "portable":
        return
    clash = {k: os.environ[k] for k, v in PORTABLE.items() if os.environ.get(k, v) != v}
    if clash:
        raise ValueError(f"LTH_ARITHMETIC=portable sets {PORTABLE}, but the environment already sets {clash}")
    os.environ.update(PORTABLE)
    if "torch" in sys.modules:
        check_in_effect()


def check_in_effect() -> None:
    """torch read the variables when it first computed: if that was before they were set, say so."""
    import torch

    from lthlib.machine import mkl_branch

    capability, branch = torch.backends.cpu.get_cpu_capability(), mkl_branch()
    if capability != "DEFAULT" or branch not in ("COMPATIBLE", None):
        raise RuntimeError(f"LTH_ARITHMETIC=portable came too late: torch already runs {capability} kernels and "
                           f"MKL's {branch} branch. Set it in the environment before Python starts.")


def current() -> str:
    """"portable" where this process runs the portable kernels, else "native"."""
    import torch

    from lthlib.machine import mkl_branch

    portable = torch.backends.cpu.get_cpu_capability() == "DEFAULT" and mkl_branch() in ("COMPATIBLE", None)
    return "portable" if portable else "native"
