"""What an experiment family supplies to the lottery loop: its configs, its model, its trainer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from torch import nn

from lthlib.masks import Mask

RewindHook = Callable[[nn.Module], None]


class Family(Protocol):
    name: str  # directory name under runs_dir, e.g. "classic_control"
    metric: str  # the metric the pruning curves show, e.g. "reward"
    higher_is_better: bool
    # optional: `paper_needs_gpu = True` makes the notebooks warn when the paper preset runs on a CPU
    # optional: `resumes_inside_ticket = True`: train() takes checkpoint=lthlib.resume.TicketCheckpoint, saves
    # its training state there as it goes and resumes from it (config fields resume_every_minutes/_updates)

    def config(self, task: str, preset: str, **overrides: Any) -> Any:
        """The frozen config dataclass of `preset` for `task`, with overrides; raises on bad input."""

    def build_model(self, config: Any, seed: int) -> nn.Module:
        """A freshly initialised model; the seed fixes its weights (random tickets re-draw with another)."""

    def train(
        self, model: nn.Module, mask: Mask, config: Any, seed: int, rewind_hook: RewindHook | None
    ) -> dict[str, Any]:
        """Train `model` in place under `mask` and evaluate it.

        Calls `rewind_hook(model)` once, at the config's rewind point, when it is given. Returns
        {"metrics": {name: float}, "history": {...}} where metrics holds `self.metric`.
        """
