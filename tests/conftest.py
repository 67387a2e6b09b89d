"""Every test starts from the same global torch state and leaves it as it found it.

On some CPUs (Intel with AMX) the LSTM's arithmetic depends on the thread count, so a test that set
`torch.set_num_threads(1)` and kept it changed what a later test computed in-process, while that test's
subprocesses ran on the machine's own count: the suite passed or failed by its order.
"""

import random

import numpy as np
import pytest
import torch


def torch_state() -> dict:
    """The process-wide settings a test can change and another test's numbers depend on."""
    return {
        "threads": torch.get_num_threads(),
        "default_dtype": torch.get_default_dtype(),
        "grad_enabled": torch.is_grad_enabled(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "autocast_cpu": (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")),
    }


def restore(state: dict) -> None:
    torch.set_num_threads(state["threads"])
    torch.set_default_dtype(state["default_dtype"])
    torch.set_grad_enabled(state["grad_enabled"])
    torch.use_deterministic_algorithms(state["deterministic"])
    enabled, dtype = state["autocast_cpu"]
    torch.set_autocast_enabled("cpu", enabled)
    torch.set_autocast_dtype("cpu", dtype)


@pytest.fixture(autouse=True)
def isolated_global_state():
    """Restore torch's settings and the RNGs of torch, numpy and random after each test, whatever it did."""
    state = torch_state()
    rngs = torch.get_rng_state(), np.random.get_state(), random.getstate()
    yield
    restore(state)
    torch.set_rng_state(rngs[0])
    np.random.set_state(rngs[1])
    random.setstate(rngs[2])
