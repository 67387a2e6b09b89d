import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from lthlib import Mask, load_results, prune_global
from lthlib import precision
from lthlib.families import atari as A, atari_model as M
from lthlib.runs import Lottery, run_root


@pytest.mark.parametrize("game", A.PAPER_GAMES)
def test_each_paper_game_builds_steps_and_has_the_documented_frames(game):
    cfg = A.config(game, "smoke")
    envs = A.make_envs(cfg, 2)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 105, 80) and obs.dtype.name == "uint8"
    obs, reward, term, trunc, _ = envs.step(envs.action_space.sample())
    assert obs.shape == (2, 4, 105, 80) and reward.shape == (2,)
    envs.close()


def test_game_names_short_and_full_and_unknown():
    assert A.config("Krull", "smoke").game == "Krull"
    assert A.config("ALE/SpaceInvaders-v5", "smoke").game == "SpaceInvaders"
    assert A.config("Pong", "smoke").game == "Pong"  # any ALE game, not only the paper's nine
    with pytest.raises(ValueError, match="unknown game 'Krul'.*Assault, Berzerk.*any game that ale-py ships"):
        A.config("Krul")
    with pytest.raises(ValueError, match="unknown preset"):
        A.config("Krull", "huge")


def test_every_rom_that_ale_py_ships_is_a_game():
    import ale_py

    for rom in ale_py.roms.get_all_rom_ids():
        assert A.rom_id(A.game_name(rom)) == rom
    assert A.rom_id("ALE/TicTacToe3D-v5") == "tic_tac_toe_3d" and A.rom_id("ALE/UpNDown-v5") == "up_n_down"


def test_rewards_are_clipped_for_training():
    assert M.clip_rewards(np.array([0.0, 1.0, 25.0, -3.0, 0.5])).tolist() == [0.0, 1.0, 1.0, -1.0, 0.5]


def test_table_a1_flatten_is_1920_at_105_by_80():
    model = M.AtariNet(n_actions=18)
    assert model.flat_size == 1920
    assert model.features(torch.zeros(2, 4, 105, 80)).shape == (2, 1920)
    assert [m.out_features for m in model.fc if isinstance(m, torch.nn.Linear)] == [512, 512]
    logits, value = model(torch.zeros(3, 4, 105, 80, dtype=torch.uint8))
    assert logits.shape == (3, 18) and value.shape == (3,)


def test_importance_factor_is_clamped_at_1_5():
    behaviour = torch.log(torch.tensor([0.2, 0.5, 0.4]))
    current = torch.log(torch.tensor([0.24, 0.5, 0.8]))  # ratios 1.2, 1.0, 2.0
    assert M.importance_weight(current, behaviour).tolist() == pytest.approx([1.2, 1.0, 1.5])


