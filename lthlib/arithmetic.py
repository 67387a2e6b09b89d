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

import ctypes
import os
import sys
from functools import lru_cache
from pathlib import Path

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

    capability, branch = torch.backends.cpu.get_cpu_capability(), mkl_branch()
    if capability != "DEFAULT" or branch not in ("COMPATIBLE", None):
        raise RuntimeError(f"LTH_ARITHMETIC=portable came too late: torch already runs {capability} kernels and "
                           f"MKL's {branch} branch. Set it in the environment before Python starts.")


def current() -> str:
    """"portable" where this process runs the portable kernels, else "native"."""
    import torch

    portable = torch.backends.cpu.get_cpu_capability() == "DEFAULT" and mkl_branch() in ("COMPATIBLE", None)
    return "portable" if portable else "native"


MKL_BRANCHES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3", 7: "SSE4_1", 8: "SSE4_2", 9: "AVX",
                10: "AVX2", 11: "AVX512_MIC", 12: "AVX512", 13: "AVX512_MIC_E1", 14: "AVX512_E1"}


@lru_cache(maxsize=1)
def _mkl():
    """torch's MKL (linked into libtorch_cpu), or None where there is none to ask."""
    try:
        import torch  # here, not at the top: this module runs before torch may be imported

        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
    except OSError:
        return None
    return lib if all(hasattr(lib, f) for f in ("mkl_serv_cbwr_get", "mkl_serv_cbwr_get_auto_branch")) else None


def mkl_branch() -> str | None:
    """The code branch MKL runs: the one MKL_CBWR pins, else the one it picks for this CPU ("AUTO:...")."""
    lib = _mkl()
    if lib is None:
        return None
    name = lambda code: MKL_BRANCHES.get(code, f"branch {code}")  # noqa: E731
    pinned = lib.mkl_serv_cbwr_get(1)  # 1: MKL_CBWR_BRANCH
    return name(pinned) if pinned not in (1, 2) else f"AUTO:{name(lib.mkl_serv_cbwr_get_auto_branch())}"
