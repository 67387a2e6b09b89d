"""Atari: the paper's conv net (Table A1) trained by A2C with an importance factor, for any ALE game.

Reads top to bottom: games -> presets -> environments -> model -> losses -> trainer -> family.

The paper (ELF, 1024 asynchronous games) fixes: batches of 128 time steps; the importance factor
pi_current(a) / pi_behaviour(a) clamped at 1.5 (training is slightly off-policy); entropy weight
0.01; rewards and advantages clipped to [-1, 1]; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-3;
N = 25 epochs of M = 1000 batches; ticket reward = mean of the last L = 1024 full-game episodes; late
rewinding to the end of epoch 1, i.e. after 1/25 of the batches (every preset keeps that share:
`rewind_batches`).

Our synchronous stand-in for ELF's asynchrony: each rollout of num_envs x num_steps steps is cut
into minibatches of 128 time steps (whole env columns, so n-step returns stay intact) that update
the net one after another; from the second minibatch on the acting policy is stale, which is what
the importance factor corrects. The `paper` preset acts in 64 games x 8 steps per rollout (4
minibatches) where ELF runs 1024 games asynchronously. Our choices where the paper is silent
(all AtariConfig fields): discount 0.99, value loss 0.5 (R - V)^2, gradient-norm clip 40 (ELF's
default), frames 105 x 80 grayscale (the 210 x 160 screen halved, which the 1920-wide flatten
implies), 4 stacked frames, frame skip 4 with max-pooling of the last two frames, sticky actions 0.25
(ALE v5), up to 30 no-op starts, FIRE pressed at reset where a game needs it, minimal action sets,
full-game episodes (not lives) cut at 108,000 frames.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from lthlib.families.atari_model import AtariNet, a2c_loss, clip_rewards
from lthlib.family import Family
from lthlib.configs import UNLESS_DEFAULT, TicketConfig, check_preset, make_config
from lthlib.episodes import EpisodeTracker, n_step_returns
from lthlib.masked import MaskedTraining
from lthlib.masks import Mask
from lthlib.precision import Stepper, autocast, check_precision, default_precision
from lthlib.resume import TicketCheckpoint, common_state, load_common_state
from lthlib.runs import derived_seed
from lthlib.atomic import atomic_write_json, read_json
from lthlib.store import settings_hash

PAPER_GAMES = ("Assault", "Berzerk", "Breakout", "Centipede", "Kangaroo", "Krull", "Qbert", "Seaquest",
               "SpaceInvaders")


def rom_id(game: str) -> str:
    """"Krull", "ALE/Krull-v5", "krull", "SpaceInvaders", "space_invaders" or "ALE/TicTacToe3D-v5" ->
    ale-py's ROM id (matched ignoring case and underscores)."""
    import ale_py

    version = re.search(r"(NoFrameskip|Deterministic)?-v(\d+)$", game.strip())
    if version and version.group(0) != "-v5":
        plain = game.strip().removeprefix("ALE/")[: version.start() - len(game.strip())]
        raise ValueError(f"{game!r} names other settings of the game (v0/v4, NoFrameskip, Deterministic: no sticky "
                         "actions, other frame skips); this family runs v5's (sticky actions 0.25, frame skip 4): use "
                         f"{plain!r} or 'ALE/{plain}-v5', and set sticky_actions or frame_skip in overrides to change them")
    roms = {rom.replace("_", ""): rom for rom in ale_py.roms.get_all_rom_ids()}
    key = re.sub(r"^ALE/|-v\d+$", "", game.strip()).replace("_", "").lower()
    if key not in roms:
        raise ValueError(
            f"unknown game {game!r}: the paper's nine are {', '.join(PAPER_GAMES)}; any game that "
            f"ale-py ships works too ({len(roms)} ROMs, e.g. Pong or ALE/Pong-v5)"
        )
    return roms[key]


def game_name(rom: str) -> str:
    """space_invaders -> SpaceInvaders (the name runs are filed under)."""
    return "".join(part.capitalize() for part in rom.split("_"))


REWIND_SHARE = 1 / 25  # the paper's late-rewinding point: epoch 1 of 25; every preset keeps it


