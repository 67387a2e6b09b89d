"""One rule, written once, for every verdict the book states: paired results across seeds.

Whether A beats B (a winning ticket its random ticket at one level, one variant's winning tickets
another's): for every seed that ran both, d = A - B (B - A where lower is better). A beats B when

- the mean of d exceeds a practical margin, a fixed share of the dense net's |metric| or, in classic
  control, of the dense net's gain over a random policy's return (rewards have no natural zero): each
  family declares it (`lthlib.families.margin_for`), and
- a one-sided paired t-test of mean(d) > 0 gives p < `ALPHA`, over at least `MIN_SEEDS` seeds.

At n = 3 the t-test is the test a statistician would accept (a sign test cannot reach p < 0.05 with
fewer than 5 pairs): it needs a large effect, consistent across seeds. With fewer seeds nothing is
decided: the direction of the mean (beyond the margin) is *indicative*, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
MIN_SEEDS = 3
@dataclass(frozen=True)
class Comparison:
    """A against B over paired seeds; `gain` is mean(d), positive when A is better."""

    seeds: int
    gain: float
    margin: float
    p_value: float  # NaN with fewer than MIN_SEEDS seeds

    @property
    def judged(self) -> bool:
        return self.seeds >= MIN_SEEDS

    @property
    def better(self) -> bool:
        """A beats B under the rule (with too few seeds: the mean points that way, beyond the margin)."""
        return self.gain > self.margin and (not self.judged or self.p_value < ALPHA)

    def __str__(self) -> str:
        test = f", p = {self.p_value:.3f}" if self.judged else ""
        return f"{self.gain:+.3g} over {self.seeds} seed{'s' if self.seeds != 1 else ''}, margin {self.margin:.3g}{test}"


def compare(a: pd.Series, b: pd.Series, margin: float, higher_is_better: bool = True) -> Comparison:
    """`a` against `b`, both indexed by seed; only the seeds in both count."""
    seeds = a.index.intersection(b.index)
    d = (a[seeds] - b[seeds]).to_numpy(dtype=float) * (1.0 if higher_is_better else -1.0)
    d = d[~np.isnan(d)]  # a seed with no score (e.g. no game ended) is no evidence either way
    n = len(d)
    gain = float(d.mean()) if n else float("nan")
    p_value = float("nan")
    if n >= MIN_SEEDS:
        if np.allclose(d, d[0]):  # no spread: the t statistic is undefined, the sign decides
            p_value = 0.0 if d[0] > 0 else 1.0
        else:
            p_value = float(stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    return Comparison(n, gain, margin, p_value)


def holm(p_values: list[float]) -> list[bool]:
    """Which of m tests reject under Holm's step-down procedure at family-wise level ALPHA: the k-th
    smallest p (k = 0, 1, ...) must be below ALPHA / (m - k), and the first that is not stops the rest.
    For claims that something happens at *some* level: tested one by one at ALPHA, one of ten levels
    where nothing happens would pass by chance alone up to 40% of the time (1 - 0.95^10)."""
    reject = [False] * len(p_values)
    for k, i in enumerate(np.argsort(p_values)):
        if not p_values[i] < ALPHA / (len(p_values) - k):
            break
        reject[i] = True
    return reject


# Estimation: every verdict shows its effect with an interval, and what more seeds would decide.
CONFIDENCE = 0.90  # two-sided, so that its lower end is the one-sided test at ALPHA, and lying inside ±margin is TOST at ALPHA
POWER = 0.80
SHOWN, DIRECTION, INCONCLUSIVE, WITHIN, CONTRADICTED, INDICATIVE = (
    "shown", "direction supported, size unresolved", "inconclusive", "within the margin", "contradicted", "indicative")
OUTCOMES = {
    SHOWN: "the interval clears the margin",
    DIRECTION: "the interval excludes 0 but includes the margin",
    INCONCLUSIVE: "the interval includes both 0 and the margin: more seeds would decide",
    WITHIN: "the interval lies inside ± the margin (an equivalence test, TOST, at 5%)",
    CONTRADICTED: "the interval lies on the wrong side of 0",
    INDICATIVE: f"fewer than {MIN_SEEDS} seeds: the mean's direction only",
}


@dataclass(frozen=True)
class Estimate:
    """A against B over paired seeds, estimated: the mean gain with its CONFIDENCE interval, the margin, the
    smallest gain these seeds detect with POWER, and the seeds that would give POWER at the observed gain
    and at the margin (one-sided paired t-test at ALPHA)."""

    seeds: int
    gain: float
    low: float
    high: float
    margin: float
    detectable: float
    seeds_at_observed: int | None
    seeds_at_margin: int | None
    tried: int = 1  # the comparisons it was chosen among (the best of m levels): its interval is Bonferroni-widened
    seeds_for_equivalence: int | None = None  # the seeds giving TOST POWER at the observed difference and spread

    @property
    def confidence(self) -> float:
        return 1 - (1 - CONFIDENCE) / self.tried

    @property
    def outcome(self) -> str:
        if self.seeds < MIN_SEEDS:
            return INDICATIVE
        if self.low > self.margin:
            return SHOWN
        if self.high < 0:
            return CONTRADICTED
        if -self.margin < self.low and self.high < self.margin:
            return WITHIN
        return DIRECTION if self.low > 0 else INCONCLUSIVE

    @property
    def not_worse(self) -> bool:
        """A not worse than B by more than the margin: the interval's lower end above -margin (over 2 seeds or more,
        with a finite margin); e.g. a ticket that matches its dense net."""
        return self.seeds >= 2 and -np.inf < -self.margin < self.low

    def interval(self) -> str:
        """The gain and its interval, without a verdict (e.g. for a non-inferiority reading)."""
        level = f"{self.confidence:.0%}" if self.tried == 1 else f"{self.confidence:.1%} (best of {self.tried}, Bonferroni)"
        interval = f"{level} CI [{self.low:+.3g}, {self.high:+.3g}]" if self.seeds >= 2 else "no interval"
        return f"{self.gain:+.3g} ({interval}, {self.seeds} seeds, margin {self.margin:.3g})"

    def __str__(self) -> str:
        return f"{self.interval()}: {self.outcome}"


def power(effect: float, seeds: int, alpha: float = ALPHA) -> float:
    """The power of a one-sided paired t-test at `alpha` over `seeds` pairs, for a true gain of `effect`
    standard deviations."""
    if seeds < 2:
        return float("nan")
    return float(1 - _missed(seeds, alpha, effect * np.sqrt(seeds)))


def _missed(seeds: int, alpha: float, shift: float) -> float:
    """P(a one-sided t-test at `alpha` over `seeds` pairs does not reject) when the true mean is `shift` standard
    errors above the null: the noncentral t below its critical value. scipy gives NaN far in the tails, where
    the answer is plain."""
    critical = stats.t.ppf(1 - alpha, seeds - 1)
    missed = stats.nct.cdf(critical, seeds - 1, shift)
    return (0.0 if shift > critical else 1.0) if np.isnan(missed) else float(missed)


def detectable_effect(seeds: int, alpha: float = ALPHA) -> float:
    """The smallest standardized gain (mean / sd of the paired differences) detected with POWER over `seeds`."""
    if seeds < 2:
        return float("inf")
    from scipy.optimize import brentq

    return float(brentq(lambda d: power(d, seeds, alpha) - POWER, 1e-6, 100.0))


def equivalence_power(difference: float, margin: float, seeds: int, alpha: float = ALPHA) -> float:
    """The power of an equivalence test (TOST at `alpha`: both one-sided tests reject, i.e. the 90% interval lies
    inside ± the margin) over `seeds` pairs, for a true mean difference `difference` and a margin `margin`, both
    in standard deviations of the paired differences: 1 - P(the test against -margin misses) - P(the test
    against +margin misses), the usual noncentral-t bound (tight once the power is useful)."""
    if seeds < 2:
        return float("nan")
    if not abs(difference) < margin:
        return 0.0
    root = np.sqrt(seeds)
    missed = _missed(seeds, alpha, (margin + difference) * root) + _missed(seeds, alpha, (margin - difference) * root)
    return float(max(0.0, 1.0 - missed))


def seeds_for_equivalence(difference: float, margin: float, most: int = 1000, alpha: float = ALPHA) -> int | None:
    """The fewest seeds with POWER for TOST to show a true `difference` within ± `margin` (both standardized);
    None where the difference is not inside the margin, or more than `most` seeds would be needed."""
    if not abs(difference) < margin:
        return None
    return next((n for n in range(2, most + 1) if equivalence_power(difference, margin, n, alpha) >= POWER), None)


def seeds_needed(effect: float, most: int = 1000, alpha: float = ALPHA) -> int | None:
    """The fewest seeds with POWER for a standardized gain `effect`; None when more than `most` (or no gain)."""
    if not effect > 0:
        return None
    if effect == float("inf"):  # no spread at all: the smallest paired test decides
        return 2
    return next((n for n in range(2, most + 1) if power(effect, n, alpha) >= POWER), None)


def estimate(a: pd.Series, b: pd.Series, margin: float, higher_is_better: bool = True, tried: int = 1) -> Estimate:
    """`a` against `b`, both indexed by seed (only the seeds in both count), estimated. `tried`: how many such
    comparisons this one was picked from (the best of m levels, for a claim at *some* level): the test, the
    interval and the power are then at ALPHA / m (Bonferroni, Holm's first step)."""
    seeds = a.index.intersection(b.index)
    d = (a[seeds] - b[seeds]).to_numpy(dtype=float) * (1.0 if higher_is_better else -1.0)
    d = d[~np.isnan(d)]
    n = len(d)
    gain = float(d.mean()) if n else float("nan")
    if n < 2:
        return Estimate(n, gain, float("nan"), float("nan"), margin, float("inf"), None, None, tried)
    alpha = ALPHA / tried
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha, n - 1)) * sd / np.sqrt(n)
    standardized = (lambda x: x / sd) if sd > 0 else (lambda x: float("inf") if x > 0 else 0.0)
    equivalent = (seeds_for_equivalence(gain / sd, margin / sd, alpha=alpha) if sd > 0
                  else 2 if abs(gain) < margin else None)
    return Estimate(n, gain, gain - half, gain + half, margin, detectable_effect(n, alpha) * sd,
                    seeds_needed(standardized(gain), alpha=alpha), seeds_needed(standardized(margin), alpha=alpha),
                    tried, equivalent)
