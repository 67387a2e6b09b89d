"""Benchmarks of the RL families: A2C against Stable-Baselines3, classic-control env backends, the Atari trainer."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import torch.nn.functional as F

from lthlib import Mask, MaskedTraining, prune_global
from lthlib.precision import autocast

from timing import timed


# --- 1. A2C on classic control vs Stable-Baselines3 ---------------------------------------------------

def _sb3_a2c(envs, shared: bool):
    """SB3's A2C with our settings: 4 steps x 32 envs, lr 1e-4, RMSprop(alpha 0.99, eps 1e-8), 3 x 128 ReLU.
    shared: one trunk for policy and value (ours), as a features extractor with empty heads; else SB3's
    default, separate policy and value nets (twice the network)."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn

    class Trunk(BaseFeaturesExtractor):
        def __init__(self, space, hidden=(128, 128, 128)):
            super().__init__(space, hidden[-1])
            widths = (space.shape[0], *hidden)
            self.net = nn.Sequential(*[m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.ReLU())])

        def forward(self, obs):
            return self.net(obs)

    arch = (dict(features_extractor_class=Trunk, net_arch=dict(pi=[], vf=[])) if shared
            else dict(net_arch=[128, 128, 128], activation_fn=nn.ReLU))
    return A2C("MlpPolicy", envs, n_steps=4, learning_rate=1e-4, seed=0, device="cpu",
               policy_kwargs=dict(optimizer_class=torch.optim.RMSprop, optimizer_kwargs=dict(alpha=0.99, eps=1e-8),
                                  **arch))


def _a2c_rates(steps: int = 30_000, rounds: int = 7) -> dict:
    """env-steps/s of our A2C (a 50%-pruned ticket, as the lottery trains them) and of SB3's two
    architectures on CartPole-v0, best of `rounds` alternating runs (ABC ABC ...) after a warm-up, so that
    other work on the machine disturbs every side alike."""
    from stable_baselines3.common.env_util import make_vec_env

    from lthlib.families import classic_control as cc

    config = cc.config("CartPole-v0", "paper")
    sb3_envs = make_vec_env("CartPole-v0", n_envs=32, seed=0)
    agents = {"sb3_shared": _sb3_a2c(sb3_envs, True), "sb3_separate": _sb3_a2c(sb3_envs, False)}

    def ours(updates: int) -> float:
        model = cc.build_model(config, 0)
        mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
        start = time.perf_counter()
        result = cc.train(model, mask, dataclasses.replace(config, max_updates=updates), seed=0)
        return result["stats"]["samples"] / (time.perf_counter() - start)

    def sb3(agent, total: int) -> float:
        start = time.perf_counter()
        agent.learn(total_timesteps=total, reset_num_timesteps=False)
        return total / (time.perf_counter() - start)

    ours(50), [sb3(agent, 50 * 128) for agent in agents.values()]  # warm-up
    best = {"ours": 0.0, **{name: 0.0 for name in agents}}
    for _ in range(rounds):
        best["ours"] = max(best["ours"], ours(steps // 128))
        for name, agent in agents.items():
            best[name] = max(best[name], sb3(agent, steps))
    return best


def _net_only_rate(config, updates: int = 300) -> float:
    """env-steps/s of the A2C net alone, as `cc.train` trains a 50%-pruned ticket with `config`: per update its
    4 forwards of 32 random observations, the loss, backward, clipping and RMSprop; no env."""
    from lthlib.families import classic_control as cc

    model = cc.build_model(config, 0)
    optimizer = cc.SparseRMSprop(model.parameters(), lr=config.lr, alpha=config.rms_alpha, eps=config.rms_eps,
                                 foreach=True)
    MaskedTraining(model, prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5), optimizer)
    obs = torch.randn(config.num_steps, config.num_envs, model.trunk[0].in_features)

    def learn():
        for _ in range(updates):
            outs = [model(obs[t]) for t in range(config.num_steps)]
            logits, values = torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])
            loss = F.log_softmax(logits, -1)[..., 0].mean() + values.pow(2).mean()
            for p in model.parameters():
                p.grad = None
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm, foreach=True)
            optimizer.step()

    learn()
    return config.num_steps * config.num_envs * updates / timed(learn, repeat=2)


