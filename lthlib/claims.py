"""The machinery of judging one claim of the paper: its parts, each judged by `lthlib.verdicts`' rule
or marked indicative (and why), and the claim's status from its parts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lthlib.spans import at_levels
from lthlib.analysis import by_seed, describe_levels, is_control, judged_levels, keeps_paper_share, learned, main_runs
from lthlib import families, verdicts
from lthlib.families import margin_for
from lthlib.verdicts import (ALPHA, CONFIDENCE, DIRECTION, INCONCLUSIVE, MIN_SEEDS, OUTCOMES, POWER, WITHIN, Estimate,
                             compare, estimate, holm)

SHOWN, PARTLY, UNRESOLVED, NOT_SHOWN, INDICATIVE, NOT_TESTABLE, PENDING = (
    "shown", "partly shown", "not resolved", "not shown", "indicative", "not testable here", "pending")
STATUSES = {
    SHOWN: "our runs agree, on every part of the claim",
    PARTLY: "our runs agree on some parts (the others disagree, are unresolved or are not judged)",
    UNRESOLVED: "no judged part agrees, but none says no: each interval includes the margin (inconclusive, or the "
                "direction supported with its size unresolved); more seeds would decide",
    NOT_SHOWN: "the data say no: a judged part's interval lies on the wrong side of 0 or inside the margin, or a part "
               "without an interval fails its rule",
    INDICATIVE: "evidence from fewer than 3 seeds, a run off the paper's rewinding proportion or a stand-in model: "
                "a direction, not a verdict",
    NOT_TESTABLE: "needs what did not run here: the paper's Transformers on WMT'14, or Atari agents that learn at "
                  "this budget",
    PENDING: "testable here, not run yet",
}
STAND_IN = "stand-in: a small Transformer on Multi30k, not Base or Big on WMT'14"
# Atari claims relative to the dense net need a dense net that learned; ATARI_LEARNED: its agents at all
DENSE_LEARNED, ATARI_LEARNED = "dense", "agents"


@dataclass(frozen=True)
class Part:
    name: str
    holds: bool | None  # None: not judged at all (the reason is in the text)
    judged: bool  # enough seeds, the paper's rewinding proportion, the paper's model
    text: str
    scale: str = ""
    missing: bool = False  # no run yet (else, with holds None: a run that cannot be judged)
    estimate: Estimate | None = None  # the part's effect with its interval, where one comparison carries it
    unresolved: bool = False  # fails, but its interval includes the margin: "we could not tell", not "no"
    levels: pd.DataFrame | None = None  # its per-level estimates (`level_estimates`), for the claim's forest plot


def status_of(parts: list[Part]) -> str:
    decided = [p for p in parts if p.holds is not None]
    judged = [p for p in decided if p.judged]
    if not decided:
        return PENDING if any(p.missing for p in parts) else NOT_TESTABLE
    if not judged:
        return INDICATIVE
    if all(p.holds for p in judged):
        return SHOWN if len(judged) == len(parts) else PARTLY
    if any(p.holds for p in judged):
        return PARTLY
    return UNRESOLVED if all(p.unresolved for p in judged) else NOT_SHOWN


def direction_of(parts: list[Part]) -> str:
    """Which way the decided parts point, judged or not, part by part: by the sign of the part's estimate where
    it has one (a gain that fails only the margin still points the paper's way), else by whether it holds."""
    decided = [p for p in parts if p.holds is not None]  # holds may be a NumPy bool: not `is False`
    leans = {p.name: (p.estimate.gain > 0 if p.estimate is not None and p.estimate.gain == p.estimate.gain
                      else bool(p.holds)) for p in decided}
    sides = {"for": [n for n, up in leans.items() if up], "against": [n for n, up in leans.items() if not up]}
    return "; ".join(f"{side}: {' · '.join(names)}" for side, names in sides.items() if names) or "–"


class Results:
    """The main runs of the results table, and what the claims ask of them."""

    def __init__(self, df: pd.DataFrame, random_policy: dict[str, float] | None = None):
        self.df, self.to_beat = main_runs(df), random_policy or {}
        self.controls = df[is_control(df)] if len(df) else df  # runs that answer questions about the main runs

    def run(self, family: str, task: str, variant: str, exclude: str | None = "") -> pd.DataFrame:
        rows = self.df[(self.df.family == family) & (self.df.task == task) & (self.df.variant == variant)
                       & (self.df.metric == families.get(family).metric)]
        return rows if exclude is None else rows[rows.exclude == exclude]

    def atari_gate(self, game: str, needs: str) -> str:
        """Why a game's tickets are not judged ("" when they are): its agents, or its dense net, did not learn."""
        rows, to_beat = self.run("atari", game, "iterative-late"), self.to_beat.get(game)
        if to_beat is None or rows.empty:
            return ""
        has_learned, scores = learned(rows, to_beat)
        if not has_learned:
            return (f"neither the dense agent ({scores['dense']:.1f}) nor its tickets (mean WT {scores['winning']:.1f}, "
                    f"RT {scores['random']:.1f}) clearly beat a random policy (to beat: {to_beat:.1f}): not judged")
        if needs == DENSE_LEARNED and scores["dense"] <= to_beat:
            return (f"its dense net ({scores['dense']:.1f}) is below a random policy's score to beat ({to_beat:.1f}), so a "
                    "claim measured against it is not judged")
        return ""


def _why_not_judged(runs: list[pd.DataFrame], seeds: int | None = None) -> list[str]:
    """What keeps a part from being judged: too few seeds (`seeds`: those its comparisons paired; default: the
    runs' own), or a late-rewound run off the paper's proportion."""
    reasons = []
    seeds = min(r.seed.nunique() for r in runs) if seeds is None else seeds
    if seeds < MIN_SEEDS:
        reasons.append(f"{seeds} seed{'s' if seeds > 1 else ''}")
    for r in runs:
        family, fraction = r.family.iloc[0], r.rewind_fraction.iloc[0]
        if not keeps_paper_share(r.iloc[:1]).iloc[0]:
            reasons.append(f"{r.variant.iloc[0]} rewinds at {fraction:.0%} of its budget, the paper at "
                           f"{families.get(family).rewind_share:.0%}: to be rerun")
    return list(dict.fromkeys(reasons))


def _scale(runs: list[pd.DataFrame]) -> str:
    differences = sorted({d for r in runs for d in r.paper_differences.iloc[0].split(", ") if d})
    return "the paper's preset" if not differences else "reduced: " + ", ".join(differences)


def part(name: str, runs: list[pd.DataFrame], holds: bool, text: str, stand_in: bool = False,
         seeds: int | None = None, effect: Estimate | None = None, unresolved: bool | None = None,
         at: str = "", levels: pd.DataFrame | None = None) -> Part:
    """A part of a claim. `effect`: its estimate, which also says whether a part that fails is unresolved (its
    interval includes the margin) rather than answered no; `unresolved` says so for a part without one. `at`:
    which comparison the estimate is, and why (e.g. the weakest level of a claim at every level)."""
    reasons = _why_not_judged(runs, seeds) + ([STAND_IN] if stand_in else [])
    suffix = f" (indicative: {'; '.join(reasons)})" if reasons else ""
    if unresolved is None:
        unresolved = effect is not None and effect.outcome in (INCONCLUSIVE, DIRECTION)
    return Part(name, holds, not reasons, f"{name}: {text}{suffix}{described(effect, at)}",
                STAND_IN if stand_in else _scale(runs), estimate=effect, unresolved=bool(unresolved and not holds),
                levels=levels)


def described(effect: Estimate | None, at: str = "") -> str:
    """An estimate in the evidence, in sentences: the gain, its interval, its outcome, what these seeds detect and
    what more would."""
    if effect is None or effect.seeds < 2:
        return ""
    observed = (f"{effect.seeds_at_observed or 'over 1,000'} seeds at the observed gain" if effect.gain > 0
                else "no number of seeds at the observed gain, which points the other way")
    return (f". Estimated{' as ' + at if at else ''}: {effect}. These {effect.seeds} seeds detect a gain of "
            f"{effect.detectable:.3g} with 80% power; 80% power would take {observed}, "
            f"{effect.seeds_at_margin or 'over 1,000'} at the margin")


def equivalence_needs(effect: Estimate) -> str:
    """For an equivalence part: the seeds that would give its TOST 80% power at the observed difference and spread."""
    if effect.seeds < 2:
        return ""
    needed = effect.seeds_for_equivalence
    return (f"; seeds for 80% power to show equivalence at the observed difference: {needed}" if needed
            else "; the observed difference lies past the margin: were it the true one, no number of seeds would show "
                 "equivalence"
            if not abs(effect.gain) < effect.margin else "; over 1,000 seeds to show equivalence")


# how far an outcome is from the claim, for the level that decides a claim at every level
_AGAINST = {verdicts.CONTRADICTED: 0, WITHIN: 1, INCONCLUSIVE: 2, verdicts.INDICATIVE: 2, DIRECTION: 3, verdicts.SHOWN: 4}


def level_estimates(a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame], levels: list[int], margin: float,
                    higher_is_better: bool = True, tried: int = 1) -> pd.DataFrame:
    """Per level: ticket kind a[0] of run a[1] against b[0] of run b[1], estimated (`verdicts.estimate`, with
    `tried` for a claim at *some* level), one row per level with its fraction pruned."""
    fraction = a[1][a[1].level.isin(levels)].groupby("level").fraction_pruned.mean()
    rows = []
    for k in levels:
        e = estimate(by_seed(a[1], a[0], k), by_seed(b[1], b[0], k), margin, higher_is_better, tried)
        rows.append({"level": k, "fraction_pruned": fraction.get(k, float("nan")), "seeds": e.seeds, "gain": e.gain,
                     "low": e.low, "high": e.high, "margin": margin, "outcome": e.outcome, "estimate": e})
    return pd.DataFrame(rows)


