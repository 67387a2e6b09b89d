"""What every family's notebook does around the lottery loop: check parameters, run, publish."""

from __future__ import annotations

import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, TextIO

import torch

from lthlib import parameters
from lthlib.configs import paper_differences
from lthlib.family import Family
from lthlib.lottery import prunable_weights, run_lottery
from lthlib.runs import Lottery, check_seeds, run_root
from lthlib.paths import check_directory, resolve
from lthlib.pruning import check_levels
from lthlib.publishing import publish, summary_path
from lthlib.reproduction import findings
from lthlib.store import LONGER_FIELDS, load_results


def check_parameters(namespace: dict, notebook: str) -> TextIO | None:
    """A notebook's first step: refuse unknown parameter names and wrong types (`lthlib.parameters`).

    Returns the terminal's stream under papermill (the kernel's own stderr, which papermill's terminal
    shows), else None: pass it on as `log` so that the config and the progress reach the terminal too.
    """
    terminal = sys.__stderr__ if parameters.under_papermill(namespace) else None
    refusals_in_one_line(terminal)
    parameters.check(namespace, notebook)
    return terminal


REFUSALS = (ValueError, FileNotFoundError)  # what lthlib's checks raise for bad input, missing data included


def refusals_in_one_line(terminal: TextIO | None = None) -> None:
    """In a notebook's kernel, a refusal raised by lthlib shows as its one-line message, not a long
    traceback, and under papermill reaches the terminal first (`error: ...`), before papermill's own
    traceback. An error raised outside lthlib (a bug, a library's) keeps its full traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    package = str(Path(__file__).parent)

    def one_line(self, etype, value, tb, tb_offset=None):
        frames = traceback.extract_tb(tb)
        if not frames or not frames[-1].filename.startswith(package):
            self.showtraceback((etype, value, tb), tb_offset=tb_offset)
            return None
        if terminal is not None:
            print(f"error: {value}", file=terminal, flush=True)
        self._showtraceback(etype, value, [f"{etype.__name__}: {value}"])  # the cell's error output: one line
        return None

    shell.set_custom_exc(REFUSALS, one_line)


def resolve_device(device: str) -> str:
    """"auto" -> cuda where a GPU is visible, else cpu; a CUDA device with no GPU visible is an error."""
    parameters.check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def say(text: str, log: TextIO | None = None) -> None:
    print(text)
    if log is not None:
        print(text, file=log, flush=True)


def shown_results(root: Path, seeds, levels: int):
    """The results of the run at `root` that a notebook shows: its seeds, up to its levels (a run directory may
    hold more of either, trained by other calls)."""
    results = load_results(root)
    return results[results.seed.isin(seeds) & (results.level <= levels)]


def say_findings(family: Family, results, log: TextIO | None = None) -> None:
    """What a run found, in a few lines (`reproduction.findings`): in the notebook, and on the terminal under
    papermill, where a run then ends with its findings."""
    say("what this run found:", log)
    for line in findings(results, family.metric, family.higher_is_better):
        say("  " + line, log)


def notebook_values(namespace: dict, notebook: str) -> dict[str, Any]:
    """The values of `notebook`'s parameters in a notebook's globals."""
    return {name: namespace[name] for name in parameters.notebook_parameters(notebook)}


def from_parameters(family: Family, values: dict[str, Any], log: TextIO | None = None, announce: bool = True,
                    device_here: bool = True) -> tuple[Any, Lottery, list[int]]:
    """A notebook's parameters -> its config, lottery and seeds: the one translation the notebooks and
    `lth sweep` share, so that a sweep plans the very run directory its notebook trains into.

    `values`: every parameter of the family's notebook (`notebook_values`, or the notebook's defaults
    updated with what a sweep passes); the family's `run_inputs` maps its own ones. `device_here` False:
    the device is for another machine (a cluster's worker) and is taken as given, "auto" already resolved.
    """
    if not isinstance(values["workers"], int) or isinstance(values["workers"], bool) or values["workers"] < 1:
        raise ValueError(f"workers must be a positive integer (processes), got {values['workers']!r}")
    check_directory("runs_dir", resolve(values["runs_dir"]))
    if values["publish_to"]:
        check_directory("publish_to", resolve(values["publish_to"]))
    task, overrides, exclude = family.run_inputs(values)
    return prepare(family, task, values["preset"], values["variant"], values["pruning_rate"], values["levels"],
                   values["seeds"], exclude=exclude, random_tickets=values["random_tickets"], log=log,
                   announce=announce, device_here=device_here, **overrides)


def prepare(family: Family, task: str, preset: str, variant: str, pruning_rate: float, levels: int,
            seeds, exclude: tuple[str, ...] = (), random_tickets: bool | None = None, log: TextIO | None = None,
            announce: bool = True, device_here: bool = True, **overrides: Any) -> tuple[Any, Lottery, list[int]]:
    """Check every parameter before any training; print the config and how it differs from `paper`
    (to `log` too: the terminal under papermill).

    `exclude`: glob patterns of parameters never pruned (the lottery's); `random_tickets` False: winning
    tickets only, None: as the run was started (the lottery's); `overrides`: config fields
    (a `device` of "auto" becomes cuda where a GPU is visible, else cpu, unless `device_here` is False);
    `announce` False: print nothing (a sweep planning its grid).
    """
    if "device" in overrides and device_here:
        overrides["device"] = resolve_device(overrides["device"])
    config = family.config(task, preset, **overrides)
    if (announce and preset == "paper" and getattr(config, "device", "cpu") == "cpu"
            and getattr(family, "paper_needs_gpu", False)):  # a sweep's plan says so in words (sweep_cost.in_words)
        message = (f"the paper preset of {family.name} on a CPU takes many hours per ticket: "
                   f"it is meant for a GPU (device 'cuda'); the cpu preset fits a CPU")
        warnings.warn(message, stacklevel=2)
        if log is not None:
            print("warning:", message, file=log, flush=True)
    lottery = Lottery(variant=variant, pruning_rate=pruning_rate, levels=levels, exclude=tuple(exclude),
                      random_tickets=random_tickets)
    check_dense_only(config, levels)
    if levels:
        check_levels(levels, pruning_rate, prunable_weights(family, config, lottery.exclude))
    seeds = check_seeds(seeds)
    if announce:
        say(str(config), log)
        say(f"differences from the paper preset (ours, paper): {paper_differences(family, config) or 'none'}", log)
    return config, lottery, seeds


def check_dense_only(config: Any, levels: int) -> None:
    """The controls that train a dense net for longer (store.LONGER_FIELDS) run at levels 0 only."""
    for control, unset in zip(LONGER_FIELDS, (False, 1)):
        if getattr(config, control, unset) != unset and levels:
            raise ValueError(f"{control} trains a dense net only (a control for tickets that train longer): "
                             f"set levels 0, got {levels!r}")


def run(family: Family, config: Any, lottery: Lottery, seeds: list[int], runs_dir: str, workers: int,
        publish_to: str = "", log: TextIO | None = None) -> Path:
    """Run or resume the lottery; with `publish_to`, also write the run's summary there for the book.
    The summary is written again after every ticket, so a run cut short leaves what it finished there.
    With `log`, a text progress line per finished ticket goes there (the widget bar stays in the notebook)."""
    results = resolve(publish_to) if publish_to else None
    root = run_root(resolve(runs_dir), family, config, lottery)
    lottery = lottery.as_started(root, summary_path(root, results) if results else None)
    root = run_lottery(family, config, lottery, seeds=seeds, runs_dir=resolve(runs_dir), workers=workers, log=log,
                       on_ticket=(lambda root: publish(root, results)) if results else None)
    say(f"run directory: {root}", log)
    if publish_to:
        say(f"summary: {publish(root, results)}", log)
    return root
