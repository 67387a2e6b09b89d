"""Every claim's parts carry an estimate at the comparison that decides them, and each claim its per-level figure."""

import pandas as pd
import pytest
from test_plots_and_scorecard import classic, table

from lthlib.claims import UNRESOLVED, level_estimates, strongest, weakest
from lthlib.scorecard import CLAIMS, claim_levels, scorecard
from lthlib.verdicts import CONTRADICTED, INCONCLUSIVE, estimate


def test_an_estimate_picked_from_m_levels_is_widened_by_bonferroni():
    a, b = pd.Series([12.0, 9.0, 15.0]), pd.Series([0.0, 0.0, 0.0])
    alone, best_of_ten = estimate(a, b, 5.0), estimate(a, b, 5.0, tried=10)
    assert best_of_ten.gain == alone.gain == 12.0
    assert best_of_ten.low < alone.low and best_of_ten.high > alone.high  # the t quantile at 0.995, not 0.95
    assert best_of_ten.confidence == pytest.approx(0.99) and "99.0% (best of 10, Bonferroni) CI" in str(best_of_ten)
    assert best_of_ten.detectable > alone.detectable
    assert best_of_ten.seeds_at_margin > alone.seeds_at_margin


def test_a_claim_at_every_level_is_estimated_at_its_weakest_level_and_one_at_some_level_at_its_best():
    run = classic(wt=(190, 130, 180), rt=(150, 160, 25))  # level 2: the WT 30 below its RT on every seed
    levels = level_estimates(("winning", run), ("random", run), [1, 2, 3], margin=8.0)
    assert levels.gain.round(6).tolist() == [40.0, -30.0, 155.0] and levels.outcome[1] == CONTRADICTED
    assert weakest(levels)[0] == 2 and strongest(levels)[0] == 3


def test_a_level_a_little_above_the_dense_net_among_ten_is_unresolved_with_its_widened_interval():
    """Qbert's "above the dense net": one level 27 above it (margin 25), not past Holm among ten levels."""
    claim = "WT raises the reward above the dense net on Berzerk and Qbert"
    one_level = table("atari", "Qbert", "reward", 500, [480] * 4 + [527] + [480] * 5, [400] * 10)
    row = scorecard(one_level, random_policy={"Qbert": 150.0}).set_index("claim").loc[claim]
    assert row.status == UNRESOLVED
    assert ". Estimated as WT - dense at level 5, the best of the 10 tried: +27 (99.0% (best of 10, Bonferroni) CI" in \
        row["our evidence"]
    assert row["levels, corrected"].startswith("Holm over the levels tried")


def test_the_lstm_claim_at_every_level_shows_its_weakest_level():
    claim = "WT beats RT at every level and stays near the dense net up to ~90% pruned"
    run = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.8, [5.6, 5.79, 5.6], [5.9, 5.8, 5.9])  # level 2: 0.01 apart
    evidence = scorecard(run).set_index("claim").loc[claim, "our evidence"]
    assert ". Estimated as RT - WT at level 2, the weakest (the claim needs every level): +0.01" in evidence
    assert evidence.split("the weakest")[1].split(". These")[0].endswith(f": {INCONCLUSIVE}")


def test_each_claim_gets_its_per_level_estimates_part_by_part():
    runs = pd.concat([classic(task=env, rt=(150, 60, 25)) for env in ("CartPole-v0", "Acrobot-v1")])
    levels = claim_levels(runs)
    first = levels[CLAIMS[0][1]]
    assert sorted(set(first.task)) == ["Acrobot-v1", "CartPole-v0"]
    cartpole = first[first.task == "CartPole-v0"]
    assert cartpole.level.tolist() == [1, 2, 3] and cartpole.gain.round(6).tolist() == [40.0, 125.0, 155.0]
    assert (cartpole.low < cartpole.gain).all() and (cartpole.gain < cartpole.high).all()
    assert CLAIMS[1][1] not in levels  # no iterative-reset run: the ablation has no estimates to draw


def test_a_paper_scale_run_on_three_seeds_supersedes_the_reduced_run_and_two_seeds_do_not():
    from lthlib.analysis import main_runs

    reduced = classic(task="Acrobot-v1", wt=(190, 185, 180, 170), rt=(150, 60, 25, 20),
                      paper_differences="episodes_per_epoch, epochs").assign(run="iterative-late-cpu")
    paper = classic(task="Acrobot-v1").assign(run="iterative-late-paper")  # fewer levels, the paper's budget
    assert set(main_runs(pd.concat([reduced, paper])).run) == {"iterative-late-paper"}
    two_seeds = paper[paper.seed < 2]
    assert set(main_runs(pd.concat([reduced, two_seeds])).run) == {"iterative-late-cpu"}