def _a2c_parts(updates: int = 300) -> dict:
    """What bounds our A2C, measured apart: the envs alone (random actions, ours and SB3's DummyVecEnv)
    and the net alone (a 50%-pruned ticket's 4 forwards of 32 observations, the loss, backward, clipping,
    RMSprop: no env)."""
    from stable_baselines3.common.env_util import make_vec_env

    from lthlib.families import classic_control as cc

    envs = cc.make_envs("CartPole-v0", 32)
    envs.reset(seed=0)
    ours_env = 32 * updates * 4 / timed(lambda: [envs.step(np.random.randint(2, size=32)) for _ in range(4 * updates)])
    envs.close()
    sb3_envs = make_vec_env("CartPole-v0", n_envs=32, seed=0)
    sb3_envs.reset()
    sb3_env = 32 * updates * 4 / timed(lambda: [sb3_envs.step(np.random.randint(2, size=32)) for _ in range(4 * updates)])

    net = _net_only_rate(cc.config("CartPole-v0", "paper"), updates)
    return {"env_only_env_steps_per_s": ours_env, "sb3_dummyvecenv_only_env_steps_per_s": sb3_env,
            "net_only_env_steps_per_s": net, "both_serial_limit_env_steps_per_s": 1 / (1 / ours_env + 1 / net)}


def bench_a2c() -> dict:
    """Our A2C on CartPole-v0 ÷ Stable-Baselines3's: with SB3's default separate policy and value nets
    (for reference), and with our architecture, one shared trunk (a custom SB3 features extractor).
    The envs: CartPole-v0 x 32 from gymnasium in both, ours through gymnasium's NumPy-vectorized
    CartPole, SB3's through its DummyVecEnv (what SB3 users get); `parts` measures both env paths alone."""
    rates, parts = _a2c_rates(), _a2c_parts()
    shared, separate = rates["ours"] / rates["sb3_shared"], rates["ours"] / rates["sb3_separate"]
    common = {"ours_env_steps_per_s": rates["ours"], "parts": parts}
    return [
        {"name": "a2c_cartpole_vs_sb3_shared", **common, "sb3_env_steps_per_s": rates["sb3_shared"],
         "ratio": shared, "target": ">= 2.0", "met": shared >= 2.0},
        {"name": "a2c_cartpole_vs_sb3", **common, "sb3_env_steps_per_s": rates["sb3_separate"],
         "ratio": separate, "target": ">= 2.0", "met": separate >= 2.0},
    ]


def bench_sparse_rmsprop() -> dict:
    """One RMSprop step of the Acrobot-v1 net (cpu preset), torch's foreach ÷ `SparseRMSprop`'s, at 0, 50
    and 90% pruned (the pruned square averages exactly 0), alternately, best of 3; beside it, torch's sqrt
    of ordinary numbers ÷ its sqrt of a 90%-zero tensor of the same size: MKL's slow path on zeros."""
    from lthlib.families import classic_control as cc

    config = cc.config("Acrobot-v1", "cpu")
    us = {}
    for fraction in (0.0, 0.5, 0.9):
        for _ in range(3):
            for name, cls in (("torch", torch.optim.RMSprop), ("ours", cc.SparseRMSprop)):
                model = cc.build_model(config, 0)
                optimizer = cls(model.parameters(), lr=1e-4, alpha=0.99, eps=1e-8, foreach=True)
                mask = prune_global(dict(model.named_parameters()), Mask.ones(model), fraction)
                MaskedTraining(model, mask, optimizer)
                for key, p in model.named_parameters():
                    p.grad = torch.randn_like(p).mul_(1e-3).mul_(mask[key])
                optimizer.step()
                key = f"{fraction:.1f} {name}"
                us[key] = min(us.get(key, float("inf")), 1e6 * timed(optimizer.step, repeat=200))
    n = sum(p.numel() for p in cc.build_model(config, 0).parameters())
    ordinary, zeros = torch.rand(n) + 0.5, torch.rand(n) * (torch.rand(n) > 0.9)
    sqrt_ratio = timed(lambda: zeros.sqrt(), repeat=200) / timed(lambda: ordinary.sqrt(), repeat=200)
    ratios = {f: us[f"{f} torch"] / us[f"{f} ours"] for f in ("0.0", "0.5", "0.9")}
    return {"name": "sparse_rmsprop_step", "step_us": us, "torch_over_ours": ratios, "parameters": n,
            "sqrt_90pct_zeros_over_ordinary": sqrt_ratio, "ratio": ratios["0.9"], "target": "report", "met": None}


