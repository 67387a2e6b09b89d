"""Numbers read off the results table: where winning tickets beat random ones, and by how much."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lthlib.plots import summarize


def wt_vs_rt(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Per (task, run, level): WT and RT mean ± std, and whether the WT wins clearly.

    "Clearly" means the gap in means exceeds both standard deviations across seeds and 5% of the
    dense net's |metric|, so that two tickets that both failed to learn do not count as a win.
    """
    rows = []
    for (task, variant, run), group in df.groupby(["task", "variant", "run"]):
        stats = summarize(group, metric)
        wt = stats[stats.ticket == "winning"].set_index("level")
        rt = stats[stats.ticket == "random"].set_index("level")
        dense = stats[stats.ticket == "dense"]
        dense_mean = dense["mean"].iloc[0] if len(dense) else np.nan
        min_gap = 0.05 * abs(dense_mean) if len(dense) else 0.0
        for level in wt.index.intersection(rt.index):
            gap = wt.at[level, "mean"] - rt.at[level, "mean"]
            gap = gap if higher_is_better else -gap
            rows.append({
                "task": task, "variant": variant, "run": run, "level": level,
                "fraction_pruned": wt.at[level, "fraction_pruned"],
                "wt_mean": wt.at[level, "mean"], "wt_std": wt.at[level, "std"],
                "rt_mean": rt.at[level, "mean"], "rt_std": rt.at[level, "std"],
                "dense_mean": dense_mean,
                "seeds": int(min(wt.at[level, "seeds"], rt.at[level, "seeds"])),
                "wt_better": bool(gap > max(wt.at[level, "std"], rt.at[level, "std"], min_gap)),
            })
    return pd.DataFrame(rows, columns=[
        "task", "variant", "run", "level", "fraction_pruned", "wt_mean", "wt_std", "rt_mean", "rt_std",
        "dense_mean", "seeds", "wt_better",
    ])


def learned(df: pd.DataFrame, score_to_beat: float) -> tuple[bool, dict[str, float]]:
    """Whether one run's agents learned: the dense net's score, or the winning or random tickets'
    mean over levels, above `score_to_beat` (e.g. a random policy's, with its spread). Where none is,
    winning and random tickets compare noise with noise. Also returns those three scores."""
    scores = {ticket: float(df[df.ticket == ticket].value.mean()) for ticket in ("dense", "winning", "random")}
    return any(score > score_to_beat for score in scores.values()), scores


def main_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the largest run (most tickets) of each (family, task, variant, pruning scope):
    e.g. the cpu preset's run rather than a smoke sweep published beside it."""
    size = df.groupby(["family", "task", "variant", "exclude", "run"]).size().rename("n").reset_index()
    biggest = size.sort_values("n", ascending=False).drop_duplicates(["family", "task", "variant", "exclude"])
    return df[df.run.isin(biggest.run)]


def describe_levels(levels) -> str:
    """[1, 2, 3, 5, 6] -> "1–3, 5–6"."""
    levels, spans = sorted(levels), []
    for level in levels:
        if spans and level == spans[-1][1] + 1:
            spans[-1][1] = level
        else:
            spans.append([level, level])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans) or "none"


def wt_wins_summary(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Per (task, run): the levels and the highest fraction pruned at which the WT clearly wins."""
    table = wt_vs_rt(df, metric, higher_is_better)
    rows = []
    for (task, variant, run), group in table.groupby(["task", "variant", "run"]):
        wins = group[group.wt_better]
        rows.append({
            "task": task, "variant": variant, "run": run, "seeds": int(group.seeds.min()),
            "levels": int(group.level.max()), "dense": round(group.dense_mean.iloc[0], 2),
            "WT clearly beats RT at levels": describe_levels(wins.level),
            "up to fraction pruned": round(wins.fraction_pruned.max(), 3) if len(wins) else None,
        })
    return pd.DataFrame(rows, columns=["task", "variant", "run", "seeds", "levels", "dense",
                                       "WT clearly beats RT at levels", "up to fraction pruned"])
