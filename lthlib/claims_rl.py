"""The parts of the paper's RL claims (classic control, Atari), judged on the committed results."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lthlib.spans import at_levels
from lthlib.analysis import by_seed, describe_levels, judged_levels
from lthlib.claims import (ATARI_LEARNED, Part, Results, equivalence_needs, level_estimates, level_margin, levels_won, missing, part,
                           some_levels_won, strongest, variant_helps, within_margin, wt_beats_rt)
from lthlib.verdicts import compare, estimate

CLASSIC_ENVS = ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")


# --- classic control ---------------------------------------------------------------------------------

def classic_wt_beats_rt(r: Results) -> list[Part]:
    return [wt_beats_rt(r, "classic_control", env) for env in CLASSIC_ENVS]


def classic_ablation(better: str, worse: str, label: str) -> Callable[[Results], list[Part]]:
    return lambda r: [variant_helps(r, "classic_control", env, better, worse, label) for env in CLASSIC_ENVS]


# --- Atari -------------------------------------------------------------------------------------------

def per_game(games: tuple[str, ...], check, needs: str = ATARI_LEARNED) -> Callable[[Results], list[Part]]:
    def parts(r: Results) -> list[Part]:
        out = []
        for game in games:
            rows = r.run("atari", game, "iterative-late")
            levels = judged_levels(rows)
            gate = r.atari_gate(game, needs)
            if not levels:
                out.append(missing(game, "iterative-late run"))
            elif gate:
                out.append(Part(game, None, False, f"{game}: {gate}"))
            else:
                out.append(check(game, rows, levels))
        return out
    return parts


def wt_helps(game, rows, levels) -> Part:
    wins = levels_won(rows, ("winning", rows), ("random", rows), levels)
    kept = rows[rows.level.isin(levels)]
    slightly = game in ("Breakout", "Centipede")  # "slightly": better on average over the levels, no margin
    margin = 0.0 if slightly else level_margin(rows)
    effect = estimate(by_seed(kept, "winning"), by_seed(kept, "random"), margin)
    per_level = level_estimates(("winning", rows), ("random", rows), levels, level_margin(rows))
    if slightly:
        result = compare(by_seed(kept, "winning"), by_seed(kept, "random"), 0.0)
        return part(game, [rows], result.better, f"mean over levels WT vs RT {result}; WT beats RT "
                     f"{at_levels(wins, levels)}", effect=effect,
                    at="each seed's mean WT - RT over the levels, the claim's test", levels=per_level)
    return part(game, [rows], len(wins) >= len(levels) / 2,
                 f"WT beats RT {at_levels(wins, levels)}", effect=effect,
                at="each seed's mean WT - RT over the levels, the size of the claim's per-level wins", levels=per_level)


def dense_as_level(rows: pd.DataFrame, levels: list[int]) -> pd.DataFrame:
    """The dense net's rows copied to every level as ticket "dense@", to compare tickets with it by `_levels_won`."""
    dense = rows[rows.ticket == "dense"]
    return pd.concat([dense.assign(level=k, ticket="dense@") for k in levels])


def wt_above_dense(game, rows, levels) -> Part:
    dense_at = ("dense@", dense_as_level(rows, levels))
    above = some_levels_won(rows, ("winning", rows), dense_at, levels)
    wt = rows[(rows.ticket == "winning") & rows.level.isin(levels)].groupby("level").value.mean()
    per_level = level_estimates(("winning", rows), dense_at, levels, level_margin(rows), tried=len(levels))
    best, effect = strongest(per_level)
    return part(game, [rows], bool(above), f"WT above the dense {by_seed(rows, 'dense').mean():.1f} "
                 f"{at_levels(above, levels)}, Holm-corrected (best mean WT "
                 f"{wt.max():.1f}, level {wt.idxmax()})", effect=effect,
                at=f"WT - dense at level {best}, the best of the {len(levels)} tried", levels=per_level)


