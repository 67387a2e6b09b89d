"""Runs of integers in words: the levels or seeds a sentence names."""

from __future__ import annotations


def describe_levels(levels) -> str:
    """[1, 2, 3, 5, 6] -> "1–3, 5–6"."""
    levels, spans = sorted(levels), []
    for level in levels:
        if spans and level == spans[-1][1] + 1:
            spans[-1][1] = level
        else:
            spans.append([level, level])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans) or "none"
