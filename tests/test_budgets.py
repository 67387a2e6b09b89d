"""The budget-scaling study: each budget's effects, estimated on the same seeds, from real (smoke) runs."""

import shutil

import pytest

from lthlib import Lottery, load_results, run_lottery
from lthlib.analysis import by_seed
from lthlib.budgets import budget_effects, budget_reading, run_budgets
from lthlib.families import classic_control as C, margin_for
from lthlib.plots import budget_scaling
from lthlib.verdicts import estimate


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("budgets")
    for episodes in (4, 8):  # 2 epochs of each: budgets of 8 and 16 episodes
        config = C.config("CartPole-v0", "smoke", episodes_per_epoch=episodes)
        for variant in ("iterative-late", "iterative-reset"):
            run_lottery(C.FAMILY, config, Lottery(variant=variant, levels=2, random_tickets=variant.endswith("late")),
                        seeds=[0, 1, 2], runs_dir=runs, progress=False, threads=1)
    return runs


def test_each_budget_gets_both_effects_on_its_own_runs(runs):
    assert sorted(set(run_budgets(runs, "classic_control").values())) == [8, 16]
    effects = budget_effects(runs, "classic_control", "CartPole-v0")
    assert effects[["budget", "effect"]].values.tolist() == [[8, "wt_vs_rt"], [8, "late_rewinding"],
                                                            [16, "wt_vs_rt"], [16, "late_rewinding"]]
    assert (effects.seeds == 3).all()
    df = load_results(runs)
    late = df[(df.run.str.startswith("iterative-late")) & (df.run.isin(
        [r for r, b in run_budgets(runs, "classic_control").items() if b == 16]))]
    kept = late[late.level > 0]
    expected = estimate(by_seed(kept, "winning"), by_seed(kept, "random"),
                        margin_for("classic_control", by_seed(late, "dense").mean(), "CartPole-v0"))
    row = effects[(effects.budget == 16) & (effects.effect == "wt_vs_rt")].iloc[0]
    assert (row.gain, row.low, row.high) == pytest.approx((expected.gain, expected.low, expected.high))


def test_the_scaling_figure_draws_each_effect_against_the_budget(runs):
    fig = budget_scaling(budget_effects(runs, "classic_control", "CartPole-v0"))
    points = [t for t in fig.data if t.error_y.array is not None]
    assert len(points) == 2 and all(list(t.x) == [8, 16] for t in points)


def test_a_budget_run_to_more_levels_is_judged_on_the_levels_all_reached(runs, tmp_path):
    shutil.copytree(runs, tmp_path / "runs")
    config = C.config("CartPole-v0", "smoke", episodes_per_epoch=6)  # a budget of 12 episodes, to level 3
    run_lottery(C.FAMILY, config, Lottery(variant="iterative-late", levels=3), seeds=[0, 1, 2],
                runs_dir=tmp_path / "runs", progress=False, threads=1)
    effects = budget_effects(tmp_path / "runs", "classic_control", "CartPole-v0")
    assert effects[["budget", "effect"]].values.tolist() == [[8, "wt_vs_rt"], [8, "late_rewinding"], [12, "wt_vs_rt"],
                                                            [16, "wt_vs_rt"], [16, "late_rewinding"]]
    assert set(effects.levels) == {"1–2"}
    df = load_results(tmp_path / "runs")
    late = df[df.run.isin([r for r, b in run_budgets(tmp_path / "runs", "classic_control").items() if b == 12])]
    assert late.level.max() == 3
    kept = late[late.level.isin([1, 2])]
    expected = estimate(by_seed(kept, "winning"), by_seed(kept, "random"),
                        margin_for("classic_control", by_seed(late, "dense").mean(), "CartPole-v0"))
    row = effects[(effects.budget == 12)].iloc[0]
    assert (row.gain, row.low, row.high) == pytest.approx((expected.gain, expected.low, expected.high))
    reading = budget_reading(effects)
    assert reading.startswith("On levels 1–2, the levels every budget reached:")
    first = effects[(effects.budget == 8) & (effects.effect == "wt_vs_rt")].iloc[0]
    assert f"{first.gain:+.3g} [{first.low:.3g}, {first.high:.3g}] at 8 episodes (3 seeds)" in reading
    last = effects[(effects.budget == 16) & (effects.effect == "wt_vs_rt")].iloc[0]
    assert f"{last.gain:+.3g} [{last.low:.3g}, {last.high:.3g}] at 16 episodes (3 seeds)" in reading
