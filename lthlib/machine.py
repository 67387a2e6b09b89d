"""What computed a ticket: the part of a result that is not in its settings.

torch picks its kernels, and so their rounding, by the machine: ATen's vector kernels by the CPU's
capability (AVX-512, AVX2), MKL's by the code branch it dispatches to, oneDNN's by its ISA, and several
of them split their sums by the thread count. The same settings and seed give the same numbers bit for
bit where all of these match, and other numbers elsewhere (a CartPole-v0 dense net on an AMD EPYC and
on an Intel CPU with AMX agree through epoch 7 of 20, then drift apart). So every ticket's record says
which machine, which kernels and how many threads made it.
"""

from __future__ import annotations

import os
import platform
import re
from functools import lru_cache
from pathlib import Path

import torch

from lthlib import arithmetic
from lthlib.arithmetic import mkl_branch

# MKL's conditional numerical reproducibility branches (mkl_cbwr.h)
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16")  # the flags the kernels dispatch on
# Environment variables that change which kernels run; recorded where set.
ARITHMETIC_ENV = ("MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                  "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# What must match for two tickets with the same settings and seed to come out bit for bit the same.
SAME_ARITHMETIC = ("cpu", "cpu_capability", "arithmetic", "mkl_branch", "onednn_isa", "threads", "torch", "mkl", "onednn", "gpu")


def machine() -> dict:
    """This process's machine, kernels and torch threads, as a ticket's record keeps them."""
    flags = cpu_flags()
    return {
        "torch": str(torch.__version__),
        "mkl": _build_version(r"Math Kernel Library Version ([\d.]+)"),
        "onednn": _build_version(r"MKL-DNN v(\S+)"),
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "isa": [f for f in ISA_FLAGS if f in flags],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "arithmetic": arithmetic.current(),
        "mkl_branch": mkl_branch(),
        "onednn_isa": onednn_isa(flags),
        "env": {k: os.environ[k] for k in ARITHMETIC_ENV if k in os.environ},
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def differences(recorded: dict | None, now: dict) -> dict:
    """{field: (recorded, now)} of the fields in SAME_ARITHMETIC that differ (recorded before a field
    existed counts as unknown, not as a difference)."""
    recorded = recorded or {}
    return {k: (recorded[k], now.get(k)) for k in SAME_ARITHMETIC if k in recorded and recorded[k] != now.get(k)}


@lru_cache(maxsize=1)
def _cpuinfo() -> dict:
    try:
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return {}
    return dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines()))


def cpu_flags() -> set[str]:
    return set(_cpuinfo().get("flags", "").split())


def cpu_model() -> str | None:
    """The CPU's name, family and model, and its bf16 arithmetic (Linux's /proc/cpuinfo; elsewhere what
    the platform says), e.g. "AMD EPYC (family 25, model 17; avx512_bf16)"."""
    fields = _cpuinfo()
    if not fields:
        return platform.processor() or None
    bf16 = sorted(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}"
            + (f"; {', '.join(bf16)}" if bf16 else "") + ")")


@lru_cache(maxsize=4)
def _build_version(pattern: str) -> str | None:
    found = re.search(pattern, torch.__config__.show())
    return found.group(1) if found else None


def onednn_isa(flags: set[str]) -> str:
    """oneDNN's ISA as it dispatches (its verbose mode's `isa:` line), from the CPU's flags and the cap
    ONEDNN_MAX_CPU_ISA sets; oneDNN has no exported query."""
    isa = ("avx512_core_amx" if "amx_bf16" in flags else "avx512_core_bf16" if "avx512_bf16" in flags
           else "avx512_core" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse41")
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return f"{isa} (capped at {cap.lower()})" if cap else isa
