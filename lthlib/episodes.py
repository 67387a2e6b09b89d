"""Episode bookkeeping for vectorized envs that autoreset on the step *after* an episode ends.

gymnasium's and ale-py's vector envs (NEXT_STEP autoreset) answer the step that follows a finished
episode with the reset observation and ignore its action: that step is no transition and must not
enter the loss, and its observation is the final one of the episode, the one a truncated episode
bootstraps from. Every RL family uses these two pieces.
"""

from __future__ import annotations

import numpy as np
import torch


class EpisodeTracker:
    """Full-episode returns of `num_envs` parallel envs, and which steps are real transitions."""

    def __init__(self, num_envs: int):
        self.running = np.zeros(num_envs)
        self.after_done = np.zeros(num_envs, dtype=bool)
        self.returns: list[float] = []  # finished episodes, in the order they ended

    def step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
        """Record one vector step; returns which envs made a real transition on it."""
        is_transition = ~self.after_done
        done = (terminated | truncated) & is_transition
        self.running += reward
        self.returns.extend(self.running[done].tolist())
        self.running[done] = 0.0
        self.after_done = done
        return is_transition


def n_step_returns(rewards, terminated, valid, values, next_value, gamma):
    """Discounted returns over a rollout (time-major); autoreset steps take the value of their frame."""
    returns = torch.empty_like(rewards)
    for t in reversed(range(rewards.shape[0])):
        target = rewards[t] + gamma * (1.0 - terminated[t]) * next_value
        next_value = torch.where(valid[t], target, values[t])
        returns[t] = next_value
    return returns