def krull_even(game, rows, levels) -> Part:
    """"No difference" by an equivalence test at each level (TOST, margin 10% of the dense score), not by
    point estimates: a level whose interval reaches past ±margin has not shown the two alike."""
    dense = by_seed(rows, "dense").mean()
    tests = {k: within_margin(by_seed(rows, "winning", k), by_seed(rows, "random", k), 0.1 * abs(dense)) for k in levels}
    close = [k for k, (holds, _) in tests.items() if holds]
    widest = max(tests.values(), key=lambda t: t[1].high - t[1].low)[1]
    last = levels[-1]
    wt, rt = by_seed(rows, "winning", last).mean(), by_seed(rows, "random", last).mean()
    holds = len(close) >= 0.8 * len(levels) and min(wt, rt) >= 0.8 * dense
    # "no": some level's WT and RT differ beyond the margin either way; else the intervals are only too wide
    differ = any(e.low > e.margin or e.high < -e.margin for _, e in tests.values())
    per_level = level_estimates(("winning", rows), ("random", rows), levels, 0.1 * abs(dense))
    return part(game, [rows], holds, unresolved=not differ and min(wt, rt) >= 0.8 * dense, text=f"WT and RT equivalent "
                f"within 10% of the dense {dense:.1f} (TOST) at {len(close)} of {len(levels)} levels (levels "
                f"{describe_levels(close)}); the widest WT - RT interval {widest.interval()}{equivalence_needs(widest)}; at level {last}: WT "
                f"{wt:.1f}, RT {rt:.1f}", levels=per_level)


def kangaroo(r: Results) -> list[Part]:
    rows, to_beat = r.run("atari", "Kangaroo", "iterative-late"), r.to_beat.get("Kangaroo")
    if rows.empty or to_beat is None:
        return [missing("Kangaroo", "iterative-late run with its random-policy score")]
    dense, levels = by_seed(rows, "dense").mean(), judged_levels(rows)
    best = rows[(rows.ticket == "winning") & rows.level.isin(levels)].groupby("level").value.mean().max()
    bar = rows[rows.ticket == "dense"].assign(level=0, ticket="bar", value=to_beat)  # the random policy's bar, per seed
    per_level = level_estimates(("winning", rows), ("bar", pd.concat([bar.assign(level=k) for k in levels])), levels,
                                0.0, tried=len(levels))
    level, effect = strongest(per_level)
    return [part("Kangaroo", [rows], dense <= to_beat < best,
                  f"dense {dense:.1f}, best mean WT {best:.1f}, a random policy's score to beat {to_beat:.1f}",
                 effect=effect, at=f"WT - the bar at level {level}, the best of the {len(levels)} tried",
                 levels=per_level)]


def rt_early(game, rows, levels) -> Part:
    first = levels[:2]
    dense = by_seed(rows, "dense").mean()
    rt = [by_seed(rows, "random", k).mean() for k in first]
    text = f"RT at levels {describe_levels(first)}: {', '.join(f'{v:.1f}' for v in rt)} vs dense {dense:.1f}"
    if game in ("Breakout", "SpaceInvaders"):  # "drops almost at once": below 80% of the dense score at level 1
        bar = rows[rows.ticket == "dense"].assign(level=first[0], ticket="80% of dense",
                                                  value=0.8 * rows[rows.ticket == "dense"].value)
        per_level = level_estimates(("80% of dense", bar), ("random", rows), first[:1], 0.0)
        return part(game, [rows], rt[0] < 0.8 * dense, text, effect=per_level.estimate.iloc[0],
                    at=f"80% of the dense score - RT at level {first[0]}", levels=per_level)
    dense_at = ("dense@", dense_as_level(rows, first))
    early = some_levels_won(rows, ("random", rows), dense_at, first)
    per_level = level_estimates(("random", rows), dense_at, first, level_margin(rows), tried=len(first))
    level, effect = strongest(per_level)
    return part(game, [rows], bool(early), f"{text}; above it at levels {describe_levels(early)}, Holm-corrected",
                effect=effect, at=f"RT - dense at level {level}, the better of the {len(first)} tried", levels=per_level)


def atari_ablations(r: Results) -> list[Part]:
    parts = []
    for game in ("Assault", "Breakout", "Seaquest"):
        gate = r.atari_gate(game, ATARI_LEARNED)
        for worse, label in (("iterative-reset", "late rewinding"), ("oneshot-late", "iterative pruning")):
            if gate:
                parts.append(Part(f"{game}, {label}", None, False, f"{game}, {label}: {gate}"))
            else:
                parts.append(variant_helps(r, "atari", game, "iterative-late", worse, label))
    return parts


