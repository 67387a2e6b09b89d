"""Bring your own model: the example family (examples/own_family.py) runs the whole lottery, and the results
table and the verdicts read it like any other family."""

import sys
from pathlib import Path

import pytest

from lthlib import Lottery, load_results, run_lottery
from lthlib.analysis import wt_vs_rt
from lthlib.families import get, margin_for

sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from own_family import SPIRALS  # noqa: E402


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    runs = tmp_path_factory.mktemp("own_family")
    root = run_lottery(SPIRALS, SPIRALS.config(), Lottery(levels=3), seeds=[0, 1, 2], runs_dir=runs, progress=False,
                       threads=1)
    return root, load_results(runs)


def test_the_example_family_runs_the_lottery_and_its_dense_net_learns(results):
    root, df = results
    assert root.parent.name == "spirals" and root.parent.parent.name == "spirals" and root.name.startswith("iterative-late-")
    assert (root / "seed_0" / "rewind.pt").exists()  # late rewinding took the weights at step 20
    dense = df[df.ticket == "dense"].value
    assert len(dense) == 3 and dense.min() > 0.9  # a 64-64 MLP separates the spirals; chance is 0.5
    assert sorted(df.level.unique()) == [0, 1, 2, 3]
    assert df[df.level == 3].fraction_pruned.round(3).unique().tolist() == [0.488]  # 1 - 0.8^3 of weights and biases


def test_its_facts_reach_the_verdicts_through_the_registry(results):
    _, df = results
    assert get("spirals") is SPIRALS
    dense = df[df.ticket == "dense"].value.mean()
    assert margin_for("spirals", dense) == pytest.approx(0.02 * dense)
    table = wt_vs_rt(df, "accuracy")
    assert table.level.tolist() == [1, 2, 3] and table.seeds.tolist() == [3, 3, 3] and table.judged.all()
