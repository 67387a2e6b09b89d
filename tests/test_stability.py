"""Stability at the rewind point (lthlib.stability): the path's numbers, and a smoke run end to end."""

import pytest
import torch

from lthlib import families
from lthlib.stability import (along_line, barrier, instability, interpolate, load_stability, publish, records,
                              run_stability, summary)

CARTPOLE = families.get("classic_control")


def test_a_linear_path_between_a_network_and_itself_has_zero_barrier():
    config = CARTPOLE.config("CartPole-v0", "smoke")
    model = CARTPOLE.build_model(config, 3)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def score(s):
        model.load_state_dict(s)
        return CARTPOLE.evaluate(model, config, 11)

    values = along_line(state, state, score)
    assert len(values) == 11 and len(set(values)) == 1 and values[0] > 0  # a real return, the same at every point
    assert instability(values) == 0.0 and barrier(values) == 0.0


def test_interpolation_is_exact_at_its_ends_and_halfway_is_the_mean():
    a = {"w": torch.randn(5, 3), "steps": torch.tensor(4)}
    b = {"w": torch.randn(5, 3), "steps": torch.tensor(9)}
    assert torch.equal(interpolate(a, b, 0.0)["w"], a["w"]) and torch.equal(interpolate(a, b, 1.0)["w"], b["w"])
    assert torch.allclose(interpolate(a, b, 0.5)["w"], (a["w"] + b["w"]) / 2)
    assert interpolate(a, b, 0.5)["steps"] == 4  # not a float: kept from the first end


def test_instability_counts_half_the_gap_between_the_ends_and_the_barrier_does_not():
    straight = [200 - 10 * i for i in range(11)]  # a straight line from 200 down to 100
    assert instability(straight) == 50.0 and barrier(straight) == 0.0
    dip = [1.0, 0.9, 0.5, 0.9, 1.0]  # accuracy-like, a dip of 0.5 in the middle
    assert instability(dip) == pytest.approx(0.5) and barrier(dip) == pytest.approx(0.5)
    loss = [2.0, 2.5, 3.0, 2.5, 2.0]  # a loss: a rise is the barrier
    assert instability(loss, higher_is_better=False) == pytest.approx(1.0)


def test_a_smoke_run_trains_two_copies_per_rewind_point_resumes_and_publishes(tmp_path):
    root = run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], shares=[0.0, 0.2], levels=[0, 7],
                         runs_dir=tmp_path / "runs", progress=False)
    rows = records(root)
    assert sorted((r["share"], r["level"]) for r in rows) == [(0.0, 0), (0.0, 7), (0.2, 0), (0.2, 7)]
    for r in rows:
        a, b = (torch.load(root / "seed_0" / f"rewind_{'init' if r['share'] == 0 else '1_5'}" / f"level_{r['level']:02d}"
                           / c / "trained.pt", weights_only=True) for c in ("a", "b"))
        assert not torch.equal(a["trunk.0.weight"], b["trunk.0.weight"])  # other noise, other weights
        assert r["fraction_pruned"] == pytest.approx(0.0 if r["level"] == 0 else 1 - 0.8 ** 7, abs=0.01)
        assert len(r["values"]) == 11 and r["instability"] >= 0
    trained = sorted(root.rglob("trained.pt"))
    stamps = [p.stat().st_mtime_ns for p in trained]
    run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], shares=[0.0, 0.2], levels=[0, 7],
                  runs_dir=tmp_path / "runs", progress=False)
    assert [p.stat().st_mtime_ns for p in trained] == stamps  # resumed: nothing trained again
    publish(root, tmp_path / "results")
    table = summary(load_stability(tmp_path / "results"))
    assert len(table) == 4 and set(table.seeds) == {1} and not table.matches.any()  # one seed decides nothing


def test_bad_rewind_points_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"shares must lie in \[0, 1\).*1\.5"):
        run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], shares=[0.0, 1.5], runs_dir=tmp_path)
    with pytest.raises(ValueError, match="levels must be integers"):
        run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], levels=[-1], runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_barriers_between_successive_levels_start_at_the_dense_net_and_are_tabled(tmp_path):
    from lthlib import Lottery, run_lottery
    from lthlib.level_barriers import level_barriers, level_table, load_level_barriers, publish_level_barriers

    config = CARTPOLE.config("CartPole-v0", "smoke")
    root = run_lottery(CARTPOLE, config, Lottery(levels=3, random_tickets=False), seeds=[0, 1], runs_dir=tmp_path,
                       progress=False, threads=1)
    rows = level_barriers(root, progress=False)
    assert sorted((r["seed"], r["level"]) for r in rows) == [(s, k) for s in (0, 1) for k in (1, 2, 3)]
    first = next(r for r in rows if (r["seed"], r["level"]) == (0, 1))
    dense = torch.load(root / "seed_0" / "level_00" / "trained.pt", weights_only=True)
    model = CARTPOLE.build_model(config, 0)
    model.load_state_dict(dense)
    assert first["values"][0] == CARTPOLE.evaluate(model, config, 10_007)  # the path starts at the dense net
    publish_level_barriers(root, tmp_path / "results")
    table = level_table(load_level_barriers(tmp_path / "results"))
    counts = table.filter(like="barrier,").iloc[0]
    assert counts.sum() == 6 and table.seeds.iloc[0] == 2 and table.levels.iloc[0] == 3


def test_a_family_that_cannot_score_a_network_and_colliding_rewind_points_are_refused_first(tmp_path):
    with pytest.raises(ValueError, match="family 'atari' has no evaluate.*classic_control"):
        run_stability("atari", "Krull", "smoke", seeds=[0], runs_dir=tmp_path)
    with pytest.raises(ValueError, match="shares must be distinct"):
        run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], shares=[0.05, 1 / 20], runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())
    from lthlib.stability import share_label, share_tag

    assert (share_tag(0.4), share_tag(0.5), share_tag(1 / 80)) == ("0.4", "1_2", "1_80")
    assert (share_label(0.4), share_label(1 / 80), share_label(0.0)) == ("2/5", "1/80", "0 (init)")


def test_publishing_again_keeps_the_seeds_an_earlier_session_published(tmp_path):
    import json

    root = run_stability("classic_control", "CartPole-v0", "smoke", seeds=[0], shares=[0.0], levels=[0],
                         runs_dir=tmp_path / "runs", progress=False)
    path = publish(root, tmp_path / "results")
    published = json.loads(path.read_text())
    published["records"].append(dict(published["records"][0], seed=9))  # a seed whose run directory is gone
    path.write_text(json.dumps(published))
    publish(root, tmp_path / "results")
    assert sorted(r["seed"] for r in json.loads(path.read_text())["records"]) == [0, 9]
