"""A family of your own: an MLP of yours on a synthetic task (two interleaved spirals), in the lottery.

`book/adding_a_family.md` walks through it; `tests/test_own_family.py` runs it.
"""

from dataclasses import dataclass

import torch
from torch import nn

from lthlib import MaskedTraining
from lthlib.configs import TicketConfig
from lthlib.families import register
from lthlib.family import Family


@dataclass(frozen=True)
class SpiralsConfig(TicketConfig):  # hashed into the run's directory name
    TASK_FIELD, REWIND_FIELD, REWIND_SHARE, UNIT = "dataset", "rewind_steps", 1 / 20, "steps"  # the paper's RL share
    dataset: str = "spirals"
    hidden: int = 64
    steps: int = 400  # full-batch Adam updates
    lr: float = 0.01
    rewind_steps: int | None = None  # late rewinding point; None: REWIND_SHARE of the steps

    @property
    def budget(self) -> int:
        return self.steps


def spirals(seed: int, n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t, label = torch.rand(n, generator=g) * 3 * torch.pi, torch.randint(0, 2, (n,), generator=g)
    radius, angle = t / (3 * torch.pi), t + label * torch.pi
    x = torch.stack([radius * angle.cos(), radius * angle.sin()], 1)
    return x + 0.02 * torch.randn(n, 2, generator=g), label


class Spirals(Family):
    name, metric, higher_is_better = "spirals", "accuracy", True
    rewind_share, margin, margin_of = 1 / 20, 0.02, "test accuracy"
    output_layers = ("4.weight",)  # the last Linear of the Sequential below

    def config(self, task: str = "spirals", preset: str = "cpu", **overrides) -> SpiralsConfig:
        return SpiralsConfig(**overrides)  # one preset: the paper has no spirals

    def build_model(self, config: SpiralsConfig, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        h = config.hidden
        return nn.Sequential(nn.Linear(2, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2))

    def train(self, model, mask, config: SpiralsConfig, seed: int, rewind_hook=None) -> dict:
        (x, y), (test_x, test_y) = spirals(seed=1000), spirals(seed=2000)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        with MaskedTraining(model, mask, optimizer):  # pruned weights stay zero
            for step in range(config.steps):
                if rewind_hook is not None and step == config.rewind_steps:
                    rewind_hook(model)  # the lottery keeps these weights to rewind to
                loss = nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        return {"metrics": {"accuracy": accuracy}, "history": {"final_loss": [loss.item()]},
                "stats": {"updates": config.steps, "samples": config.steps * len(x)}}


SPIRALS = register(Spirals())