def test_advantages_are_clipped_in_the_loss():
    cfg = A.config("Krull", "smoke", entropy_coef=0.0, value_coef=0.0)
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.25, 0.75]]))
    actions = torch.tensor([0, 1])
    behaviour = torch.log(torch.tensor([0.5, 0.75]))  # on-policy: weight 1
    values, returns = torch.tensor([0.0, 0.0]), torch.tensor([3.0, -0.5])  # advantage 3 -> 1
    loss = M.a2c_loss(logits, values, actions, behaviour, returns, cfg)
    expected = -(1.0 * math.log(0.5) + (-0.5) * math.log(0.75)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_n_step_returns_with_termination_and_autoreset():
    rewards = torch.tensor([[1.0], [1.0], [0.0]])
    terminated = torch.tensor([[0.0], [1.0], [0.0]])
    valid = torch.tensor([[True], [True], [False]])  # step 2 is gymnasium's autoreset step
    values = torch.tensor([[0.5], [0.5], [0.7]])
    returns = A.n_step_returns(rewards, terminated, valid, values, torch.tensor([9.0]), gamma=0.5)
    assert returns.squeeze(1).tolist() == pytest.approx([1.5, 1.0, 0.7])


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_pooling_before_relu_gives_table_a1s_values_and_gradients_exactly(dtype):
    from lthlib.precision import autocast

    net = A.build_model(A.config("Breakout", "cpu"), seed=0)
    table_a1 = A.build_model(A.config("Breakout", "cpu"), seed=0)
    layers = list(table_a1.features)
    table_a1.features = torch.nn.Sequential(*[layers[i] for i in (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12)])
    assert isinstance(table_a1.features[1], torch.nn.ReLU) and isinstance(table_a1.features[2], torch.nn.MaxPool2d)
    frames = torch.randint(0, 255, (8, 4, 105, 80), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    results = []
    for model in (net, table_a1):
        with autocast(dtype, "cpu"):
            logits, value = model(frames)
        loss = logits.float().logsumexp(-1).mean() + value.float().pow(2).mean()
        loss.backward()
        results.append((loss, [p.grad for p in model.parameters()]))
    assert torch.equal(results[0][0], results[1][0])
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_smoke_training_prunes_and_keeps_masked_weights_zero():
    cfg = A.config("Breakout", "smoke")
    model = A.build_model(cfg, seed=0)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    captured = []
    result = A.train(model, mask, cfg, seed=0, rewind_hook=lambda m: captured.append(1))
    assert result["stats"]["updates"] == cfg.epochs * cfg.batches_per_epoch
    assert captured == [1]
    for name, p in model.named_parameters():
        assert (p[~mask[name]] == 0).all(), name


def test_the_lineage_control_trains_the_dense_nets_batches_first_then_as_many_more():
    cfg = A.config("Breakout", "smoke", precision="fp32")
    results = []
    for config in (cfg, A.config("Breakout", "smoke", precision="fp32", lineage_budgets=2)):
        model = A.build_model(config, seed=0)
        results.append(A.train(model, Mask.ones(model), config, seed=0))
    dense, longer = results
    assert (dense["stats"]["updates"], longer["stats"]["updates"]) == (cfg.budget, 2 * cfg.budget)
    assert longer["stats"]["samples"] == 2 * dense["stats"]["samples"]
    epochs = len(dense["history"]["epoch_mean_reward"])
    assert len(longer["history"]["epoch_mean_reward"]) == 2 * epochs
    assert longer["history"]["epoch_mean_reward"][:epochs] == dense["history"]["epoch_mean_reward"]


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_preset_trains_in_bf16_only_where_the_cpu_has_bf16_arithmetic(monkeypatch, native):
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: native)
    assert A.config("Seaquest", "cpu").precision == ("bf16" if native else "fp32")
    assert A.config("Seaquest", "smoke").precision == A.config("Seaquest", "paper").precision == "fp32"
    assert A.config("Seaquest", "cpu", precision="fp32").precision == "fp32"
    # the precision is in the hash: a bf16 run and an fp32 run of the same preset are two runs
    runs = {run_root("runs", A.FAMILY, A.config("Seaquest", "cpu", precision=p), Lottery()) for p in ("fp32", "bf16")}
    assert len(runs) == 2
    assert precision.default_precision("cpu", "cpu") == "fp32"  # the families that do not ask for it


def test_a_bf16_ticket_keeps_its_pruned_weights_exactly_zero_and_scores_games():
    cfg = A.config("Breakout", "smoke", precision="bf16")
    model = A.build_model(cfg, seed=0)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    mask.apply(model)
    result = A.train(model, mask, cfg, seed=0)
    assert math.isfinite(result["metrics"]["reward"]) and result["history"]["episodes"] > 0
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and (p[~mask[name]] == 0).all(), name


def test_notebook_runs_under_papermill_at_smoke_writing_to_stdout(tmp_path):
    """As researchers run it, from the command line; with no output path papermill prints the notebook."""
    papermill_cli = Path(sys.executable).parent / "papermill"
    run = subprocess.run([str(papermill_cli), "notebooks/atari.ipynb", "-p", "game", "Krull", "-p", "preset", "smoke",
                          "-p", "levels", "1", "-p", "runs_dir", str(tmp_path / "runs"),
                          "-p", "publish_to", str(tmp_path / "results"), "--no-progress-bar"],
                         cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    df = load_results(tmp_path / "runs")
    assert set(df.ticket) == {"dense", "winning", "random"} and set(df.task) == {"Krull"}
    assert df[df.metric == "reward"].value.notna().all()  # smoke games are cut short, so some end
    outputs = [o for c in nbformat.reads(run.stdout, 4).cells if c.cell_type == "code" for o in c.outputs]
    assert sum("Plotly.newPlot" in o.get("data", {}).get("text/html", "") for o in outputs) == 2  # + the clip
    # published for the book: the run's summary and the game's random-policy baseline
    assert len(load_results(tmp_path / "results")) == len(df)
    smoke = A.config("Krull", "smoke")
    baseline = A.random_policies(tmp_path / "results", env=A.env_settings(smoke))
    assert baseline == {"Krull": A.random_policy(smoke)}  # what the notebook drew, read back
    assert f"random policy {baseline['Krull']['reward']:.0f}" in run.stdout
    assert A.random_policies(tmp_path / "results") == {}  # smoke's short games are not the presets' baseline


def test_random_policy_plays_one_game_per_env_and_sets_the_bar_two_standard_errors_above(monkeypatch):
    """Env i scores 1 a step and ends its game after 2(i + 1) steps: the first four games to end
    would be 2, 2, 4, 2 (short games again and again), one game per env is 2, 4, 6, 8."""

    class Games:
        num_envs, single_action_space = 4, type("Space", (), {"n": 3})

        def reset(self, seed):
            self.t = np.zeros(4)

        def step(self, actions):
            self.t += 1
            ended = self.t % (2 * np.arange(1, 5)) == 0
            return None, np.ones(4), ended, np.zeros(4, dtype=bool), {}

        def close(self):
            pass

    monkeypatch.setattr(A, "make_envs", lambda cfg, n: Games())
    record = A.random_policy(A.config("Breakout", "smoke"), games=4)
    assert record["reward"] == 5.0 and record["reward_std"] == pytest.approx(np.std([2, 4, 6, 8], ddof=1))
    assert record["score_to_beat"] == pytest.approx(5.0 + 2 * math.sqrt(2 / 4) * np.std([2, 4, 6, 8], ddof=1))


def test_random_policy_records_are_kept_apart_by_environment_settings(tmp_path):
    preset, smoke = A.config("Krull", "cpu"), A.config("Krull", "smoke")
    for cfg, score in ((preset, 1750.0), (smoke, 40.0)):
        A.publish_random_policy({"game": "Krull", "reward": score, "env": A.env_settings(cfg)},
                                tmp_path)
    assert A.random_policies(tmp_path)["Krull"]["reward"] == 1750.0  # the presets' baseline, not smoke's
    assert A.random_policies(tmp_path, env=A.env_settings(smoke))["Krull"]["reward"] == 40.0
