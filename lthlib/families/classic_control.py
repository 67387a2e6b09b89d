"""Classic control (CartPole-v0, Acrobot-v1, LunarLander-v3, ...): the paper's MLPs trained by A2C.

Reads top to bottom: presets -> environments -> model -> the A2C trainer -> the family object.

The paper fixes: 32 envs x 4 steps per update (128-step batches), rewards / 100, RMSprop lr 1e-4,
alpha 0.99, eps 1e-8, ReLU MLPs (Table A1), N epochs of M episodes, ticket reward = mean of the
last L = 100 episodes, late rewinding to the end of epoch 1 of 20, i.e. after 1/20 of the episodes
(every preset keeps that share: `rewind_episodes`). It leaves open, and we choose:
discount 0.99, entropy weight 0.01, value-loss weight 0.5, gradient-norm clip 0.5, and one shared
trunk with a policy head and a value head (so one global ranking covers the whole agent).
Time-limit truncations bootstrap from the value of the final observation.

Environments: Acrobot-v1 and LunarLander-v3 step in envpool's C++ ports of gymnasium's (the same ids,
episode limits and next-step autoreset; measured ~12x and ~6x gymnasium's SyncVectorEnv at 32 envs),
every other env id in gymnasium (CartPole through its NumPy-vectorized env). `env_backend` says which
ran; it is part of a run's hash, since another implementation draws other random numbers.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lthlib.family import Family
from lthlib.configs import UNLESS_DEFAULT, TicketConfig, check_preset, make_config
from lthlib.episodes import EpisodeTracker, n_step_returns
from lthlib.masked import MaskedTraining
from lthlib.masks import Mask
from lthlib.sparse_rmsprop import SparseRMSprop

PAPER_ENVS = ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")
ENVPOOL_ENVS = ("Acrobot-v1", "LunarLander-v3")  # where envpool's C++ env is the default backend
BACKENDS = ("gymnasium", "envpool")
REWIND_SHARE = 1 / 20  # the paper's late-rewinding point: epoch 1 of 20; every preset keeps it


@dataclass(frozen=True)
class A2CConfig(TicketConfig):
    RANGES: ClassVar[dict] = {"rms_alpha": (0, 1), "gamma": (0, 1)}  # else: integers >= 1, numbers >= 0
    TASK_FIELD, REWIND_FIELD, REWIND_SHARE, UNIT = "env", "rewind_episodes", REWIND_SHARE, "episodes"

    env: str
    hidden: tuple[int, ...]  # widths of the MLP's hidden layers
    epochs: int  # N
    episodes_per_epoch: int  # M
    last_episodes: int = 100  # L: the ticket's reward is the mean return of the last L episodes
    num_envs: int = 32
    num_steps: int = 4  # steps per env between updates: batch = num_envs * num_steps
    lr: float = 1e-4
    rms_alpha: float = 0.99
    rms_eps: float = 1e-8
    reward_scale: float = 0.01  # immediate rewards are divided by 100
    gamma: float = 0.99  # our choice (paper silent)
    entropy_coef: float = 0.01  # our choice
    value_coef: float = 0.5  # our choice
    max_grad_norm: float = 0.5  # our choice
    rewind_episodes: int | None = None  # late rewinding point, in episodes; None: the paper's 1/20 of them
    # equal_updates: every ticket stops after its dense net's number of updates instead of at the episode
    # budget (a control: agents that survive longer make more updates); the loop sets max_updates from
    # the dense net (family.ticket_config)
    equal_updates: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})
    max_updates: int | None = field(default=None, metadata={"hash": UNLESS_DEFAULT})  # None: the episode budget
    env_backend: str = field(default="gymnasium", metadata={"hash": UNLESS_DEFAULT})  # or "envpool": see ENVPOOL_ENVS
    # a dense-only control (levels 0): train `lineage_budgets` budgets in one run, as many episodes as an
    # iterative ticket at level lineage_budgets - 1 and the tickets its mask was pruned from have had in all
    lineage_budgets: int = field(default=1, metadata={"hash": UNLESS_DEFAULT})
    device: str = field(default="cpu", kw_only=True)  # hashed here, unlike the other families': runs are named with it

    @property
    def budget(self) -> int:
        return self.epochs * self.episodes_per_epoch


INPUTS = {  # the observation's dimensions (gymnasium's documentation)
    "CartPole-v0": ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
    "Acrobot-v1": ("cos θ1", "sin θ1", "cos θ2", "sin θ2", "θ1 velocity", "θ2 velocity"),
    "LunarLander-v3": ("x", "y", "x velocity", "y velocity", "angle", "angular velocity", "leg 1 contact",
                       "leg 2 contact"),
}
REWIND_DEVIATIONS = {"smoke": "8 episodes in all: the rewind point, rounded to 1 episode, is 1/8 of them"}


# Table A1: (hidden widths, N epochs, M episodes per epoch)
_PAPER_TABLE = {
    "CartPole-v0": ((128, 128, 128), 20, 160),
    "Acrobot-v1": ((256, 256, 256), 20, 320),
    "LunarLander-v3": ((256, 256, 256), 20, 640),
}
# What `cpu` changes from `paper` so a seed fits in minutes on 2 cores (CartPole-v0 runs as the paper).
_CPU_CHANGES = {
    "Acrobot-v1": {"epochs": 10, "episodes_per_epoch": 100},
    "LunarLander-v3": {"epochs": 10, "episodes_per_epoch": 100},
}
_SMOKE = {"hidden": (16, 16), "epochs": 2, "episodes_per_epoch": 4, "last_episodes": 4, "num_envs": 4}


def check_env(env: str) -> None:
    """Raise a clear error unless `env` is a gymnasium env with discrete actions and vector observations."""
    known = PAPER_ENVS + ("any other gymnasium env with Discrete actions and 1-D Box observations",)
    if env == "LunarLander-v2":
        raise ValueError("LunarLander-v2 was removed in gymnasium 1.x; use LunarLander-v3 (the same task)")
    try:
        gym.spec(env)
    except gym.error.Error as e:
        raise ValueError(f"unknown env {env!r} ({e}); choose one of: {', '.join(known)}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = gym.make(env)
    obs_space, act_space = probe.observation_space, probe.action_space
    probe.close()
    if not isinstance(act_space, gym.spaces.Discrete) or not (
        isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1
    ):
        raise ValueError(
            f"{env!r} has {obs_space} observations and {act_space} actions; this family needs "
            "Discrete actions and 1-D Box observations"
        )


def default_backend(env: str) -> str:
    """envpool where it has the env and is installed (Linux x86-64 wheels), else gymnasium: a run records
    which ran (env_backend is in its hash), so both kinds of run coexist."""
    return "envpool" if env in ENVPOOL_ENVS and importlib.util.find_spec("envpool") is not None else "gymnasium"


def config(env: str, preset: str = "cpu", **overrides) -> A2CConfig:
    """The `preset` config for `env`, with field overrides (e.g. epochs=5)."""
    check_preset(preset)
    check_env(env)
    hidden, epochs, episodes = _PAPER_TABLE.get(env, ((256, 256, 256), 20, 320))
    fields = {"env": env, "hidden": hidden, "epochs": epochs, "episodes_per_epoch": episodes,
              "env_backend": default_backend(env)}
    if preset == "cpu":
        fields.update(_CPU_CHANGES.get(env, {}))
    elif preset == "smoke":
        fields.update(_SMOKE)
    cfg = make_config(A2CConfig, **fields | overrides)
    if not 1 <= cfg.rewind_episodes < cfg.budget:
        raise ValueError(f"rewind_episodes must lie in [1, {cfg.budget}) (the episode budget), "
                         f"got {cfg.rewind_episodes!r}")
    if cfg.env_backend not in BACKENDS:
        raise ValueError(f"env_backend must be one of {list(BACKENDS)}, got {cfg.env_backend!r}")
    if cfg.env_backend == "envpool" and cfg.env not in ENVPOOL_ENVS:
        raise ValueError(f"env_backend 'envpool' runs {list(ENVPOOL_ENVS)} here, not {cfg.env!r}: use 'gymnasium'")
    if cfg.env_backend == "envpool" and importlib.util.find_spec("envpool") is None:
        raise ValueError("env_backend 'envpool' asked for, but envpool is not installed here (pip install envpool, "
                         "Linux x86-64); or pass env_backend 'gymnasium' (another run: other random numbers)")
    if cfg.equal_updates and cfg.max_updates is not None:
        raise ValueError("equal_updates sets max_updates from the dense net: give one of them, not both")
    return cfg


@lru_cache(maxsize=None)
def random_policy_return(env: str, episodes: int = 100, seed: int = 0) -> float:
    """The mean return of uniformly random actions over `episodes` episodes of gymnasium's `env`: what a
    net that learned nothing scores, from which classic control's practical margin is measured
    (`families.margin_for`; a share of |dense| would shrink to nothing where the dense reward is near 0,
    as LunarLander's is at the cpu preset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CartPole-v0 is "out of date"
        single = gym.make(env)
    rng, returns = np.random.default_rng(seed), []
    for episode in range(episodes):
        single.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = single.step(int(rng.integers(single.action_space.n)))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    single.close()
    return float(np.mean(returns))


def make_envs(env: str, num_envs: int, backend: str = "gymnasium", seed: int = 0):
    """envpool's C++ vector env, or gymnasium's NumPy-vectorized env where there is one (CartPole), else a
    SyncVectorEnv. Both autoreset on the step after an episode ends (see `lthlib.episodes`)."""
    if backend == "envpool":
        import envpool

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its LunarLander's observation bounds are float64 cast to float32
            return envpool.make_gymnasium(env, num_envs=num_envs, seed=seed, num_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CartPole-v0 is "out of date": we keep it as the paper did
        try:
            return gym.make_vec(env, num_envs=num_envs, vectorization_mode="vector_entry_point")
        except gym.error.Error:
            return gym.make_vec(env, num_envs=num_envs, vectorization_mode="sync")


class ActorCritic(nn.Module):
    """MLP trunk (ReLU) with a policy head and a value head."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...]):
        super().__init__()
        widths = (obs_dim, *hidden)
        self.trunk = nn.Sequential(
            *[layer for a, b in zip(widths, widths[1:]) for layer in (nn.Linear(a, b), nn.ReLU())]
        )
        self.policy = nn.Linear(widths[-1], n_actions)
        self.value = nn.Linear(widths[-1], 1)
        self._linears = tuple(self.trunk[::2])  # slicing a Sequential builds a new module: once, not per step

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # the Sequential's own arithmetic without a module call per layer (the cost of a small MLP's step)
        h = obs
        for layer in self._linears:
            h = torch.relu(F.linear(h, layer.weight, layer.bias))
        return F.linear(h, self.policy.weight, self.policy.bias), F.linear(h, self.value.weight, self.value.bias).squeeze(-1)


def build_model(config: A2CConfig, seed: int) -> ActorCritic:
    spec_env = make_envs(config.env, 1)
    obs_dim, n_actions = spec_env.single_observation_space.shape[0], spec_env.single_action_space.n
    spec_env.close()
    torch.manual_seed(seed)
    return ActorCritic(obs_dim, n_actions, config.hidden).to(config.device)


def sample(probs: torch.Tensor) -> torch.Tensor:
    """One action per row: what torch.multinomial(probs, 1) computes on CPU (argmax of p / q, q ~ Exp(1):
    the same draws, the same actions), without its validity checks, which cost as much again per step."""
    return (probs / torch.empty_like(probs).exponential_(1)).argmax(-1)


def train(model: ActorCritic, mask: Mask, config: A2CConfig, seed: int, rewind_hook=None) -> dict:
    """A2C for N x M episodes; returns the mean return of the last L episodes as "reward"."""
    torch.manual_seed(seed)
    device, n, gamma = torch.device(config.device), config.num_envs, config.gamma
    env_seed = seed if config.env_backend == "gymnasium" else seed % (2**31 - 1 - n)  # envpool takes int32 seeds
    envs = make_envs(config.env, n, config.env_backend, env_seed)
    params = list(model.parameters())
    # torch's foreach RMSprop, bit for bit, without its slow sqrt of the pruned weights' zero square averages
    optimizer = SparseRMSprop(params, lr=config.lr, alpha=config.rms_alpha, eps=config.rms_eps, foreach=True)
    masking = MaskedTraining(model, mask, optimizer)

    total_episodes = config.epochs * config.episodes_per_epoch * config.lineage_budgets
    rewind_after = config.rewind_episodes if rewind_hook else None
    episodes = EpisodeTracker(n)
    seeding = {"seed": env_seed} if config.env_backend == "gymnasium" else {}  # envpool's seed is set at make
    obs = torch.as_tensor(envs.reset(**seeding)[0], device=device)
    env_steps = updates = 0
    budget_left = ((lambda: updates < config.max_updates) if config.max_updates is not None
                   else (lambda: len(episodes.returns) < total_episodes))
    # the rollout's NumPy side, filled in place (float64 as the envs give it, cast once per update)
    rewards = np.empty((config.num_steps, n))
    terminated = np.empty((config.num_steps, n))
    valid = np.empty((config.num_steps, n), dtype=bool)

    while budget_left():
        logits, values, actions = [], [], []
        for t in range(config.num_steps):
            step_logits, step_value = model(obs)
            action = sample(F.softmax(step_logits.detach(), -1))
            next_obs, reward, term, trunc, _ = envs.step(action.cpu().numpy())
            valid[t] = episodes.step(reward, term, trunc)
            rewards[t] = reward * config.reward_scale
            terminated[t] = term
            logits.append(step_logits)
            values.append(step_value)
            actions.append(action)
            obs = torch.as_tensor(next_obs, device=device)
        env_steps += n * config.num_steps

        with torch.inference_mode():
            next_value = model(obs)[1]
        is_valid = torch.tensor(valid, device=device)
        values = torch.stack(values)
        returns = n_step_returns(torch.tensor(rewards, dtype=torch.float32, device=device),
                                 torch.tensor(terminated, dtype=torch.float32, device=device),
                                 is_valid, values.detach(), next_value, gamma)

        log_probs = F.log_softmax(torch.stack(logits), -1)
        action_log_prob = log_probs.gather(-1, torch.stack(actions).unsqueeze(-1)).squeeze(-1)
        advantage = returns - values
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        weight = is_valid.float() / is_valid.sum().clamp(min=1)
        loss = (
            -(action_log_prob * advantage.detach() * weight).sum()
            + config.value_coef * (advantage.pow(2) * weight).sum()
            - config.entropy_coef * (entropy * weight).sum()
        )
        for p in params:  # zero_grad(set_to_none=True), without its profiler bookkeeping
            p.grad = None
        loss.backward()
        nn.utils.clip_grad_norm_(params, config.max_grad_norm, foreach=True)
        optimizer.step()
        updates += 1

        if rewind_after is not None and len(episodes.returns) >= rewind_after:
            rewind_hook(model)
            rewind_after = None

    envs.close()
    masking.remove()
    # the episode budget: exactly N x M episodes (the last rollout may end a few more); an update budget
    # keeps every episode that ended in it
    episode_returns = episodes.returns[:total_episodes] if config.max_updates is None else episodes.returns
    epochs = len(episode_returns) // config.episodes_per_epoch
    per_epoch = np.array(episode_returns[: epochs * config.episodes_per_epoch]).reshape(epochs, config.episodes_per_epoch).mean(1)
    return {
        "metrics": {"reward": float(np.mean(episode_returns[-config.last_episodes:]))},
        "history": {"epoch_mean_reward": per_epoch.tolist()},
        "stats": {"updates": updates, "samples": env_steps, "episodes": len(episode_returns)},
    }


@torch.inference_mode()
def evaluate(model: ActorCritic, config: A2CConfig, seed: int, episodes: int = 100) -> float:
    """The mean return of `model`'s policy, as it acts in training (sampled actions), over one episode in each of
    `episodes` envs; the envs' seeds and the action draws are fixed by `seed`, the global RNG left as it was."""
    envs = make_envs(config.env, episodes, config.env_backend, seed)
    obs = envs.reset(**({"seed": seed} if config.env_backend == "gymnasium" else {}))[0]
    total, done = np.zeros(episodes), np.zeros(episodes, dtype=bool)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        while not done.all():
            action = sample(F.softmax(model(torch.as_tensor(obs, device=config.device))[0], -1))
            obs, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
            total += np.where(done, 0.0, reward)
            done |= terminated | truncated
    envs.close()
    return float(total.mean())


def ticket_config(config: A2CConfig, dense_record: dict) -> A2CConfig:
    """The config a pruned ticket trains with: with `equal_updates`, its dense net's number of updates."""
    if not config.equal_updates:
        return config
    return dataclasses.replace(config, max_updates=dense_record["stats"]["updates"])


def ticket_cost(config: dict) -> float:
    """A compute proxy for one ticket, to scale measured times between presets: episodes trained."""
    return config["epochs"] * config["episodes_per_epoch"] * config.get("lineage_budgets", 1)


class ClassicControl(Family):
    """The family object the lottery loop drives."""

    name, metric, higher_is_better = "classic_control", "reward", True
    rewind_share = REWIND_SHARE
    margin, margin_of = 0.05, "reward gain over a random policy"
    samples_unit, domain = "env steps", "Classic control"
    output_layers = ("policy.weight", "value.weight")
    paper_tasks = PAPER_ENVS
    notebook, task_parameter = "notebooks/classic_control.ipynb", "env"
    not_dense = ("rewind_episodes", "rewind_epochs", "equal_updates", "max_updates")

    config = staticmethod(config)
    build_model = staticmethod(build_model)
    train = staticmethod(train)
    ticket_config = staticmethod(ticket_config)
    evaluate = staticmethod(evaluate)
    ticket_cost = staticmethod(ticket_cost)

    @staticmethod
    def run_inputs(p: dict) -> tuple[str, dict, tuple[str, ...]]:
        """The notebook's parameters -> (task, config overrides, parameters never pruned): `experiment.from_parameters`."""
        return p["env"], {"device": p["device"], **p["overrides"]}, ()

    @staticmethod
    def baseline(task: str) -> float | None:
        """A random policy's mean return, where gymnasium has the env: rewards have no natural zero."""
        return random_policy_return(task) if task in gym.registry else None

    rewind_deviations = REWIND_DEVIATIONS
    paper_dense = {"CartPole-v0": "curves only; CartPole-v0's episodes end at 200"}
    baseline_is = "random policy"
    budget = staticmethod(lambda c: c["epochs"] * c["episodes_per_epoch"] * c.get("lineage_budgets", 1))
    input_layer = "trunk.0.weight"
    input_names = staticmethod(lambda task: list(INPUTS.get(task, ())))
    fingerprint_tickets = {"CartPole-v0": ("CartPole-v0", {}, "mkl+aten"),
                           "Acrobot-v1": ("Acrobot-v1", {}, "mkl+aten+envpool")}


FAMILY = ClassicControl()