def bench_env_backends() -> dict:
    """Our A2C's training env-steps/s on Acrobot-v1 and LunarLander-v3 (cpu preset, 300 updates), in
    gymnasium's SyncVectorEnv and in envpool, alternately; the ratio is the smaller of the two."""
    from lthlib.families import classic_control as cc

    rates = {}
    for env in cc.ENVPOOL_ENVS:
        for _ in range(3):  # alternately (ABAB...), best of 3: other work on the machine disturbs both alike
            for backend in cc.BACKENDS:
                config = cc.config(env, "cpu", env_backend=backend, max_updates=300)
                model = cc.build_model(config, 0)
                start = time.perf_counter()
                result = cc.train(model, Mask.ones(model), config, seed=0)
                rate = result["stats"]["samples"] / (time.perf_counter() - start)
                rates[f"{env} {backend}"] = max(rates.get(f"{env} {backend}", 0.0), rate)
    ratios = {env: rates[f"{env} envpool"] / rates[f"{env} gymnasium"] for env in cc.ENVPOOL_ENVS}
    ratio = min(ratios.values())
    raw = _raw_env_rates(cc)
    ceilings = {env: raw[f"{env} envpool"] / raw[f"{env} gymnasium"] for env in cc.ENVPOOL_ENVS}
    # what bounds the ratio: per env-step, a serial loop pays the env's time plus the net's, which both
    # backends pay alike; so even with no Python overhead the ratio is at most (env_gym + net) / (env_pool + net)
    nets = {env: _net_only_rate(cc.config(env, "cpu")) for env in cc.ENVPOOL_ENVS}
    gym_serial = {env: 1 / raw[f"{env} gymnasium"] + 1 / nets[env] for env in cc.ENVPOOL_ENVS}  # s per env-step
    bounds = {env: gym_serial[env] / (1 / raw[f"{env} envpool"] + 1 / nets[env]) for env in cc.ENVPOOL_ENVS}
    # and a loop that stepped the envpool envs on the second core while the net works (halves of the envs
    # in turn) would still pay the slower of the two per env-step, against the serial gymnasium loop
    overlapped = {env: gym_serial[env] / max(1 / raw[f"{env} envpool"], 1 / nets[env]) for env in cc.ENVPOOL_ENVS}
    return {"name": "classic_control_env_backends", "env_steps_per_s": rates, "ratios": ratios, "ratio": ratio,
            "random_actions_env_steps_per_s": raw, "ceilings": ceilings, "net_only_env_steps_per_s": nets,
            "serial_bounds_with_net": bounds, "overlapped_bounds_with_net": overlapped,
            "target": ">= 3.0 on both (fastest backend / SyncVectorEnv)", "met": ratio >= 3.0}


def _raw_env_rates(cc, steps: int = 300) -> dict:
    """env-steps/s of each backend alone, 32 envs, random actions: the "ceiling" a training ratio should not
    pass, since the net's time adds to both sides (only roughly: random play resets at another rate
    than a learning agent, and its physics may cost otherwise)."""
    rates = {}
    for env in cc.ENVPOOL_ENVS:
        for _ in range(3):
            for backend in cc.BACKENDS:
                envs = cc.make_envs(env, 32, backend, 0)
                envs.reset()
                n = envs.single_action_space.n
                actions = [np.random.randint(n, size=32) for _ in range(steps)]
                rate = 32 * steps / timed(lambda: [envs.step(a) for a in actions])
                envs.close()
                rates[f"{env} {backend}"] = max(rates.get(f"{env} {backend}", 0.0), rate)
    return rates


# --- 3. Atari throughput -----------------------------------------------------------------------------

def bench_atari_throughput() -> dict:
    from lthlib.families import atari

    config = atari.config("Breakout", "paper", num_envs=16, num_steps=8, epochs=1, batches_per_epoch=16,
                          last_episodes=1)
    envs = atari.make_envs(config)
    envs.reset(seed=0)
    steps = 64 * config.num_envs

    def random_play():
        for _ in range(64):
            envs.step(np.random.randint(envs.single_action_space.n, size=config.num_envs))

    raw_rate = steps / timed(random_play)
    envs.close()

    def trainer_rate(cfg) -> float:
        model = atari.build_model(cfg, 0)
        start = time.perf_counter()
        result = atari.train(model, Mask.ones(model), cfg, seed=0)
        return result["stats"]["samples"] / (time.perf_counter() - start)

    paper_net_rate = trainer_rate(config)
    # the cpu preset's narrower net, with the same 16 envs
    cpu_net_rate = trainer_rate(atari.config("Breakout", "cpu", epochs=1, batches_per_epoch=32, last_episodes=1))
    model = atari.build_model(config, 0)
    frames = torch.randint(0, 255, (128, 4, 105, 80), dtype=torch.uint8)
    with torch.no_grad():
        acting = 128 / timed(lambda: model(frames.contiguous(memory_format=torch.channels_last)), repeat=3)
        acting_plain = 128 / timed(lambda: model.to(memory_format=torch.contiguous_format)(frames), repeat=3)
    return {"name": "atari_throughput", "raw_env_steps_per_s": raw_rate, "trainer_env_steps_per_s": paper_net_rate,
            "ratio": paper_net_rate / raw_rate, "cpu_preset_trainer_env_steps_per_s": cpu_net_rate,
            "cpu_preset_ratio": cpu_net_rate / raw_rate, "acting_samples_per_s_channels_last": acting,
            "acting_samples_per_s_contiguous": acting_plain, "target": "report", "met": None}


