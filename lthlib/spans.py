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


def at_levels(chosen, of) -> str:
    """The levels `chosen` among `of`, as a person says it: "at no level of 1–10", "at every level of 1–10",
    "at level 3 of 1–10", "at levels 4–13 of 1–17"."""
    chosen, of = sorted(set(chosen)), sorted(set(of))
    among = describe_levels(of)
    if not chosen:
        return f"at no level of {among}"
    if chosen == of and len(of) > 1:
        return f"at every level of {among}"
    return f"at level{'s' if len(chosen) > 1 else ''} {describe_levels(chosen)} of {among}"
