import numpy as np
import pytest
import torch

from lthlib import Mask
from lthlib.episodes import EpisodeTracker
from lthlib.families import classic_control as cc


def test_a2c_learns_cartpole():
    config = cc.config("CartPole-v0", "cpu", epochs=4)
    model = cc.build_model(config, seed=0)
    captured = []
    result = cc.train(model, Mask.ones(model), config, seed=1, rewind_hook=lambda m: captured.append(1))
    per_epoch = result["history"]["epoch_mean_reward"]
    assert per_epoch[-1] > 1.5 * per_epoch[0]  # random play scores ~22 per episode
    assert result["metrics"]["reward"] > 40
    assert captured == [1]  # the rewind point is reported once


@pytest.mark.parametrize("env", cc.PAPER_ENVS)
def test_paper_envs_train_at_smoke(env):
    config = cc.config(env, "smoke")
    model = cc.build_model(config, seed=0)
    result = cc.train(model, Mask.ones(model), config, seed=0)
    assert result["stats"]["samples"] > 0
    assert len(result["history"]["epoch_mean_reward"]) == config.epochs


def test_paper_preset_follows_table_a1():
    c = cc.config("Acrobot-v1", "paper")
    assert (c.hidden, c.epochs, c.episodes_per_epoch, c.last_episodes) == ((256,) * 3, 20, 320, 100)
    assert (c.num_envs * c.num_steps, c.lr, c.rms_alpha, c.rms_eps, c.reward_scale) == (128, 1e-4, 0.99, 1e-8, 0.01)
    assert cc.config("CartPole-v0", "cpu") == cc.config("CartPole-v0", "paper")


def test_model_sizes_and_seeded_init():
    config = cc.config("CartPole-v0", "paper")
    a, b, c = (cc.build_model(config, s) for s in (0, 0, 1))
    assert [p.shape[0] for n, p in a.named_parameters() if n.endswith("bias")] == [128, 128, 128, 2, 1]
    assert torch.equal(a.trunk[0].weight, b.trunk[0].weight)
    assert not torch.equal(a.trunk[0].weight, c.trunk[0].weight)


@pytest.mark.parametrize(
    "env, preset, overrides, message",
    [
        ("CartPole-v9", "cpu", {}, "unknown env 'CartPole-v9'.*CartPole-v0, Acrobot-v1, LunarLander-v3"),
        ("LunarLander-v2", "cpu", {}, "LunarLander-v3"),
        ("MountainCarContinuous-v0", "cpu", {}, "Discrete actions"),
        ("CartPole-v0", "gpu", {}, "unknown preset 'gpu'.*smoke.*cpu.*paper"),
        ("CartPole-v0", "cpu", {"epoch": 3}, "unknown config fields.*epochs"),
        ("CartPole-v0", "cpu", {"env_backend": "envpool"}, "envpool.*runs.*Acrobot-v1"),
        ("Acrobot-v1", "cpu", {"env_backend": "brax"}, "env_backend must be one of"),
    ],
)
def test_bad_input_is_refused_clearly(env, preset, overrides, message):
    with pytest.raises(ValueError, match=message):
        cc.config(env, preset, **overrides)


@pytest.mark.parametrize("env", cc.ENVPOOL_ENVS)
def test_envpool_backend_is_the_default_where_it_has_the_env_and_is_deterministic(env):
    config = cc.config(env, "smoke")
    assert config.env_backend == "envpool"
    assert cc.config("MountainCar-v0", "smoke").env_backend == "gymnasium"  # any other id: gymnasium
    runs = []
    for _ in range(2):
        model = cc.build_model(config, seed=0)
        runs.append(cc.train(model, Mask.ones(model), config, seed=3_000_000_000))  # a derived seed: beyond int32
    assert runs[0]["metrics"] == runs[1]["metrics"] and runs[0]["stats"] == runs[1]["stats"]


def test_both_backends_play_the_same_task():
    """One env id is one task in every backend: random play scores alike (same episode limits and rewards)."""
    for env, steps in (("Acrobot-v1", 600), ("LunarLander-v3", 400)):
        scores = {}
        for backend in cc.BACKENDS:
            envs = cc.make_envs(env, 16, backend, seed=0)
            envs.reset(**({"seed": 0} if backend == "gymnasium" else {}))
            tracker, rng = EpisodeTracker(16), np.random.default_rng(0)
            for _ in range(steps):
                _, reward, term, trunc, _ = envs.step(rng.integers(envs.single_action_space.n if backend == "gymnasium"
                                                                   else envs.action_space.n, size=16))
                tracker.step(reward, term, trunc)
            envs.close()
            scores[backend] = np.array(tracker.returns)
        gym_scores, pool_scores = scores["gymnasium"], scores["envpool"]
        assert len(gym_scores) >= 16 and len(pool_scores) >= 16
        spread = np.sqrt(gym_scores.var() / len(gym_scores) + pool_scores.var() / len(pool_scores))
        assert abs(gym_scores.mean() - pool_scores.mean()) < 4 * spread + 1e-6, (env, gym_scores.mean(), pool_scores.mean())