def bench_atari_net_limit() -> dict:
    """The Atari trainer's samples/s at the cpu preset ÷ the compute limit: the same net doing the same
    work per sample with no environment (per rollout of 16 envs x 16 steps: one acting forward per step
    without gradients, then its two minibatches of 128 frames through forward, loss, backward and Adam),
    on random frames. The gap is what the env, the bookkeeping and the Python loop cost; the emulators alone
    (random play, 16 envs) give the bound a serial loop cannot pass, net time / (net time + env time).

    The trainer's rate is its steady state: the samples/s between a run of 48 batches and one of 144, so the
    fixed cost of making and resetting the 16 emulators (~2 s measured, under 1% of a ticket) stays out of a
    slice this short; it is timed apart, with the rate over a whole cpu-preset ticket it implies."""
    from lthlib.families import atari

    cfg = atari.config("Breakout", "cpu", epochs=1, batches_per_epoch=48, last_episodes=1)
    n, steps = cfg.num_envs, cfg.num_steps

    def run(batches: int) -> tuple[int, float]:
        config = dataclasses.replace(cfg, batches_per_epoch=batches)
        model = atari.build_model(config, 0)
        mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
        start = time.perf_counter()
        result = atari.train(model, mask, config, seed=0)
        return result["stats"]["samples"], time.perf_counter() - start

    def trainer() -> float:
        (short, t_short), (long, t_long) = run(48), run(144)
        return (long - short) / (t_long - t_short)

    model = atari.build_model(cfg, 0)
    MaskedTraining(model, prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5),
                   optimizer := torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-3))
    frames = torch.randint(0, 255, (steps, n, 4, cfg.height, cfg.width), dtype=torch.uint8)
    rollouts = cfg.budget * cfg.batch_size // (n * steps)

    def net_only() -> float:
        start = time.perf_counter()
        for _ in range(rollouts):
            with torch.no_grad(), autocast(cfg.precision, cfg.device):
                for t in range(steps):
                    model(frames[t].contiguous(memory_format=torch.channels_last))
            for columns in torch.randperm(n).split(cfg.batch_size // steps):
                with autocast(cfg.precision, cfg.device):  # the trainer's precision (bf16 on a bf16 CPU)
                    logits, value = model(frames[:, columns].flatten(0, 1).contiguous(memory_format=torch.channels_last))
                loss = F.log_softmax(logits.float(), -1)[:, 0].mean() + value.float().pow(2).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
        return rollouts * n * steps / (time.perf_counter() - start)

    start = time.perf_counter()
    envs = atari.make_envs(cfg)
    envs.reset(seed=0)
    setup = time.perf_counter() - start
    actions = np.random.default_rng(0).integers(envs.single_action_space.n, size=(steps * 8, n))

    def env_only() -> float:  # the emulators alone, random play, as many steps as 8 rollouts
        return actions.size / timed(lambda: [envs.step(a) for a in actions])

    trainer(), net_only(), env_only()  # warm-up
    best = [0.0, 0.0, 0.0]
    for _ in range(2):  # alternately, so that other work disturbs all alike
        best = [max(best[0], trainer()), max(best[1], net_only()), max(best[2], env_only())]
    envs.close()
    ratio = best[0] / best[1]
    # a serial loop pays the emulators' time per sample on top of the net's: the most it can reach
    bound = (1 / best[1]) / (1 / best[1] + 1 / best[2])
    ticket = atari.config("Breakout", "cpu")
    samples = ticket.budget * ticket.batch_size
    return {"name": "atari_trainer_vs_net_limit", "trainer_samples_per_s": best[0], "net_limit_samples_per_s": best[1],
            "env_only_samples_per_s": best[2], "serial_bound": bound, "precision": cfg.precision, "setup_seconds": setup,
            "whole_ticket_samples_per_s": samples / (samples / best[0] + setup),
            "ratio": ratio, "target": ">= 0.8", "met": ratio >= 0.8}
