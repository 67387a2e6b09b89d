"""Benchmarks: every figure that matters is a ratio measured side by side in this one process.

    .venv/bin/python bench/run.py            # all of it, well under 15 minutes on 2 cores
    .venv/bin/python bench/run.py --only pruning sparse

Prints a table and one JSON line per benchmark, and saves bench/results/<date>-<host>.json (the
book's Performance page plots the latest one). Comparison-only dependencies are the `bench` extra.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lthlib import Mask, MaskedTraining, prune_global

RESULTS = Path(__file__).parent / "results"


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


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


def _a2c_rates(steps: int = 60_000, rounds: int = 3) -> dict:
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


def _a2c_parts(updates: int = 300) -> dict:
    """What bounds our A2C, measured apart: the envs alone (random actions, ours and SB3's DummyVecEnv)
    and the net alone (4 forwards of 32 observations, the loss, backward, clipping, RMSprop: no env)."""
    from stable_baselines3.common.env_util import make_vec_env

    from lthlib.families import classic_control as cc

    envs = cc.make_envs("CartPole-v0", 32)
    envs.reset(seed=0)
    ours_env = 32 * updates * 4 / timed(lambda: [envs.step(np.random.randint(2, size=32)) for _ in range(4 * updates)])
    envs.close()
    sb3_envs = make_vec_env("CartPole-v0", n_envs=32, seed=0)
    sb3_envs.reset()
    sb3_env = 32 * updates * 4 / timed(lambda: [sb3_envs.step(np.random.randint(2, size=32)) for _ in range(4 * updates)])

    model = cc.build_model(cc.config("CartPole-v0", "paper"), 0)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.99, eps=1e-8, foreach=True)
    obs = torch.randn(4, 32, 4)

    def learn():
        for _ in range(updates):
            outs = [model(obs[t]) for t in range(4)]
            logits, values = torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])
            loss = F.log_softmax(logits, -1)[..., 0].mean() + values.pow(2).mean()
            for p in model.parameters():
                p.grad = None
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5, foreach=True)
            optimizer.step()

    learn()
    net = 128 * updates / timed(learn, repeat=2)
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
    return {"name": "classic_control_env_backends", "env_steps_per_s": rates, "ratios": ratios, "ratio": ratio,
            "target": ">= 3.0 on both (fastest backend / SyncVectorEnv)", "met": ratio >= 3.0}


# --- 2. the cost of masking --------------------------------------------------------------------------

def _trainer(model, batches, step, mask=None, lr=1e-3, fused=False):
    """A function that trains `model` (under `mask`, if given) on `batches` once."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-3, fused=fused)
    if mask is not None:
        MaskedTraining(model, mask, optimizer)

    def run():
        for batch in batches:
            loss = step(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


def _dense_vs_masked(make, batches, step, rounds: int = 3, fused: bool = False) -> tuple[float, float]:
    """Best seconds per pass of a dense model and an 80%-pruned one, timed alternately (ABAB...) so that
    other work on the machine disturbs both sides alike. fused: Adam's fused kernel (the LSTM's and the
    Transformer's presets use it)."""
    masked_model = make()
    mask = prune_global(dict(masked_model.named_parameters()), Mask.ones(masked_model), 0.8)
    dense = _trainer(make(), batches, step, fused=fused)
    masked = _trainer(masked_model, batches, step, mask, fused=fused)
    dense(), masked()  # warm-up, so both sides are timed in the same state
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        best = [min(best[0], timed(dense)), min(best[1], timed(masked))]
    return best[0], best[1]


def _masking_lstm(name: str, width: int, cutoffs: tuple[int, ...], bptt: int, batch: int, target: float | None,
                  fused: bool = False) -> dict:
    """Dense vs 80%-pruned training tokens/s of the LSTM language model, side by side in one process."""
    from lthlib.families.lstm_lm import LSTMLanguageModel

    torch.manual_seed(0)
    vocab = 33_278
    zipf = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float)  # word frequencies, roughly: the adaptive
    batches = [torch.multinomial(zipf, (bptt + 1) * batch, replacement=True).view(bptt + 1, batch)  # softmax's
               for _ in range(3)]  # tails cost what real text makes them cost

    def step(model, tokens):
        return model(tokens[:-1], tokens[1:])[0].mean()

    dense, masked = _dense_vs_masked(lambda: LSTMLanguageModel(vocab, width, width, 2, 0.5, cutoffs), batches, step,
                                     rounds=5, fused=fused)
    tokens = 3 * bptt * batch
    return {"name": name, "dense_tokens_per_s": tokens / dense, "masked_tokens_per_s": tokens / masked,
            "ratio": dense / masked, "target": f">= {target}" if target else "reported",
            "met": dense / masked >= target if target else None}


def bench_masking_lstm() -> dict:
    """The paper's LSTM (650 units, full softmax, 30 x 50 batches)."""
    return _masking_lstm("masking_cost_lstm650", 650, (), bptt=50, batch=30, target=0.97)


def bench_masking_lstm_cpu() -> dict:
    """The cpu preset's LSTM (200 units, adaptive softmax, 20 x 35 batches, fused Adam). Its step is
    dominated by Adam over the 6.7M-entry embedding: masking's pass over every gradient shows here."""
    return _masking_lstm("masking_cost_lstm200_cpu", 200, (2_000, 10_000), bptt=35, batch=20, target=0.97, fused=True)


def bench_masking_transformer_cpu() -> dict:
    """The cpu preset's Transformer (d_model 256, 3 + 3 layers, 8,000 shared BPE embeddings, fused Adam) on
    batches of ~1,000 tokens (the preset's max_tokens: 32 sentence pairs of 16 + 16 tokens)."""
    from lthlib.families import transformer_mt as T

    cfg = T.config("", "cpu")
    torch.manual_seed(0)
    batches = [(torch.randint(4, cfg.vocab_size, (32, 16)), torch.randint(4, cfg.vocab_size, (32, 17)))
               for _ in range(3)]

    def step(model, batch):
        source, target = batch
        logits = model(source, target[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), target[:, 1:].flatten(), label_smoothing=0.1)

    dense, masked = _dense_vs_masked(lambda: T.build_model(cfg, 0), batches, step, rounds=5, fused=True)
    return {"name": "masking_cost_transformer_cpu", "dense_tokens_per_s": 3 * 32 * 32 / dense,
            "masked_tokens_per_s": 3 * 32 * 32 / masked, "ratio": dense / masked, "target": ">= 0.97",
            "met": dense / masked >= 0.97}


def bench_masking_atari() -> dict:
    from lthlib.families.atari import AtariNet

    torch.manual_seed(0)
    batches = [torch.randint(0, 255, (128, 4, 105, 80), dtype=torch.uint8) for _ in range(3)]

    def step(model, frames):
        logits, value = model(frames.contiguous(memory_format=torch.channels_last))
        return logits.logsumexp(-1).mean() + value.pow(2).mean()

    dense, masked = _dense_vs_masked(lambda: AtariNet(18).to(memory_format=torch.channels_last), batches, step)
    return {"name": "masking_cost_atari_convnet", "dense_samples_per_s": 384 / dense,
            "masked_samples_per_s": 384 / masked, "ratio": dense / masked, "target": ">= 0.97",
            "met": dense / masked >= 0.97}


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
    on random frames. The gap is what the env, the bookkeeping and the Python loop cost."""
    from lthlib.families import atari

    cfg = atari.config("Breakout", "cpu", epochs=1, batches_per_epoch=48, last_episodes=1)
    n, steps = cfg.num_envs, cfg.num_steps

    def trainer() -> float:
        model = atari.build_model(cfg, 0)
        mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
        start = time.perf_counter()
        result = atari.train(model, mask, cfg, seed=0)
        return result["stats"]["samples"] / (time.perf_counter() - start)

    model = atari.build_model(cfg, 0)
    MaskedTraining(model, prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5),
                   optimizer := torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-3))
    frames = torch.randint(0, 255, (steps, n, 4, cfg.height, cfg.width), dtype=torch.uint8)
    rollouts = cfg.total_batches * cfg.batch_size // (n * steps)

    def net_only() -> float:
        start = time.perf_counter()
        for _ in range(rollouts):
            with torch.no_grad():
                for t in range(steps):
                    model(frames[t].contiguous(memory_format=torch.channels_last))
            for columns in torch.randperm(n).split(cfg.batch_size // steps):
                logits, value = model(frames[:, columns].flatten(0, 1).contiguous(memory_format=torch.channels_last))
                loss = F.log_softmax(logits, -1)[:, 0].mean() + value.pow(2).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
        return rollouts * n * steps / (time.perf_counter() - start)

    trainer(), net_only()  # warm-up
    best = [0.0, 0.0]
    for _ in range(2):  # alternately, so that other work disturbs both alike
        best = [max(best[0], trainer()), max(best[1], net_only())]
    ratio = best[0] / best[1]
    return {"name": "atari_trainer_vs_net_limit", "trainer_samples_per_s": best[0], "net_limit_samples_per_s": best[1],
            "ratio": ratio, "target": ">= 0.8", "met": ratio >= 0.8}


# --- 4. pruning at scale --------------------------------------------------------------------------------

_PRUNE_CHILD = r"""
import sys, time, torch
from lthlib import Mask, prune_global
torch.manual_seed(0)
d, ffn, vocab = 1024, 4096, 32768
shapes = {"embed.weight": (vocab, d)}
for side, layers, attn in (("encoder", 6, 4), ("decoder", 6, 8)):
    for i in range(layers):
        for j in range(attn):
            shapes[f"{side}.{i}.attn{j}.weight"] = (d, d)
        shapes[f"{side}.{i}.fc1.weight"] = (ffn, d)
        shapes[f"{side}.{i}.fc2.weight"] = (d, ffn)
        shapes[f"{side}.{i}.fc1.bias"] = (ffn,)
weights = {k: torch.randn(s) for k, s in shapes.items()}
mask = Mask({k: torch.ones(s, dtype=torch.bool) for k, s in shapes.items()})
size = sum(w.numel() * 4 for w in weights.values())

def status(field):  # bytes, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
start = time.perf_counter()
if sys.argv[1] == "ours":
    new = prune_global(weights, mask, 0.2)
else:  # naive: concatenate every magnitude, sort, threshold
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    threshold = flat.sort().values[int(0.2 * flat.numel())]
    new = {k: w.abs() >= threshold for k, w in weights.items()}
seconds = time.perf_counter() - start
peak = status("VmHWM:")
mask_bytes = sum(m.numel() for m in new.values())  # the new mask itself (1 byte per weight) is the result
print(sum(w.numel() for w in weights.values()), size, seconds, peak - before - mask_bytes)
"""


def bench_pruning_at_scale() -> dict:
    out = {}
    for method in ("ours", "naive"):
        line = subprocess.run([sys.executable, "-c", _PRUNE_CHILD, method], capture_output=True, text=True,
                              check=True).stdout.split()
        params, size, seconds, extra = int(line[0]), int(line[1]), float(line[2]), int(line[3])
        out[method] = (seconds, extra)
    (ours_s, ours_extra), (naive_s, naive_extra) = out["ours"], out["naive"]
    return {"name": "global_pruning_210M", "parameters": params, "model_bytes": size,
            "ours_seconds": ours_s, "naive_seconds": naive_s, "ours_extra_memory_x_model": ours_extra / size,
            "naive_extra_memory_x_model": naive_extra / size, "ratio": ours_extra / size, "target": "<= 1.5",
            "met": ours_extra / size <= 1.5}


# --- 5. sparse inference -----------------------------------------------------------------------------

def _sparse_speedups(weight: torch.Tensor, inputs: torch.Tensor, sparsities) -> dict[str, float]:
    """Dense matmul time / CSR matmul time of `weight` (out, in) pruned by magnitude to each sparsity."""
    speedups = {}
    for sparsity in sparsities:
        mask = prune_global({"w": weight}, Mask({"w": torch.ones_like(weight, dtype=torch.bool)}), sparsity)
        pruned = weight * mask["w"]
        csr = pruned.to_sparse_csr()
        with torch.no_grad():
            dense_t = timed(lambda: pruned @ inputs, repeat=5)
            sparse_t = timed(lambda: csr @ inputs, repeat=5)
        assert torch.allclose(pruned @ inputs, csr @ inputs, atol=1e-3)
        speedups[f"{sparsity:.2f}"] = dense_t / sparse_t
    return speedups


def bench_sparse_inference() -> dict:
    torch.manual_seed(0)
    sparsities = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)
    cases = {
        "mlp_256x256_batch32": (torch.randn(256, 256), torch.randn(256, 32)),
        "lstm650_gates_batch30": (torch.randn(4 * 650, 650), torch.randn(650, 30)),
        "transformer_ffn_4096x1024_tokens64": (torch.randn(4096, 1024), torch.randn(1024, 64)),
    }
    result = {"name": "sparse_inference_csr", "speedup_vs_dense": {}}
    for case, (weight, inputs) in cases.items():
        result["speedup_vs_dense"][case] = _sparse_speedups(weight, inputs, sparsities)
    at_90 = [result["speedup_vs_dense"][c]["0.90"] for c in ("mlp_256x256_batch32", "transformer_ffn_4096x1024_tokens64")]
    result.update({"ratio": min(at_90), "target": ">= 1.5 at 90% (MLP and Transformer)", "met": min(at_90) >= 1.5})
    return result


BENCHMARKS = {"a2c": bench_a2c, "masking_lstm": bench_masking_lstm, "masking_lstm_cpu": bench_masking_lstm_cpu,
              "masking_atari": bench_masking_atari, "masking_transformer_cpu": bench_masking_transformer_cpu,
              "env_backends": bench_env_backends, "atari": bench_atari_throughput, "atari_net_limit": bench_atari_net_limit, "pruning": bench_pruning_at_scale,
              "sparse": bench_sparse_inference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every side")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        produced = BENCHMARKS[name]()
        for record in produced if isinstance(produced, list) else [produced]:  # a bench may give several
            record["bench_seconds"] = time.perf_counter() - start
            records.append(record)
            print(json.dumps(record), flush=True)
    print()
    print(f"{'benchmark':<28} {'ratio':>8}  {'target':<38} met")
    for r in records:
        print(f"{r['name']:<28} {r['ratio']:>8.2f}  {r['target']:<38} {r['met']}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    path = RESULTS / f"{stamp}-{socket.gethostname()}.json"
    path.write_text(json.dumps({"date": stamp, "host": socket.gethostname(), "machine": platform.machine(),
                                "cpus": torch.get_num_threads(), "torch": torch.__version__,
                                "load_average": list(__import__("os").getloadavg()),
                                "benchmarks": records}, indent=1))
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