@dataclass(frozen=True)
class AtariConfig(TicketConfig):
    RANGES: ClassVar[dict] = {"sticky_actions": (0, 1), "noop_max": (0, None), "betas": (0, 1), "gamma": (0, 1),
                              "env_threads": (0, None)}  # else: integers >= 1, numbers >= 0
    TASK_FIELD, REWIND_FIELD, REWIND_SHARE, UNIT = "game", "rewind_batches", REWIND_SHARE, "batches"

    game: str  # CamelCase, e.g. "Krull"
    channels: int = 64  # conv channels (Table A1: 64)
    hidden: int = 512  # the two fully connected layers (Table A1: 512)
    height: int = 105
    width: int = 80
    frame_stack: int = 4
    frame_skip: int = 4  # each action repeated 4 frames; the observation is the max of the last two
    sticky_actions: float = 0.25
    noop_max: int = 30  # a game starts after up to this many no-op actions
    fire_reset: bool = True  # press FIRE at the start of games that need it to begin (e.g. Breakout)
    max_episode_frames: int = 108_000  # a game is cut (truncated) after 30 minutes of play
    num_envs: int = 64
    num_steps: int = 8  # steps per env per rollout; the rollout is cut into 128-step minibatches
    batch_size: int = 128  # time steps per training batch (the paper: 128)
    epochs: int = 25  # N
    batches_per_epoch: int = 1000  # M
    last_episodes: int = 1024  # L
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-3
    gamma: float = 0.99
    entropy_coef: float = 0.01
    value_coef: float = 0.5  # weight of the squared advantage (R - V)^2
    max_grad_norm: float = 40.0
    importance_clamp: float = 1.5
    rewind_batches: int | None = None  # late rewinding point, in batches; None: the paper's 1/25 of them
    precision: str = field(default="fp32", metadata={"hash": UNLESS_DEFAULT})  # of the training step (lthlib.precision)
    # a dense-only control (levels 0): train `lineage_budgets` budgets in one run, as many batches as an
    # iterative ticket at level lineage_budgets - 1 and the tickets its mask was pruned from have had in all
    lineage_budgets: int = field(default=1, metadata={"hash": UNLESS_DEFAULT})
    # resuming inside a ticket (lthlib.resume): the training state is saved every N minutes, or every N updates
    resume_every_minutes: float = field(default=10.0, metadata={"hash": False})
    resume_every_updates: int | None = field(default=None, metadata={"hash": False})
    env_threads: int = field(default=0, metadata={"hash": False})  # ale-py's threads (0: one per core)

    @property
    def budget(self) -> int:
        return self.epochs * self.batches_per_epoch


REWIND_DEVIATIONS = {"smoke": "4 batches in all: the rewind point, rounded to 1 batch, is 1/4 of them"}


# What `cpu` shrinks so that one game's WT/RT curve (one seed, 10 levels) fits in about an hour on 2 cores: Krull's
# run took 43 min, ~230 s per ticket along its winning-ticket chain (11 tickets) with the random tickets in a
# second process, in bf16 autocast, which the preset uses where the CPU computes in bf16
# (`default_precision(cpu_bf16=True)`: 1.84x fp32's training step of this net on an AVX-512 BF16 core). In fp32
# on an AVX2 CPU a ticket takes ~3.5x as long (Berzerk: ~810 s). Breakout does not learn in this budget.
_CPU = {"channels": 16, "hidden": 256, "num_envs": 16, "num_steps": 16, "epochs": 4,
        "batches_per_epoch": 150, "last_episodes": 16}
_SMOKE = {"channels": 4, "hidden": 16, "num_envs": 4, "num_steps": 32, "epochs": 2, "batches_per_epoch": 2,
          "last_episodes": 2, "max_episode_frames": 200}  # games cut at 50 steps, so that a few end


def config(game: str, preset: str = "cpu", **overrides) -> AtariConfig:
    check_preset(preset)
    presets = {"smoke": _SMOKE, "cpu": _CPU, "paper": {}}
    precision = overrides.pop("precision", default_precision(preset, overrides.get("device", "cpu"), cpu_bf16=True))
    cfg = make_config(AtariConfig, game=game_name(rom_id(game)), **presets[preset] | overrides, precision=precision)
    check_precision(cfg.precision, cfg.device)
    if (cfg.num_envs * cfg.num_steps) % cfg.batch_size or cfg.batch_size % cfg.num_steps:
        raise ValueError(f"num_envs x num_steps ({cfg.num_envs} x {cfg.num_steps}) must split into "
                         f"batches of {cfg.batch_size} whole env columns")
    if not 1 <= cfg.rewind_batches < cfg.budget:
        raise ValueError(f"rewind_batches must lie in [1, {cfg.budget}) (the batch budget), got {cfg.rewind_batches!r}")
    return cfg


