"""Portable arithmetic: under LTH_ARITHMETIC=portable this machine computes the committed fingerprint exactly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lthlib import arithmetic
from lthlib.machine import cpu_model

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"
COMMITTED = ROOT / "data" / "fingerprints" / "portable.json"
FINGERPRINT = json.loads(COMMITTED.read_text())
needs_data = pytest.mark.skipif(not (SHARED / "multi30k" / "train.en").exists() and not os.environ.get("CI"),
                                reason=f"Multi30k and WikiText-2 not at {SHARED}")


def portable(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LTH_ARITHMETIC": "portable", "LTH_WIKITEXT2_DIR": str(SHARED / "wikitext-2"),
                        "LTH_MULTI30K_DIR": str(SHARED / "multi30k")}
    for name in arithmetic.PORTABLE:
        env.pop(name, None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def tickets(kernels: str) -> str:
    return ",".join(name for name, t in FINGERPRINT["tickets"].items() if t["kernels"] == kernels)


@needs_data
def test_tickets_on_mkl_and_aten_alone_compute_the_committed_fingerprint_exactly():
    """Their kernels are MKL's COMPATIBLE branch and ATen's scalar code, documented to be CPU-independent:
    on every machine CI lands on, the same weights bit for bit."""
    done = portable("-m", "lthlib.fingerprint", "--check", str(COMMITTED), "--tickets", tickets("mkl+aten"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("\nsame ") == 2


@needs_data
def test_the_other_tickets_compute_it_on_every_cpu_kind_measured_to():
    """oneDNN (capped at AVX2) and envpool's C++ Acrobot are portable only as far as measured: exact on
    each CPU kind in a ticket's `same_on` (Krull and the LSTM: the Intel AMX and the AMD EPYC; Acrobot,
    which the EPYC computes differently: the AMX alone), reported on any other."""
    others = [name for name, t in FINGERPRINT["tickets"].items() if t["kernels"] != "mkl+aten"]
    done = portable("-m", "lthlib.fingerprint", "--check", str(COMMITTED), "--tickets", ",".join(others))
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith(("same", "DIFF"))}
    assert sorted(lines) == sorted(others), done.stdout + done.stderr
    measured = [name for name in others if cpu_model() in FINGERPRINT["tickets"][name]["same_on"]]
    assert all(lines[name].startswith("same") for name in measured), done.stdout
    if len(measured) < len(others):
        pytest.skip(f"on {cpu_model()}, outside these tickets' same_on: "
                    + " | ".join(lines[name] for name in others if name not in measured))


def test_portable_arithmetic_runs_the_portable_kernels_and_says_so_in_the_record():
    done = portable("-c", "import json, lthlib.machine as m; print(json.dumps(m.machine()))")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[-1])
    assert (record["arithmetic"], record["cpu_capability"]) == ("portable", "DEFAULT")
    assert record["mkl_branch"] in ("COMPATIBLE", None) and record["onednn_isa"].endswith("(capped at avx2)")
    assert record["env"]["MKL_CBWR"] == "COMPATIBLE"


def test_portable_arithmetic_refuses_what_would_not_take_effect(monkeypatch):
    import torch

    torch.ones(8).exp().sum()  # this process has computed: its kernels are chosen
    environ = {k: v for k, v in os.environ.items() if k not in arithmetic.PORTABLE}
    monkeypatch.setattr(arithmetic.os, "environ", environ)  # what apply() sets stays out of the real environment
    environ["LTH_ARITHMETIC"] = "exact"
    with pytest.raises(ValueError, match="LTH_ARITHMETIC must be one of native, portable, got 'exact'"):
        arithmetic.apply()
    environ |= {"LTH_ARITHMETIC": "portable", "MKL_CBWR": "AVX2"}
    with pytest.raises(ValueError, match=r"already sets \{'MKL_CBWR': 'AVX2'\}"):
        arithmetic.apply()
    del environ["MKL_CBWR"]
    with pytest.raises(RuntimeError, match="came too late: torch already runs"):
        arithmetic.apply()