def weakest(levels: pd.DataFrame) -> tuple[int, Estimate]:
    """The level that decides a claim at *every* level: the one whose outcome is furthest from the claim (then
    the smallest gain). No correction: every level must pass on its own."""
    row = levels.assign(rank=levels.outcome.map(_AGAINST)).sort_values(["rank", "gain"]).iloc[0]
    return int(row.level), row.estimate


def strongest(levels: pd.DataFrame) -> tuple[int, Estimate]:
    """The level that carries a claim at *some* level: the largest gain, its interval widened for the levels
    it was picked from (`tried`)."""
    row = levels.sort_values("gain", ascending=False).iloc[0]
    return int(row.level), row.estimate


def missing(name: str, what: str) -> Part:
    return Part(name, None, False, f"{name}: no committed {what} yet", missing=True)


def comparisons(rows: pd.DataFrame, a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame], levels: list[int]):
    """{level: ticket kind a[0] of run a[1] against ticket kind b[0] of run b[1]} under the rule."""
    family, margin = rows.family.iloc[0], level_margin(rows)
    return {k: compare(by_seed(a[1], a[0], k), by_seed(b[1], b[0], k), margin, families.get(family).higher_is_better)
            for k in levels}


def levels_won(rows: pd.DataFrame, a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame],
               levels: list[int]) -> list[int]:
    """Levels at which ticket kind a[0] of run a[1] beats ticket kind b[0] of run b[1] under the rule."""
    return [k for k, c in comparisons(rows, a, b, levels).items() if c.better]


