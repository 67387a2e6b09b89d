"""The sweep and the notebook derive the config, the lottery and the run directory through one function.

`lth sweep` plans a run directory, checks whether it is finished and publishes from it; the notebook
trains into one. For every parameter of every family's notebook, set away from its default, both must
name the same directory (`experiment.from_parameters`, which the notebooks' code cells call).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lthlib import experiment, families, sweep
from lthlib.parameters import notebook_defaults, notebook_parameters

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "multi30k" / "train.en").exists() and not os.environ.get("CI"),
                                reason=f"Multi30k and WikiText-2 not at {SHARED}")
SWEEP_ARGUMENTS = {"preset", "seeds", "variant", "levels", "runs_dir"}  # plan's own arguments; the rest are **parameters
# (family, notebook, task, {parameter: a value other than its default}); a parameter missing here fails the test
FAMILIES = [
    ("classic_control", "classic_control", "CartPole-v0", {"env": "Acrobot-v1", "device": "auto"}),
    ("atari", "atari", "Krull", {"game": "Pong", "num_envs": 8, "device": "cpu"}),
    ("lstm_lm", "lstm_wikitext2", "WikiText-2", {"data_dir": "DATA/wikitext-2", "device": "cpu"}),
    ("transformer_mt", "transformer_mt", "Multi30k",
     {"arch": "mini", "dataset": "Multi30k", "prune_embeddings": False, "data_dir": "DATA/multi30k", "device": "cpu"}),
]
SHARED_VALUES = {"preset": "cpu", "seeds": [1], "variant": "oneshot-reset", "levels": 3, "pruning_rate": 0.3,
                 "random_tickets": False, "runs_dir": "RUNS/other", "workers": 2, "publish_to": "RESULTS",
                 "both_scopes": False}
OVERRIDES = {"classic_control": {"gamma": 0.98}, "atari": {"gamma": 0.98}, "lstm_lm": {"dropout": 0.2},
             "transformer_mt": {"dropout": 0.2}}


@pytest.fixture(autouse=True)
def shared_data(monkeypatch):
    monkeypatch.setenv("LTH_WIKITEXT2_DIR", str(SHARED / "wikitext-2"))
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(SHARED / "multi30k"))


def variations(family, notebook, own):
    """(parameter, value) for every parameter of the notebook: each set away from its default, one at a time."""
    values = SHARED_VALUES | own | {"overrides": OVERRIDES[family]}
    names = notebook_parameters(notebook)
    assert set(names) <= set(values), f"no variation for {set(names) - set(values)}"
    return [(name, values[name]) for name in names]


def concrete(value, tmp_path):
    if isinstance(value, str):
        return value.replace("DATA", str(SHARED)).replace("RUNS", str(tmp_path)).replace("RESULTS", str(tmp_path / "r"))
    return value


@pytest.mark.parametrize("family, notebook, task, own", [
    pytest.param(*f, id=f[0], marks=needs_data if f[0] in ("lstm_lm", "transformer_mt") else ()) for f in FAMILIES])
def test_the_sweep_plans_the_run_directory_the_notebook_trains_into_for_every_parameter(
        tmp_path, family, notebook, task, own):
    base = {"preset": "smoke", "seeds": [0], "variant": "iterative-late", "levels": 1, "runs_dir": str(tmp_path)}
    fam = families.get(family)
    roots = set()
    for name, value in variations(family, notebook, own):
        value = concrete(value, tmp_path)
        given = base | {name: value}
        if name == "publish_to":
            continue  # where a summary goes, not which run: plan takes it as its own argument
        planned_task = given.pop(fam.task_parameter, task) if fam.task_parameter else task
        kwargs = {k: v for k, v in given.items() if k not in SWEEP_ARGUMENTS}
        grid = sweep.plan(family, [planned_task], seeds=given["seeds"], variants=[given["variant"]],
                          preset=given["preset"], runs_dir=given["runs_dir"], levels=given["levels"], **kwargs)
        item = grid[0]
        assert item.error == "", (name, item.error)
        # what the notebook's code cell computes from its parameters cell with that one value changed
        values = notebook_defaults(notebook) | base | {name: value, "workers": 1, "both_scopes": False}
        if fam.task_parameter:
            values.setdefault(fam.task_parameter, task)
            values[fam.task_parameter] = planned_task
        values["overrides"] = item.parameters.get("overrides", values["overrides"])  # the sweep pins precision
        config, lottery, _ = experiment.from_parameters(fam, values, announce=False)
        assert item.config == config, name
        assert (item.lottery.variant, item.lottery.pruning_rate, item.lottery.exclude) == \
            (lottery.variant, lottery.pruning_rate, lottery.exclude), name
        assert item.root == sweep.run_root(Path(given["runs_dir"]), fam, config, lottery), name
        roots.add(item.root.name)
    assert len(roots) > 3  # the variations do change the run


def test_the_atari_notebook_trains_where_the_sweep_planned_with_num_envs(tmp_path):
    """The reported case: plan("atari", ["Krull"], preset="smoke", num_envs=8) predicted another directory."""
    item = sweep.plan("atari", ["Krull"], seeds=[0], preset="smoke", levels=0, runs_dir=tmp_path, num_envs=8)[0]
    done = subprocess.run([str(Path(sys.executable).parent / "papermill"), "notebooks/atari.ipynb",
                           str(tmp_path / "out.ipynb"), "-p", "game", "Krull", "-p", "preset", "smoke", "-p", "levels",
                           "0", "-p", "num_envs", "8", "-p", "workers", "1", "-y", "seeds: [0]", "-p", "runs_dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (item.root / "seed_0" / "level_00" / "dense.json").exists(), list(tmp_path.rglob("dense.json"))
