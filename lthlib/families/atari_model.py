"""The Atari agent of Table A1 and its A2C loss (the rest of the family: `lthlib.families.atari`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# --- model: Table A1 -----------------------------------------------------------------------------

class AtariNet(nn.Module):
    """4 x [Conv -> MaxPool 2 -> ReLU] -> Linear -> Linear -> policy and value heads: Table A1's Conv -> ReLU
    -> MaxPool with each ReLU after its pool, where it touches a quarter of the elements (1.2-1.4x per
    training step in three of four readings under load, one 0.88). Max and ReLU commute: the same values
    and gradients exactly (tested)."""

    def __init__(self, n_actions: int, channels: int = 64, hidden: int = 512, frames: int = 4,
                 height: int = 105, width: int = 80):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(frames, c, 5, 1, 2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(c, c, 5, 1, 2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 1), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 1), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(),
        )
        self.flat_size = c * (height // 16) * (width // 16)  # 64 x 6 x 5 = 1920 at 105 x 80
        self.fc = nn.Sequential(nn.Linear(self.flat_size, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(self.features(frames.float() / 255.0))
        return self.policy(h), self.value(h).squeeze(-1)


# --- losses ----------------------------------------------------------------------------------------

def importance_weight(log_prob: torch.Tensor, behaviour_log_prob: torch.Tensor, clamp: float = 1.5) -> torch.Tensor:
    """pi_current(a) / pi_behaviour(a), clamped at `clamp` (no gradient flows through it)."""
    return (log_prob.detach() - behaviour_log_prob).exp().clamp(max=clamp)


def clip_rewards(reward: np.ndarray) -> np.ndarray:
    """The paper clips rewards to [-1, 1] for training (scores stay unclipped)."""
    return np.clip(reward, -1.0, 1.0)


def a2c_loss(logits, values, actions, behaviour_log_prob, returns, cfg) -> torch.Tensor:
    """A2C with the clamped importance factor; advantages clipped to [-1, 1] in the policy term (`cfg`: an
    `AtariConfig`, for its importance_clamp, value_coef and entropy_coef)."""
    log_probs = F.log_softmax(logits, -1)
    log_prob = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    advantage = (returns - values.detach()).clamp(-1.0, 1.0)
    weight = importance_weight(log_prob, behaviour_log_prob, cfg.importance_clamp)
    policy_loss = -(weight * advantage * log_prob).mean()
    value_loss = (returns - values).pow(2).mean()
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
    return policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
