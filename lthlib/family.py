"""What an experiment family supplies to the lottery loop and declares about itself.

A family subclasses `Family`, fills in its facts (class attributes) and its three functions, and takes one line
in the registry (`lthlib.families.MODULES`, or `lthlib.families.register` for your own). The core reads a
family's facts only from here: nothing outside `lthlib/families/` names one. `book/adding_a_family.md` walks
through a family of a user's own model.

Its config is a frozen dataclass, hashed into the run's directory name, subclassing `lthlib.configs.TicketConfig`:
its task, training budget, rewind point and device, written once. `lthlib.configs.make_config` builds one from a
preset's fields and checks overrides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from lthlib.masks import Mask

RewindHook = Callable[[nn.Module], None]


class Family:
    """The facts and functions of one experiment family. Subclasses set every attribute without a default."""

    name: str  # directory name under runs_dir, e.g. "classic_control"
    metric: str  # the metric the pruning curves show and verdicts compare, e.g. "reward"
    higher_is_better: bool = True
    rewind_share: float  # the paper's late-rewinding point, as a share of the training budget
    margin: float  # the practical margin of a verdict: this share of |dense - baseline| (`families.margin_for`)
    margin_of: str  # what the margin is a share of, in words, e.g. "BLEU"
    samples_unit: str = "samples"  # what a ticket's `stats["samples"]` counts, in words, e.g. "env steps"
    domain: str = ""  # the scorecard's name for the family's claims, e.g. "Classic control" ("": none)
    output_layers: tuple[str, ...] = ()  # parameters whose complete pruning leaves a constant output
    paper_tasks: tuple[str, ...] = ()  # the paper's tasks of the family (a sweep's default)
    notebook: str = ""  # its parameterized notebook, from the repository root
    task_parameter: str | None = None  # the notebook parameter naming the task (None: one task)
    one_run_per_notebook: dict = {}  # notebook parameters that keep a sweep's notebook to the planned run
    not_dense: tuple[str, ...] = ()  # config fields the dense net does not depend on (where it rewinds, ...)
    paper_needs_gpu: bool = False  # the notebooks warn when the paper preset runs on a CPU
    # `python -m lthlib.fingerprint`'s smoke tickets: name -> (task, config overrides, the kernels they run on)
    fingerprint_tickets: dict = {}
    # `resumes_inside_ticket = True`: train() takes checkpoint=lthlib.resume.TicketCheckpoint, saves its
    # training state there as it goes and resumes from it (config fields resume_every_minutes/_updates)
    resumes_inside_ticket: bool = False

    def config(self, task: str, preset: str, **overrides: Any) -> Any:
        """The frozen config dataclass of `preset` for `task`, with overrides; raises on bad input."""
        raise NotImplementedError

    def build_model(self, config: Any, seed: int) -> nn.Module:
        """A freshly initialised model; the seed fixes its weights (random tickets re-draw with another)."""
        raise NotImplementedError

    def train(self, model: nn.Module, mask: Mask, config: Any, seed: int,
              rewind_hook: RewindHook | None = None) -> dict[str, Any]:
        """Train `model` in place under `mask` and evaluate it.

        Calls `rewind_hook(model)` once, at the config's rewind point, when it is given. Returns
        {"metrics": {name: float}, "history": {...}, "stats": {"updates": int, "samples": int}} where
        metrics holds `self.metric`.
        """
        raise NotImplementedError

    def evaluate(self, model: nn.Module, config: Any, seed: int) -> float:
        """`metric` of `model` as it stands, on evaluation episodes or data fixed by `seed`: the same evaluation
        for every network it scores (`lthlib.stability`'s paths). Optional: only stability needs it."""
        raise NotImplementedError(f"{self.name} cannot score a network outside its trainer (no evaluate)")

    def ticket_config(self, config: Any, dense_record: dict) -> Any:
        """The config a pruned ticket trains with, given its dense net's record (e.g. an equal-updates budget)."""
        return config

    def run_inputs(self, p: dict) -> tuple[str, dict, tuple[str, ...]]:
        """The notebook's parameters -> (task, config overrides, parameters never pruned), for a family with a
        notebook: the one translation `experiment.from_parameters` and `lth sweep` share."""
        raise NotImplementedError(f"{self.name} has no notebook parameters to translate")

    def baseline(self, task: str) -> float | None:
        """A trivial baseline's score on `task` (e.g. a random policy's return), the floor of the margin; None: 0."""
        return None

    baseline_is: str = "a trivial baseline"  # what `baseline` is, in words, e.g. "random policy"
    paper_dense: dict = {}  # task -> what the paper reports of its dense net, in words (absent: curves only)

    def trivial_baseline(self, task: str, results_dir, config: dict) -> tuple[float, str] | None:
        """(the score of a trivial baseline on `task`, what it is) for a run of `config` (a dict of its fields), from
        `baseline` or records committed under `results_dir`; None: none."""
        value = self.baseline(task)
        return None if value is None else (value, self.baseline_is)

    def scores_to_beat(self, results_dir) -> dict[str, float]:
        """{task: the score its agents must beat to have learned (the scorecard's `random_policy`)}, from results
        committed under `results_dir`; {}: the family's claims need no such bar."""
        return {}

    def budget(self, config: dict) -> int:
        """A run's training budget in the trainer's own unit (episodes, batches, updates), from its config."""
        raise NotImplementedError

    input_layer: str | None = None  # the parameter reading the observations (`lthlib.anatomy`: inputs kept)

    def input_names(self, task: str) -> list[str]:
        """The names of `task`'s input dimensions, in the input layer's column order."""
        return []

    def ticket_cost(self, config: dict) -> float:
        """A compute proxy for one ticket (samples, tokens, ...), to scale measured times between presets."""
        raise NotImplementedError

    def rewind_point(self, config: Any) -> tuple[int, int, str]:
        """(the rewind point, the budget, their unit) in the trainer's own unit, for the presets' table."""
        return getattr(config, config.REWIND_FIELD), config.budget, config.UNIT

    rewind_deviations: dict = {}  # preset -> why it cannot keep the paper's rewinding share
    rewind_tasks: tuple[tuple[str, str], ...] = ()  # (label, task) rows of the presets' table; () -> paper_tasks

    # The paper's grids on GPUs (`lthlib.gpu_estimate`, `presets.gpu_table`); None: a GPU does not help
    gpu_tflops: float | None = None  # the effective bf16 TFLOP/s assumed of one H100 on the family's nets

    def gpu_macs(self, config: dict) -> float:
        """Multiply-adds of one ticket's training, for the GPU estimate."""
        raise NotImplementedError

    def gpu_floor_seconds(self, config: dict) -> float:
        """What else bounds a ticket's time on a GPU node, in seconds (e.g. emulators on its CPU cores)."""
        return 0.0

    def paper_grids(self) -> list[tuple[str, dict, int, int, str]]:
        """The paper's grids of the family: (model, config as a dict, runs with random tickets, runs without
        (ablations), what they are)."""
        return []