def make_envs(cfg: AtariConfig, num_envs: int | None = None):
    """ale-py's C++ vectorized env (ROMs ship inside ale-py)."""
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        rom_id(cfg.game), num_envs or cfg.num_envs, img_height=cfg.height, img_width=cfg.width,
        grayscale=True, stack_num=cfg.frame_stack, frameskip=cfg.frame_skip,
        repeat_action_probability=cfg.sticky_actions, reward_clipping=False, episodic_life=False,
        maxpool=True, noop_max=cfg.noop_max, use_fire_reset=cfg.fire_reset,
        max_num_frames_per_episode=cfg.max_episode_frames, num_threads=cfg.env_threads,
    )


def build_model(cfg: AtariConfig, seed: int) -> AtariNet:
    probe = make_envs(cfg, 1)
    n_actions = probe.single_action_space.n
    probe.close()
    torch.manual_seed(seed)
    model = AtariNet(n_actions, cfg.channels, cfg.hidden, cfg.frame_stack, cfg.height, cfg.width)
    return model.to(cfg.device).to(memory_format=torch.channels_last)


# --- training ----------------------------------------------------------------------------------------

def train(model: AtariNet, mask: Mask, cfg: AtariConfig, seed: int, rewind_hook=None,
          checkpoint: TicketCheckpoint | None = None) -> dict:
    """N epochs of M batches of 128 time steps; returns the mean score of the last L full games.

    With `checkpoint`, the training state is saved after whole rollouts and a rerun resumes from it:
    weights, optimizer, RNG, counters and finished games' scores. The emulators' state is not saved
    (ale-py's vector env cannot restore it): a resumed ticket starts fresh games, reset with a seed drawn
    from the ticket's seed and its batch count, and the games that were running are dropped, so it
    continues like, not identically to, an uninterrupted one."""
    torch.manual_seed(seed)
    device, n, T = torch.device(cfg.device), cfg.num_envs, cfg.num_steps
    envs = make_envs(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    masking, stepper = MaskedTraining(model, mask, optimizer), Stepper(optimizer, cfg.precision)
    episodes = EpisodeTracker(n)
    envs_per_batch = cfg.batch_size // T
    total_batches, batches, env_steps = cfg.budget * cfg.lineage_budgets, 0, 0
    history = []
    saved = checkpoint.restore() if checkpoint else None
    if saved:
        run = load_common_state(saved, model, optimizer, stepper, cfg.device)
        batches, env_steps, history, episodes.returns = run["batches"], run["env_steps"], run["history"], run["returns"]
    reset_seed = seed if not saved else derived_seed(seed, batches, "resume")
    obs = torch.as_tensor(envs.reset(seed=reset_seed % (2**31 - 1 - n))[0], device=device)  # ale-py takes int32 seeds

    def training_state() -> dict:
        return {**common_state(model, optimizer, stepper, cfg.device), "batches": batches, "env_steps": env_steps,
                "history": history, "returns": episodes.returns}

    while batches < total_batches:
        frames, actions, behaviour, rewards, terminated, valid, values = [], [], [], [], [], [], []
        with torch.no_grad(), autocast(cfg.precision, cfg.device):  # acting in the learner's precision
            for _ in range(T):
                logits, value = model(obs.contiguous(memory_format=torch.channels_last))
                logits, value = logits.float(), value.float()
                action = torch.multinomial(F.softmax(logits, -1), 1).squeeze(1)
                next_obs, reward, term, trunc, _ = envs.step(action.cpu().numpy())
                is_transition = episodes.step(reward, term, trunc)
                frames.append(obs)
                actions.append(action)
                behaviour.append(F.log_softmax(logits, -1).gather(-1, action.unsqueeze(-1)).squeeze(-1))
                rewards.append(torch.as_tensor(clip_rewards(reward), dtype=torch.float32, device=device))
                terminated.append(torch.as_tensor(term, dtype=torch.float32, device=device))
                valid.append(torch.as_tensor(is_transition, device=device))
                values.append(value)
                obs = torch.as_tensor(next_obs, device=device)
            next_value = model(obs.contiguous(memory_format=torch.channels_last))[1].float()
        env_steps += n * T
        stack = lambda xs: torch.stack(xs)  # noqa: E731  (time, env, ...)
        returns = n_step_returns(stack(rewards), stack(terminated), stack(valid), stack(values), next_value, cfg.gamma)
        frames, actions, behaviour, valid = stack(frames), stack(actions), stack(behaviour), stack(valid)

        # Minibatches of whole env columns; each updates the net, so later ones are off-policy.
        for columns in torch.randperm(n).split(envs_per_batch):
            keep = valid[:, columns].flatten()
            batch_frames = frames[:, columns].flatten(0, 1)[keep].contiguous(memory_format=torch.channels_last)
            with autocast(cfg.precision, cfg.device):
                logits, value = model(batch_frames)
            loss = a2c_loss(logits.float(), value.float(), actions[:, columns].flatten()[keep],
                            behaviour[:, columns].flatten()[keep], returns[:, columns].flatten()[keep], cfg)
            optimizer.zero_grad(set_to_none=True)
            stepper.backward(loss)
            stepper.step(model.parameters(), cfg.max_grad_norm)
            batches += 1
            if batches % cfg.batches_per_epoch == 0:
                history.append(float(np.mean(episodes.returns[-cfg.last_episodes:])) if episodes.returns else float("nan"))
            if rewind_hook is not None and batches == cfg.rewind_batches:
                rewind_hook(model)
            if batches >= total_batches:
                break
        if checkpoint and batches < total_batches:
            checkpoint.save_if_due(batches, training_state)
    envs.close()
    masking.remove()
    last = episodes.returns[-cfg.last_episodes:]
    return {
        "metrics": {"reward": float(np.mean(last)) if last else float("nan")},
        "history": {"epoch_mean_reward": history, "episodes": len(episodes.returns)},
        "stats": {"updates": batches, "samples": env_steps},
    }


RANDOM_POLICY_GAMES = 16
_ENV_FIELDS = ("height", "width", "frame_stack", "frame_skip", "sticky_actions", "noop_max", "fire_reset",
               "max_episode_frames")
PRESET_ENV = {name: AtariConfig.__dataclass_fields__[name].default for name in _ENV_FIELDS}  # cpu's = paper's


def env_settings(cfg: AtariConfig) -> dict:
    """The config's fields that change what a game is (and so a random policy's score)."""
    return {name: getattr(cfg, name) for name in _ENV_FIELDS}


@torch.no_grad()
def random_policy(cfg: AtariConfig, games: int = RANDOM_POLICY_GAMES, seed: int = 0) -> dict:
    """Uniformly random actions, one full game in each of `games` envs: the baseline a trained agent must beat.

    One game per env, not the first `games` to end: those would favour short (often low-scoring)
    games. Besides the mean score, `score_to_beat` is that mean plus two standard errors of the
    difference of two means over `games` games (the agents' spread taken as the random policy's):
    agents below it have not clearly learned (`analysis.learned`).
    """
    envs = make_envs(cfg, games)
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    running, scores = np.zeros(games), np.full(games, np.nan)
    while np.isnan(scores).any():
        _, reward, terminated, truncated, _ = envs.step(rng.integers(envs.single_action_space.n, size=games))
        running += reward
        ended = (terminated | truncated) & np.isnan(scores)
        scores[ended] = running[ended]
    envs.close()
    std = float(scores.std(ddof=1)) if games > 1 else 0.0
    return {"game": cfg.game, "reward": float(scores.mean()), "reward_std": std,
            "score_to_beat": float(scores.mean() + 2 * math.sqrt(2 / games) * std), "games": games, "seed": seed,
            "env": env_settings(cfg)}


def publish_random_policy(record: dict, results_dir: str | Path) -> Path:
    """Write a game's `random_policy` record beside its published runs, one file per environment
    setting (a smoke run's shorter games never replace the presets' baseline)."""
    path = Path(results_dir) / "atari" / record["game"] / f"random-policy-{settings_hash(record['env'])}.json"
    atomic_write_json(record, path)
    return path


def random_policies(results_dir: str | Path, env: dict | None = None) -> dict[str, dict]:
    """{game: its `random_policy` record} under `results_dir`, for the environment settings `env`
    (default: the presets', which `cpu` and `paper` share)."""
    records = map(read_json, sorted(Path(results_dir).glob("atari/*/random-policy-*.json")))
    return {record["game"]: record for record in records if record["env"] == (env or PRESET_ENV)}


@torch.no_grad()
def play(model: AtariNet, cfg: AtariConfig, steps: int = 400, every: int = 8, seed: int = 0) -> np.ndarray:
    """Frames (k, height, width) of `model` playing one game, every `every`-th step: a clip to look at."""
    envs = make_envs(cfg, 1)
    obs, _ = envs.reset(seed=seed)
    torch.manual_seed(seed)
    model.eval()
    frames = []
    for step in range(steps):
        if step % every == 0:
            frames.append(obs[0, -1].copy())
        logits, _ = model(torch.as_tensor(obs, device=cfg.device).contiguous(memory_format=torch.channels_last))
        obs, _, term, trunc, _ = envs.step(torch.multinomial(F.softmax(logits, -1), 1).squeeze(1).cpu().numpy())
        if term[0] or trunc[0]:
            break
    envs.close()
    return np.stack(frames)


def _samples(c: dict) -> int:
    return c["epochs"] * c["batches_per_epoch"] * c["batch_size"]


def ticket_cost(config: dict) -> float:
    """A compute proxy for one ticket, to scale measured times between presets: samples x conv work."""
    pixels = config["height"] * config["width"]
    per_sample = config["channels"] * (config["frame_stack"] + config["channels"]) * pixels + config["hidden"] ** 2
    return _samples(config) * config.get("lineage_budgets", 1) * per_sample


class Atari(Family):
    name, metric, higher_is_better = "atari", "reward", True
    rewind_share = REWIND_SHARE
    margin, margin_of = 0.05, "score"
    samples_unit, domain = "env steps", "Atari"
    scores_to_beat = staticmethod(lambda results_dir: {g: r["score_to_beat"] for g, r in random_policies(results_dir).items()})
    trivial_baseline = staticmethod(lambda game, results_dir, config: (lambda r: (r["reward"], f"random policy, {r['games']} "
                                    "games") if r else None)(random_policies(results_dir).get(game)))
    output_layers = ("policy.weight", "value.weight")
    paper_tasks = PAPER_GAMES
    notebook, task_parameter = "notebooks/atari.ipynb", "game"
    not_dense = ("rewind_batches", "rewind_epochs")
    paper_needs_gpu = True  # its paper preset takes many hours per ticket on a CPU
    resumes_inside_ticket = True  # from the last whole rollout, with fresh games (see train)

    config = staticmethod(config)
    build_model = staticmethod(build_model)
    train = staticmethod(train)
    ticket_cost = staticmethod(ticket_cost)
    rewind_deviations = REWIND_DEVIATIONS
    rewind_tasks = (("any game", "Krull"),)  # the rewind point does not depend on the game
    fingerprint_tickets = {"Krull": ("Krull", {"precision": "fp32"}, "mkl+aten+onednn")}
    gpu_tflops = 30.0  # small convs on batches of 128 frames (~3% of an H100's bf16 peak)

    @staticmethod
    def gpu_macs(c: dict) -> float:
        ch, h, w, frames = c["channels"], c["height"], c["width"], c["frame_stack"]
        convs = h * w * ch * frames * 25 + (h // 2) * (w // 2) * ch * ch * 25 + (h // 4) * (w // 4) * ch * ch * 9 \
            + (h // 8) * (w // 8) * ch * ch * 9
        per_sample = convs + ch * (h // 16) * (w // 16) * c["hidden"] + c["hidden"] ** 2
        return _samples(c) * per_sample * 4 / 3  # the acting forward, besides the training pass

    @staticmethod
    def gpu_floor_seconds(c: dict) -> float:
        return _samples(c) / 30_000  # ALE with frame skip 4 on a 16-core node (this 2-core VM: ~3,650 steps/s)

    @staticmethod
    def paper_grids() -> list[tuple[str, dict, int, int, str]]:
        return [("Atari conv net, 9 games", asdict(AtariConfig(game="Krull")), 9, 0, "iterative-late x 9 games")]


    @staticmethod
    def run_inputs(p: dict) -> tuple[str, dict, tuple[str, ...]]:
        """The notebook's parameters -> (task, config overrides, parameters never pruned): `num_envs` 0 keeps the preset's."""
        return p["game"], {"device": p["device"], **({"num_envs": p["num_envs"]} if p["num_envs"] else {}),
                           **p["overrides"]}, ()


FAMILY = Atari()