def some_levels_won(rows: pd.DataFrame, a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame],
                    levels: list[int]) -> list[int]:
    """Levels at which a[0] beats b[0], for a claim that it does so at *some* level: a judged level's test
    must also survive Holm's correction for the judged levels tried (`verdicts.holm`); a level on fewer
    seeds counts by its mean, as `levels_won` does, and leaves the part indicative."""
    tried = comparisons(rows, a, b, levels)
    judged = {k: c for k, c in tried.items() if c.judged}
    passed = dict(zip(judged, holm([c.p_value for c in judged.values()])))
    return [k for k, c in tried.items() if (passed[k] and c.gain > c.margin if c.judged else c.better)]


def paired_seeds(rows: pd.DataFrame, a: tuple[str, pd.DataFrame], b: tuple[str, pd.DataFrame], levels: list[int]) -> int:
    """The fewest seeds any of those comparisons paired: what a part built on them is judged on."""
    return min((c.seeds for c in comparisons(rows, a, b, levels).values()), default=0)


def with_both_tickets(rows: pd.DataFrame, levels: list[int]) -> list[int]:
    """The levels among `levels` that have winning and random tickets (a run part-way through a level, or
    one without random tickets, has the winning ticket alone)."""
    return [k for k in levels if {"winning", "random"} <= set(rows[rows.level == k].ticket)]


