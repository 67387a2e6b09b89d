"""Resuming inside a ticket: a long ticket saves its training state now and then, and a rerun picks it up.

At paper scale one ticket is hours (Transformer Base: 50,000 updates); a crash, a pre-empted node or
a Ctrl-C would otherwise lose all of it. A family's trainer hands `TicketCheckpoint.save_if_due` everything
its next update depends on (weights, optimizer, schedule, RNG states, the data position, the
counters); `restore` gives it back. Saves are atomic (a temporary file, then a rename), so a kill
during a save leaves the previous checkpoint whole. The loop deletes the file once the ticket's
record is written. What a family cannot restore (an emulator's state) it documents.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from lthlib.machine import differences, machine
from lthlib.atomic import atomic_torch_save


def rng_state(device: str) -> dict:
    """The global RNG states a trainer draws from (CPU, and the CUDA device it trains on)."""
    state = {"cpu": torch.get_rng_state()}
    if str(device).startswith("cuda"):
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def set_rng_state(state: dict, device: str) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


def common_state(model, optimizer, stepper, device: str) -> dict:
    """What every resumable trainer saves: weights, optimizer, gradient scaler, RNG states."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "stepper": stepper.state_dict(),
            "rng": rng_state(device)}


def load_common_state(saved: dict, model, optimizer, stepper, device: str) -> dict:
    """Put `common_state`'s parts back; returns the rest of `saved` (the family's own counters)."""
    rest = dict(saved)
    model.load_state_dict(rest.pop("model"))
    optimizer.load_state_dict(rest.pop("optimizer"))
    stepper.load_state_dict(rest.pop("stepper"))
    set_rng_state(rest.pop("rng"), device)
    return rest


class TicketCheckpoint:
    """A ticket's training state at `path`, saved every `every_minutes` minutes of training, or every
    `every_updates` updates where that is given (tests, and runs that want a fixed cadence)."""

    def __init__(self, path: str | Path, every_minutes: float = 10.0, every_updates: int | None = None):
        self.path = Path(path)
        self.every_minutes, self.every_updates = every_minutes, every_updates
        self._last = time.monotonic()
        self.machine_changes: dict = {}  # {field: (saved on, now)} of a resume on another machine (lthlib.machine)

    def restore(self) -> dict | None:
        """The last saved state, or None when the ticket starts afresh. A state saved on another machine,
        other kernels or another thread count is restored all the same, and said so on the terminal."""
        if not self.path.exists():
            return None
        saved = torch.load(self.path, weights_only=True)
        self.machine_changes = differences(saved.pop("machine", None), machine())
        if self.machine_changes:
            changes = "; ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in self.machine_changes.items())
            message = (f"{self.path.name}: resuming a ticket saved on another machine or thread count ({changes}): "
                       f"it will not end with the numbers of an uninterrupted ticket; its record says so (resumed_from)")
            warnings.warn(message, stacklevel=2)
            print("warning:", message, file=sys.__stderr__, flush=True)
        return saved

    def due(self, update: int) -> bool:
        if self.every_updates:
            return update % self.every_updates == 0
        return time.monotonic() - self._last >= 60 * self.every_minutes

    def save_if_due(self, update: int, state: Callable[[], dict[str, Any]]) -> None:
        """Save `state()` (built only when a save is due) after `update` updates."""
        if self.due(update):
            atomic_torch_save({**state(), "machine": machine()}, self.path)
            self._last = time.monotonic()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def for_config(path: str | Path, config: Any) -> TicketCheckpoint:
    """The checkpoint of a ticket trained with `config` (its resume_every_minutes / resume_every_updates)."""
    return TicketCheckpoint(path, config.resume_every_minutes, config.resume_every_updates)
