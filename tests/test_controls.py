"""The mask against the initialization: the controls scramble what they say and train like the run's tickets."""

import pytest
import torch

from lthlib import Lottery, Mask, load_results, run_lottery
from lthlib.analysis import by_seed
from lthlib.controls import (control_effects, control_hash, load_controls, permuted_within_layers, publish,
                             random_mask_like, run_controls)
from lthlib.families import classic_control as C, margin_for
from lthlib.atomic import read_json
from lthlib.pruning import prune_global
from lthlib.verdicts import estimate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("controls")
    config = C.config("CartPole-v0", "smoke")
    root = run_lottery(C.FAMILY, config, Lottery(levels=2), seeds=[0, 1, 2], runs_dir=runs, progress=False, threads=1)
    return root


def _mask_and_state():
    model = C.FAMILY.build_model(C.config("CartPole-v0", "smoke"), 0)
    state = model.state_dict()
    return prune_global(state, Mask.ones(model), 0.6), state


def test_a_random_mask_keeps_each_layers_count_at_other_positions():
    mask, _ = _mask_and_state()
    other = random_mask_like(mask, seed=1)
    assert {n: int(other[n].sum()) for n in mask} == {n: int(mask[n].sum()) for n in mask}
    assert sum(int((other[n] != mask[n]).sum()) for n in mask) > 0
    assert all(other[n].equal(random_mask_like(mask, seed=1)[n]) for n in mask)  # seeded


def test_permuting_shuffles_the_surviving_values_within_each_layer_only():
    mask, state = _mask_and_state()
    shuffled = permuted_within_layers(state, mask, seed=1)
    for name in mask:
        kept = mask[name]
        assert torch.equal(shuffled[name][~kept], state[name][~kept])  # pruned positions as they were
        assert torch.equal(shuffled[name][kept].sort().values, state[name][kept].sort().values)  # same values
    assert any(not torch.equal(shuffled[n], state[n]) for n in mask if int(mask[n].sum()) > 1)


def test_controls_train_at_each_level_resume_and_publish(run, tmp_path):
    records = run_controls(run, [1, 2], progress=False)
    assert sorted({(r["seed"], r["level"], r["ticket"]) for r in records}) == sorted(
        (s, k, c) for s in (0, 1, 2) for k in (1, 2) for c in ("permuted", "random_mask"))
    settings = read_json(run / "settings.json")
    for r in records:
        ticket = read_json(run / f"seed_{r['seed']}" / f"level_{r['level']:02d}" / "winning.json")
        assert r["layer_fractions_pruned"] == pytest.approx(ticket["layer_fractions_pruned"])  # same per-layer sparsity
        assert r["control_hash"] == control_hash(settings, r["ticket"])
    assert len({r["control_hash"] for r in records}) == 2
    done = {p: p.stat().st_mtime_ns for p in run.glob("controls/seed_*/level_*/*.json")}
    run_controls(run, [1, 2], progress=False)  # nothing left to train
    assert {p: p.stat().st_mtime_ns for p in run.glob("controls/seed_*/level_*/*.json")} == done

    path = publish(run, tmp_path / "results")
    assert path.name.endswith(".controls.json")
    controls = load_controls(tmp_path / "results")
    assert len(controls[controls.metric == "reward"]) == 12 + 6  # and the 6 parents they were taken from
    parents = controls[(controls.metric == "reward") & (controls.ticket == "parent")].set_index(["seed", "level"]).value
    mains = load_results(run)
    mains = mains[(mains.metric == "reward") & (mains.ticket == "winning")].set_index(["seed", "level"]).value
    assert parents.sort_index().equals(mains.loc[parents.index].sort_index())
    results = load_results(run)
    effects = control_effects(controls, results)
    assert sorted(set(effects.against)) == ["permuted", "random", "random_mask"] and set(effects.level) == {1, 2}
    row = effects[(effects.level == 2) & (effects.against == "permuted")].iloc[0]
    rewards = controls[controls.metric == "reward"]
    main = results[results.metric == "reward"]
    expected = estimate(by_seed(main, "winning", 2), by_seed(rewards, "permuted", 2),
                        margin_for("classic_control", by_seed(main, "dense").mean(), "CartPole-v0"))
    assert (row.seeds, row.gain, row.low, row.high) == pytest.approx((3, expected.gain, expected.low, expected.high))


def test_controls_pair_with_their_own_parents_and_publishing_again_keeps_earlier_seeds(run, tmp_path):
    path = publish(run, tmp_path)
    published = read_json(path)
    kept = [t for t in published["tickets"] if t["seed"] == 0]
    published["tickets"] = [t for t in published["tickets"] if t["seed"] != 0]
    published["tickets"] += [dict(t, seed=7) for t in kept]  # a seed whose run directory is gone
    published["parents"] += [dict(t, seed=7) for t in published["parents"] if t["seed"] == 0]
    path.write_text(__import__("json").dumps(published))
    publish(run, tmp_path)
    again = read_json(path)
    assert {t["seed"] for t in again["tickets"]} == {0, 1, 2, 7} and {t["seed"] for t in again["parents"]} == {0, 1, 2, 7}

    controls, results = load_controls(tmp_path), load_results(run)
    results.loc[(results.ticket == "winning") & (results.seed == 0) & (results.metric == "reward"), "value"] += 1000.0
    effects = control_effects(controls, results).set_index(["level", "against"])  # seed 0's summary: other numbers
    honest = control_effects(controls, load_results(run)).set_index(["level", "against"])
    assert effects.loc[(2, "permuted"), "gain"] == pytest.approx(honest.loc[(2, "permuted"), "gain"])  # its parent
    assert effects.loc[(2, "random"), "gain"] > honest.loc[(2, "random"), "gain"] + 300  # the summary's own pairs


def test_a_level_the_run_has_not_reached_is_a_clear_error(run):
    with pytest.raises(FileNotFoundError, match="train the run to level 5 first"):
        run_controls(run, [5], progress=False)
    with pytest.raises(ValueError, match="unknown controls"):
        run_controls(run, [1], controls=("shuffled",), progress=False)