def wt_beats_rt(results: Results, family: str, task: str, variant: str = "iterative-late", exclude: str = "",
                share: float = 1 / 3, stand_in: bool = False) -> Part:
    """The WT beats its RT at `share` of the judged levels (or more)."""
    rows = results.run(family, task, variant, exclude)
    levels = with_both_tickets(rows, judged_levels(rows))
    if not levels:
        return missing(task, f"{variant} run")
    wins = levels_won(rows, ("winning", rows), ("random", rows), levels)
    kept = rows[rows.level.isin(levels)]  # the effect across the claim's levels: each seed's mean WT - RT over them
    effect = estimate(by_seed(kept, "winning"), by_seed(kept, "random"), level_margin(rows), families.get(family).higher_is_better)
    per_level = level_estimates(("winning", rows), ("random", rows), levels, level_margin(rows), families.get(family).higher_is_better)
    return part(task, [rows], len(wins) >= share * len(levels),
                f"WT beats RT {at_levels(wins, levels)}", stand_in,
                paired_seeds(rows, ("winning", rows), ("random", rows), levels), effect,
                at="each seed's mean WT - RT over those levels", levels=per_level)


def within_margin(a: pd.Series, b: pd.Series, margin: float) -> tuple[bool, Estimate]:
    """Whether A and B are equivalent within ±margin: by an equivalence test (TOST at 5%: the 90% interval of
    the paired mean difference inside ±margin) over 3 seeds or more, by the mean's size on fewer (indicative)."""
    effect = estimate(a, b, margin)  # inside ± margin whatever its sign ("contradicted" is a claim that A beats B)
    inside = -margin < effect.low and effect.high < margin
    return (inside if effect.seeds >= MIN_SEEDS else abs(effect.gain) <= margin), effect


def level_margin(rows: pd.DataFrame) -> float:
    """The practical margin of a run's comparisons (`families.margin_for` of its dense net)."""
    return margin_for(rows.family.iloc[0], by_seed(rows, "dense").mean(), rows.task.iloc[0])


def different_dense_nets(name: str, a: pd.DataFrame, b: pd.DataFrame) -> Part | None:
    """A missing part where runs `a` and `b` train different dense nets (e.g. a rerun in another env backend
    or with another optimizer beside an old run): their seeds are not paired; else None."""
    if set(a.dense_net) == set(b.dense_net):
        return None
    runs = " and ".join(sorted({*a.run.unique(), *b.run.unique()}))
    return Part(name, None, False, f"{name}: the committed runs {runs} train different dense nets (other settings); "
                "not compared until both run alike", missing=True)


def paired_levels(a: pd.DataFrame, b: pd.DataFrame, levels=None) -> pd.DataFrame:
    """(seed, level) pairs at which runs `a` and `b` both have a winning ticket, among `levels` (default:
    the judged levels of both): a run part-way through a seed is compared on the levels it reached."""
    levels = sorted(set(judged_levels(a)) & set(judged_levels(b))) if levels is None else levels
    have = [r[(r.ticket == "winning") & r.level.isin(levels)][["seed", "level"]].drop_duplicates() for r in (a, b)]
    return have[0].merge(have[1]).sort_values(["seed", "level"])


