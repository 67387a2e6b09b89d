"""The reproduction check of ./run.sh: exact where the machine matches, within the verdict rule elsewhere."""

import json

import pytest

from lthlib import Lottery, publish, run_lottery
from lthlib.families.classic_control import FAMILY, config
from lthlib.reproduction import main, report

SMOKE = config("CartPole-v0", "smoke", hidden=(64, 64))


@pytest.fixture(scope="module")
def fresh_and_committed(tmp_path_factory):
    """A 3-seed smoke run and its published summary, as ./run.sh's run and the committed results."""
    base = tmp_path_factory.mktemp("reproduction")
    root = run_lottery(FAMILY, SMOKE, Lottery(levels=2), seeds=[0, 1, 2], runs_dir=base / "runs", progress=False,
                       threads=1)
    for dense in root.glob("seed_*/level_00/dense.json"):  # a smoke net learns nothing: give it a dense net that
        record = json.loads(dense.read_text())            # did, so that the margin is finite (5% of 150 - 22)
        record["metrics"]["reward"] = 150.0 + record["seed"]
        dense.write_text(json.dumps(record))
    return root, publish(root, base / "results"), base / "results"


def edited(summary, change):
    """The committed summary with `change(record)` applied to every ticket record."""
    data = json.loads(summary.read_text())
    for record in data["tickets"]:
        change(record)
    summary.write_text(json.dumps(data))


def test_a_run_on_the_committing_machine_reproduces_it_exactly_and_says_what_it_found(fresh_and_committed, capsys):
    root, _, results = fresh_and_committed
    assert main([str(root), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "the WT beats the RT (the verdict rule: mean gain past the margin, p < 0.05) at levels" in out
    assert "CartPole-v0, iterative-late, 3 seeds" in out
    assert "on this machine kind and thread count (15 values), where equality is promised: 15 equal" in out
    assert out.rstrip().endswith("reproduced")


def test_equality_is_promised_only_where_the_record_names_the_same_machine_and_threads(fresh_and_committed, tmp_path):
    root, summary, results = fresh_and_committed
    original = summary.read_text()
    try:
        def other_threads_and_value(record):
            record["machine"]["threads"] += 1
            record["metrics"]["reward"] += 1e-9  # a last-bit drift, as on another thread count

        edited(summary, other_threads_and_value)
        lines, reproduced = report(root, results, "reward")
        assert reproduced and "  exactly equal: 0 of 15" in lines and not any("promised:" in line for line in lines)

        summary.write_text(original)
        edited(summary, lambda r: r["metrics"].update(reward=r["metrics"]["reward"] + 1e-9))  # same machine, other bits
        lines, reproduced = report(root, results, "reward")
        assert not reproduced and any("promised: 0 equal -- NOT REPRODUCED" in line for line in lines)
    finally:
        summary.write_text(original)


def test_elsewhere_a_level_whose_mean_moved_beyond_the_margin_fails_the_check(fresh_and_committed):
    root, summary, results = fresh_and_committed
    original = summary.read_text()
    try:
        def other_machine_and_worse_random_tickets(record):
            record.pop("machine")
            if record["ticket"] == "random" and record["level"] == 2:
                record["metrics"]["reward"] -= 50 + record["seed"]  # consistent across seeds, far past the margin

        edited(summary, other_machine_and_worse_random_tickets)
        lines, reproduced = report(root, results, "reward")
        assert not reproduced
        assert any("15 committed values do not record their whole machine" in line for line in lines)
        assert any(line.strip().startswith("differs: level 2 random: fresh") for line in lines), lines
    finally:
        summary.write_text(original)


def test_the_findings_give_each_effect_with_its_interval():
    import pandas as pd

    from lthlib.reproduction import findings

    rows = []
    for seed, (dense, wt, rt) in enumerate([(190, 188, 120), (195, 191, 131), (189, 190, 125)]):
        for level, ticket, value in ((0, "dense", dense), (1, "winning", wt), (1, "random", rt)):
            rows.append({"family": "classic_control", "task": "CartPole-v0", "variant": "iterative-late", "exclude": "",
                         "run": "r", "ticket": ticket, "seed": seed, "level": level, "fraction_pruned": 0.2 * level,
                         "metric": "reward", "value": float(value), "output_pruned": False})
    lines = findings(pd.DataFrame(rows), "reward")
    assert lines[1].endswith("at levels 1 of 1")
    assert "sparsest, level 1 (20.0% pruned): WT - RT +64.3 (90% CI [" in lines[2] and lines[2].endswith(": shown")
    assert "level 1 (20.0% pruned), WT - dense -1.67 (90% CI [" in lines[3]
    winning_only = findings(pd.DataFrame([r for r in rows if r["ticket"] != "random"]), "reward")
    assert winning_only[0] == "CartPole-v0, iterative-late, 3 seeds: dense net reward 191.3"
    assert winning_only[1].startswith("no random tickets in this run")
    assert "level 1 (20.0% pruned), WT - dense -1.67 (90% CI [" in winning_only[2]


def test_a_committed_summary_with_more_seeds_is_compared_on_the_seeds_both_have(fresh_and_committed):
    """CartPole-v0's committed main run has 5 seeds, ./run.sh trains 3: its verdict is read on those 3."""
    root, summary, results = fresh_and_committed
    original = summary.read_text()
    try:
        data = json.loads(original)
        extra = [dict(r, seed=r["seed"] + 3) for r in data["tickets"] if r["seed"] == 0]
        for r in extra:  # a fourth seed on which the RT at level 1 collapses: on 4 seeds the verdict could move
            if r["ticket"] == "random":
                r["metrics"] = dict(r["metrics"], reward=-1000.0)
        summary.write_text(json.dumps(dict(data, tickets=data["tickets"] + extra)))
        lines, reproduced = report(root, results, "reward")
        (verdict,) = [line for line in lines if "WT beats RT at levels" in line]
        assert "(on the 3 seeds both have; the committed summary has 4)" in verdict and verdict.endswith("(the same)")
        assert reproduced
    finally:
        summary.write_text(original)
