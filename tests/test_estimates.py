"""Estimate, then judge: intervals, outcomes, equivalence and power, on synthetic paired seeds."""

import numpy as np
import pandas as pd
import pytest

from lthlib.verdicts import (CONTRADICTED, DIRECTION, INCONCLUSIVE, INDICATIVE, SHOWN, WITHIN, detectable_effect,
                             estimate, power, seeds_needed)


def seeds(values):
    return pd.Series(values, index=range(len(values)), dtype=float)


def paired(gains, base=100.0):
    """B at `base`, A at base + gain, seed by seed."""
    return seeds(np.asarray(gains) + base), seeds([base] * len(gains))


def test_a_large_effect_on_ten_seeds_is_shown():
    rng = np.random.default_rng(0)
    a, b = paired(20 + rng.normal(0, 3, 10))
    e = estimate(a, b, margin=5)
    assert e.outcome == SHOWN and e.low > 5 and e.seeds == 10


def test_pure_noise_on_three_seeds_is_inconclusive_neither_shown_nor_contradicted():
    rng = np.random.default_rng(1)
    a, b = seeds(rng.normal(0, 10, 3)), seeds(rng.normal(0, 10, 3))
    e = estimate(a, b, margin=2)
    assert e.outcome == INCONCLUSIVE and e.low < 0 < 2 < e.high
    assert e.seeds_at_margin is not None and e.seeds_at_margin > 3  # what more seeds would decide


def test_a_large_effect_the_wrong_way_is_contradicted():
    a, b = paired([-30, -25, -35, -28])
    assert estimate(a, b, margin=5).outcome == CONTRADICTED
    # lower is better (a perplexity): the same numbers read the other way are shown
    assert estimate(a, b, margin=5, higher_is_better=False).outcome == SHOWN


def test_a_tight_equivalence_passes_tost_and_a_wide_one_does_not():
    tight, wide = estimate(*paired([0.3, -0.2, 0.1, 0.0, -0.1]), margin=1), estimate(*paired([9, -8, 5, -7, 1]), margin=1)
    assert tight.outcome == WITHIN and -1 < tight.low and tight.high < 1
    assert wide.outcome == INCONCLUSIVE


def test_an_effect_that_excludes_zero_but_not_the_margin_supports_only_a_direction():
    a, b = paired([3, 7, 5, 9, 4])  # mean 5.6: clearly positive, its size against a margin of 6 unresolved
    e = estimate(a, b, margin=6)
    assert e.outcome == DIRECTION and 0 < e.low < 6 < e.high


def test_fewer_than_three_seeds_are_indicative():
    assert estimate(*paired([50, 60]), margin=1).outcome == INDICATIVE


def test_power_and_the_detectable_effect_at_the_numbers_the_verdicts_issue_quotes():
    assert [round(detectable_effect(n), 2) for n in (3, 5, 10)] == [2.3, 1.36, 0.85]
    assert power(detectable_effect(5), 5) == pytest.approx(0.8, abs=1e-6)
    assert seeds_needed(detectable_effect(10)) == 10 and seeds_needed(2.3) == 3 and seeds_needed(-1.0) is None
    assert seeds_needed(0.84) == 11  # just below what 10 seeds detect


def test_the_interval_is_the_t_interval_of_the_paired_differences():
    from scipy import stats

    d = np.array([1.0, 4.0, 2.0, 5.0])
    e = estimate(*paired(d), margin=0.5)
    half = stats.t.ppf(0.95, 3) * d.std(ddof=1) / 2
    assert (e.gain, e.low, e.high) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert e.detectable == pytest.approx(detectable_effect(4) * d.std(ddof=1))


def test_the_seeds_for_equivalence_give_tost_its_power_when_simulated():
    """seeds_for_equivalence(d, m) seeds show a true difference d inside ± m (both in sds) about 80% of the time,
    one seed fewer less often: simulated with the verdicts' test (the 90% t-interval inside ± m), which is
    checked against `estimate(...).outcome` on the first draws."""
    from scipy import stats

    from lthlib.verdicts import equivalence_power, seeds_for_equivalence

    rng = np.random.default_rng(0)
    for difference, margin in ((0.0, 1.0), (0.3, 1.0)):
        n = seeds_for_equivalence(difference, margin)
        assert equivalence_power(difference, margin, n) >= 0.8 > equivalence_power(difference, margin, n - 1)
        shown = {}
        for k in (n - 1, n):
            draws = rng.normal(difference, 1.0, (20_000, k))
            half = stats.t.ppf(0.95, k - 1) * draws.std(axis=1, ddof=1) / np.sqrt(k)
            inside = (draws.mean(axis=1) - half > -margin) & (draws.mean(axis=1) + half < margin)
            checked = [estimate(pd.Series(x), pd.Series(np.zeros(k)), margin) for x in draws[:40]]
            assert [-margin < e.low and e.high < margin for e in checked] == list(inside[:40])
            shown[k] = inside.mean()
        assert shown[n] >= 0.79 and shown[n - 1] < shown[n]
    assert (seeds_for_equivalence(0.0, 1.0), seeds_for_equivalence(0.0, 0.5)) == (11, 36)  # a narrower margin costs
    assert seeds_for_equivalence(1.2, 1.0) is None  # a difference past the margin is never shown equivalent


def test_an_estimate_says_what_would_show_equivalence_and_detectable_effects_never_fail():
    tight = estimate(pd.Series([0.1, -0.1, 0.05, 0.0]), pd.Series([0.0] * 4), margin=1.0)
    assert tight.outcome == "within the margin" and tight.seeds_for_equivalence == 2
    wide = estimate(pd.Series([3.0, -2.5, 1.0]), pd.Series([0.0] * 3), margin=1.0)
    assert wide.seeds_for_equivalence is not None and wide.seeds_for_equivalence > 3
    from lthlib.verdicts import detectable_effect

    assert all(np.isfinite(detectable_effect(n)) for n in (2, 3, 5, 10, 14, 30, 100))  # scipy's nct NaN tails


def test_an_interval_inside_the_margin_below_zero_is_equivalent_for_an_equivalence_claim():
    """TOST asks only that the interval lie inside ± the margin: one wholly below 0 (the outcome 'contradicted' for
    a claim that A beats B) still shows A and B alike, as `claims.within_margin` reads it."""
    from lthlib.claims import within_margin

    a, b = paired([-0.3, -0.25, -0.35, -0.3])
    effect = estimate(a, b, margin=1.0)
    assert effect.outcome == CONTRADICTED and -1.0 < effect.low and effect.high < 0
    assert within_margin(a, b, 1.0)[0]
    assert not within_margin(*paired([-0.3, -2.5, 1.9, -0.3]), 1.0)[0]  # too wide
