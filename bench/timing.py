"""What every benchmark module shares."""

from __future__ import annotations

import time


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