def paired_wt_means(a: pd.DataFrame, b: pd.DataFrame, pairs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per seed, the mean WT of `a` and of `b` over that seed's `pairs` (`paired_levels`): the same levels on
    both sides of each seed's difference."""
    def mean(rows: pd.DataFrame) -> pd.Series:
        return rows[rows.ticket == "winning"].merge(pairs).groupby("seed").value.mean()
    return mean(a), mean(b)


def variant_helps(results: Results, family: str, task: str, better: str, worse: str, label: str,
                  stand_in: bool = False) -> Part:
    """The WTs of `better` beat those of `worse`: per seed, the mean over the judged levels that seed has in
    both."""
    a, b = results.run(family, task, better), results.run(family, task, worse)
    pairs = paired_levels(a, b)
    levels = sorted(set(pairs.level))
    if not levels:
        return missing(f"{task}, {label}", f"{better} and {worse} runs")
    if unpaired := different_dense_nets(f"{task}, {label}", a, b):
        return unpaired
    wt_a, wt_b = paired_wt_means(a, b, pairs)
    margin = margin_for(family, by_seed(a, "dense").mean(), task)
    result = compare(wt_a, wt_b, margin, families.get(family).higher_is_better)
    return part(f"{task}, {label}", [a, b], result.better,
                f"mean WT over levels {describe_levels(levels)}: {better} {wt_a.mean():.4g} vs {worse} "
                f"{wt_b.mean():.4g} ({result})", stand_in, result.seeds,
                estimate(wt_a, wt_b, margin, families.get(family).higher_is_better), at="each seed's mean over those levels",
                levels=level_estimates(("winning", a), ("winning", b), levels, margin, families.get(family).higher_is_better))




def off_share_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The late-rewound runs of `df` whose rewind point is not at the paper's share of their budget: their
    verdicts are indicative until they are rerun."""
    runs = df.drop_duplicates("run")
    off = runs[~keeps_paper_share(runs)]
    return pd.DataFrame({"task": off.task, "variant": off.variant, "run": off.run,
                         "rewinds at (share of its budget)": off.rewind_fraction.map("{:.0%}".format),
                         "the paper's share": off.family.map(lambda f: f"{families.get(f).rewind_share:.0%}")})


def rules() -> list[str]:
    """The rule and its numbers, in words, for the book."""
    layers = "; ".join(f"{n}: {', '.join(families.get(n).output_layers)}" for n in families.MODULES)
    return [
        f"A beats B (a winning ticket its random ticket at one level, or one variant's winning tickets "
        f"another's): the mean paired difference over seeds exceeds a practical margin "
        f"({families.margins_in_words()}) and a one-sided paired t-test gives p < {ALPHA} over at least "
        f"{MIN_SEEDS} seeds.",
        f"A claim that A beats B at *some* level counts a level only where its test also survives Holm's "
        f"correction for the m levels tried (the k-th smallest p below {ALPHA} / (m − k), k = 0, 1, …): tested "
        f"one by one, one of ten levels would pass by chance up to 40% of the time. A claim at every level, or "
        f"at a share of them, needs no correction.",
        f"With fewer than {MIN_SEEDS} seeds no claim is shown or not shown: it is *indicative*, and its "
        "evidence says how many seeds.",
        f"Every part that rests on paired comparisons also shows its estimate at the comparison that decides it (a "
        f"claim at every level: its weakest level; at some level: its best, the interval widened by Bonferroni for "
        f"the levels tried; a share of the levels or an ablation: each seed's mean over them): the mean gain with its "
        f"{CONFIDENCE:.0%} interval, its outcome ({'; '.join(f'{k}: {v}' for k, v in OUTCOMES.items())}), the "
        f"smallest gain its seeds detect with {POWER:.0%} power, and the seeds that would give that power at the "
        f"observed gain and at the margin. A part leans the way its estimate points.",
        f"Levels where an output layer is entirely pruned ({layers}) are left out: both tickets are then the same "
        "constant function.",
    ]