def test_committed_cartpole_run_reproduces_on_the_current_training_path():
    """The speed-ups of the A2C loop (foreach RMSprop and clipping, the Sequential's arithmetic without module
    calls, multinomial's own draw without its checks) change no number: the first epochs of the committed
    CartPole-v0 dense net of seed 0, trained when the loop was first written, come out the same."""
    import json
    from pathlib import Path

    from lthlib.lottery import derived_seed

    summary = Path(__file__).parents[1] / "data/results/classic_control/CartPole-v0/iterative-late-796731734f.summary.json"
    committed = next(t for t in json.loads(summary.read_text())["tickets"] if (t["seed"], t["ticket"]) == (0, "dense"))
    config = cc.config("CartPole-v0", "cpu", epochs=5)  # the first 800 of its 3,200 episodes
    model = cc.build_model(config, 0)
    result = cc.train(model, Mask.ones(model), config, derived_seed(0, 0, "dense"))
    assert result["history"]["epoch_mean_reward"] == committed["history"]["epoch_mean_reward"][:5]


def test_sparse_rmsprop_gives_torchs_numbers_bit_for_bit_on_a_pruned_ticket(monkeypatch):
    """The A2C loop's RMSprop clamps the square averages before the sqrt (MKL's is slow on the pruned zeros):
    a 90%-pruned CartPole ticket ends with torch's RMSprop's weights exactly, and its state loads into it."""
    from lthlib import prune_global
    from lthlib.sparse_rmsprop import SparseRMSprop, floor_for

    config = cc.config("CartPole-v0", "paper", max_updates=150)
    weights, states = {}, {}
    for optimizer in (torch.optim.RMSprop, SparseRMSprop):
        made = []
        monkeypatch.setattr(cc, "SparseRMSprop", lambda *a, cls=optimizer, **k: made.append(cls(*a, **k)) or made[-1])
        model = cc.build_model(config, 0)
        mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.9)
        cc.train(model, mask, config, seed=3)
        weights[optimizer] = torch.cat([p.detach().flatten() for p in model.parameters()])
        states[optimizer] = made[0].state_dict()
    assert torch.equal(weights[torch.optim.RMSprop], weights[SparseRMSprop])
    square_avgs = [s["square_avg"] for s in states[SparseRMSprop]["state"].values()]
    assert (torch.cat([s.flatten() for s in square_avgs]) == 0).float().mean() > 0.85  # the zeros it is for
    reference = torch.optim.RMSprop(cc.build_model(config, 0).parameters(), lr=config.lr)
    reference.load_state_dict(states[SparseRMSprop])
    assert all(torch.equal(a["square_avg"], b["square_avg"]) and torch.equal(a["step"], b["step"]) for a, b in
               zip(states[torch.optim.RMSprop]["state"].values(), reference.state_dict()["state"].values()))

    # why the clamp changes nothing: below the floor, sqrt(x) + eps rounds to eps in float32, down to 0
    for eps in (1e-8, 1e-5, 1e-3):
        x = torch.cat([torch.zeros(1), torch.rand(100_000) * floor_for(eps),
                       torch.logspace(-45, torch.log10(torch.tensor(floor_for(eps))).item(), 1000)])
        eps32 = torch.tensor(eps, dtype=torch.float32)
        assert torch.equal(x.sqrt() + eps, eps32.expand_as(x))


def test_the_lineage_control_plays_the_dense_nets_episodes_first_then_as_many_more(tmp_path):
    from lthlib import Lottery, load_results, run_lottery
    from lthlib.analysis import lineage_trained
    from lthlib.atomic import read_json

    cfg = cc.config("CartPole-v0", "smoke")
    root = run_lottery(cc.FAMILY, cfg, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, progress=False)
    control = run_lottery(cc.FAMILY, cc.config("CartPole-v0", "smoke", lineage_budgets=3), Lottery(levels=0),
                          seeds=[0], runs_dir=tmp_path, progress=False)
    dense, longer = (read_json(run / "seed_0" / "level_00" / "dense.json") for run in (root, control))
    assert (dense["stats"]["episodes"], longer["stats"]["episodes"]) == (8, 24)
    # the same net, seed and envs: its first budget's epochs are the dense net's
    assert longer["history"]["epoch_mean_reward"][:cfg.epochs] == dense["history"]["epoch_mean_reward"]
    row = lineage_trained(load_results(tmp_path), "reward").iloc[0]
    assert (row["level"], row["seeds"], row["dense, trained the lineage's budgets"]) == (2, 1, round(longer["metrics"]["reward"], 4))
    random = read_json(root / "seed_0" / "level_02" / "random.json")["metrics"]["reward"]  # the mask, not the weights
    assert (row["RT"], row["RT − longer dense"]) == (round(random, 4), round(random - longer["metrics"]["reward"], 4))
    winning = read_json(root / "seed_0" / "level_02" / "winning.json")["metrics"]["reward"]
    assert row["WT"] == round(winning, 4)
    # an equal-updates control shares the dense net (and copies it): the main run's tickets alone are read
    run_lottery(cc.FAMILY, cc.config("CartPole-v0", "smoke", equal_updates=True), Lottery(levels=2), seeds=[0],
                runs_dir=tmp_path, progress=False)
    again = lineage_trained(load_results(tmp_path), "reward")
    assert len(again) == 1 and (again.iloc[0]["WT"], again.iloc[0]["RT"]) == (row["WT"], row["RT"])
