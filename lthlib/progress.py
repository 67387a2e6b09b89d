"""Progress as lines of text, for a terminal or a log (papermill's terminal sees no widget)."""

from __future__ import annotations

import time
from typing import TextIO


class TextProgress:
    """Progress as lines of text for a terminal or a log (papermill's terminal sees no widget): tickets done
    and in all, the level being trained, time elapsed and an estimate of the time left."""

    def __init__(self, log: TextIO, desc: str, total: int, done: int):
        self.log, self.desc, self.total, self.start_done, self.start = log, desc, total, done, time.perf_counter()
        self.last = None

    def update(self, done: int, training: dict[int, int]) -> None:
        """`training`: {seed: the level it is training} of the seeds in progress."""
        if done == self.last:
            return
        self.last, elapsed = done, time.perf_counter() - self.start
        rate = (done - self.start_done) / elapsed if done > self.start_done and elapsed > 0 else 0.0
        left = f"{_clock((self.total - done) / rate)} left" if rate else "time left: after the first ticket"
        where = ("done" if done >= self.total else
                 "training " + ", ".join(f"seed {s} level {k}" for s, k in training.items()) if training else "starting")
        print(f"{self.desc}: {done}/{self.total} tickets, {where}, {_clock(elapsed)} elapsed, {left}",
              file=self.log, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
