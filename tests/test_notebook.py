"""The classic-control notebook, executed the way users run it: papermill."""

import re
import warnings
from pathlib import Path

import nbformat
import papermill
import pytest

from lthlib import load_results

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "classic_control.ipynb"


def execute(tmp_path, **parameters):
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(NOTEBOOK, out, parameters={"runs_dir": str(tmp_path / "runs"), **parameters},
                               progress_bar=False, kernel_name="python3")
    return nbformat.read(out, as_version=4)


def test_smoke_run_through_papermill(tmp_path):
    nb = execute(tmp_path, preset="smoke", levels=2, seeds=[0, 1], env="Acrobot-v1")
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert all("Plotly.newPlot" in f["data"]["text/html"] for f in figures)  # the book renders this
    assert len(figures) == 1
    names = {trace.get("name") for trace in figures[0]["data"]["application/vnd.plotly.v1+json"]["data"]}
    assert {"winning ticket", "random ticket", "dense (unpruned)"} <= names
    df = load_results(tmp_path / "runs")
    assert len(df) == 2 * (1 + 2 * 2)
    assert set(df.ticket) == {"dense", "winning", "random"}



def test_an_ablation_without_random_tickets_and_their_addition_later_to_the_same_run(tmp_path):
    nb = execute(tmp_path, preset="smoke", levels=2, seeds=0, variant="oneshot-late", random_tickets=False)  # -p seeds 0
    figures = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    names = {trace.get("name") for trace in figures[0]["data"]["application/vnd.plotly.v1+json"]["data"]}
    assert "winning ticket" in names and "random ticket" not in names
    winning_only = load_results(tmp_path / "runs")
    assert sorted(winning_only.ticket) == ["dense", "winning", "winning"]
    execute(tmp_path, preset="smoke", levels=3, seeds=[0], variant="oneshot-late")  # resumed as it was started
    resumed = load_results(tmp_path / "runs")
    assert sorted(resumed.ticket) == ["dense", "winning", "winning", "winning"]  # a level more, no random ticket
    resumed = resumed[resumed.level <= 2]
    execute(tmp_path, preset="smoke", levels=2, seeds=[0], variant="oneshot-late", random_tickets=True)  # asked for
    full = load_results(tmp_path / "runs")
    full = full[full.level <= 2]
    assert full.run.nunique() == 1 and sorted(full.ticket.value_counts().items()) == [("dense", 1), ("random", 2), ("winning", 2)]
    kept = full[full.ticket != "random"].sort_values(["level"]).value.tolist()
    assert kept == winning_only.sort_values(["level"]).value.tolist() == resumed[resumed.ticket != "random"].sort_values(
        ["level"]).value.tolist()  # the winning tickets were not retrained


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"env": "NoSuchEnv-v0"}, "unknown env"),  # (an Atari id is registered once ale_py is imported)
        ({"preset": "huge"}, "unknown preset"),
        ({"variant": "iterative"}, "unknown variant"),
        ({"pruning_rate": 1.0}, r"pruning_rate must lie in \(0, 1\)"),
        ({"levels": -2}, "levels must be a non-negative integer"),
        ({"seeds": [0, -1]}, "seeds must be"),
        ({"seeds": [0, 0]}, "seeds must be distinct"),
        ({"level": 2}, "unknown parameter 'level' for notebooks/classic_control.ipynb; its parameters are: env,"),
        ({"pruning_rate": "abc"}, "parameter 'pruning_rate' must be a float, got 'abc'"),
        ({"overrides": "epochs=5"}, "parameter 'overrides' must be a dict .*overrides: {epochs: 5}"),
        ({"overrides": {"epochs": "five"}}, "A2CConfig field 'epochs' must be an integer, got 'five'"),
        ({"overrides": {"epochs": 2.5}}, "A2CConfig field 'epochs' must be an integer, got 2.5"),
        ({"overrides": {"hidden": 64}}, "A2CConfig field 'hidden' must be a list of integers, got 64"),
        ({"random_tickets": "no"}, "parameter 'random_tickets' must be a bool or None, got 'no'"),
        ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps', got 'gpu'"),
        ({"workers": 0}, r"workers must be a positive integer \(processes\), got 0"),
        ({"runs_dir": "A_FILE/runs"}, "runs_dir must be a directory .*A_FILE' is a file"),
        ({"publish_to": "A_FILE"}, "publish_to must be a directory .*A_FILE' is a file"),
        ({"levels": 500}, r"levels must be at most \d+ here, got 500: with pruning_rate 0.2 level \d+ would prune no"),
        ({"pruning_rate": 1e-6}, r"pruning_rate must be more than \S+ here for levels 20, got 1e-06: level 1 would "
                                 r"prune none of the \d+ prunable weights"),  # 20 copies of the dense net per seed
    ],
)
def test_bad_parameters_fail_before_training(tmp_path, parameters, message):
    (tmp_path / "A_FILE").write_text("not a directory")
    parameters = {k: str(tmp_path / v) if isinstance(v, str) and v.startswith("A_FILE") else v
                  for k, v in parameters.items()}
    with pytest.raises(ValueError, match=message):
        run_checks(tmp_path, **{"preset": "smoke", **parameters})
    assert not (tmp_path / "runs").exists()  # nothing was trained or written


def test_the_last_level_the_refusal_names_passes_and_the_one_after_it_repeats_its_ticket(tmp_path):
    """levels 500 on the smoke net: refused before anything is written, naming the last level that prunes
    more than the one before; that level passes the checks, and its mask and the next one's are the same."""
    from lthlib import Mask, fraction_pruned_at
    from lthlib.families.classic_control import FAMILY

    with pytest.raises(ValueError, match=r"levels must be at most (\d+) here") as refused:
        run_checks(tmp_path, preset="smoke", levels=500)
    assert not (tmp_path / "runs").exists()
    last = int(re.search(r"at most (\d+)", str(refused.value)).group(1))
    namespace = run_checks(tmp_path, preset="smoke", levels=last)
    prunable = Mask.ones(FAMILY.build_model(namespace["config"], 0)).total
    pruned = [round(fraction_pruned_at(k, 0.2) * prunable) for k in range(last + 2)]
    assert all(a < b < prunable for a, b in zip(pruned[:-2], pruned[1:-1]))  # every level up to `last` prunes more
    assert pruned[last + 1] in (pruned[last], prunable)  # level last + 1: the same mask again, or no weight alive
    with pytest.raises(ValueError, match=f"levels must be at most {last} here, got {last + 1}"):
        run_checks(tmp_path, preset="smoke", levels=last + 1)


def run_checks(tmp_path, **parameters):
    """The notebook's cells up to and with its checks, run in this process as papermill runs them: the
    parameters cell, papermill's injected cell (which the checks find in the input history), then the
    cell that checks everything (a kernel start for each case would cost ~10 s)."""
    from papermill.translators import translate_parameters

    code = [cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"]
    injected = translate_parameters("python3", "python", {"runs_dir": str(tmp_path / "runs"), **parameters}, "Parameters")
    namespace = {"In": [injected]}
    for source in (code[0], injected, code[1]):
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("parameters, message", [
    ({"level": 2}, "unknown parameter 'level'"),  # a name papermill injected
    ({"pruning_rate": "abc"}, "parameter 'pruning_rate' must be a float"),  # a type
    ({"overrides": {"epochs": "five"}}, "A2CConfig field 'epochs' must be an integer"),  # a config field
])
def test_bad_parameters_stop_the_notebook_under_papermill(tmp_path, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError, match=message):
        execute(tmp_path, **{"preset": "smoke", **parameters})
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("parameters, message", [
    ({"pruning_rate": "1.5"}, "pruning_rate must lie in (0, 1), got 1.5"),
    ({"levels": "500"}, "levels must be at most "),
    ({"runs_dir": "A_FILE"}, "runs_dir must be a directory (it is created where missing), got "),
])
def test_a_refusal_under_papermill_reaches_the_terminal_first_and_in_one_line(tmp_path, parameters, message):
    import subprocess
    import sys

    (tmp_path / "A_FILE").write_text("not a directory")
    parameters = {"runs_dir": str(tmp_path / "runs")} | {k: v.replace("A_FILE", str(tmp_path / "A_FILE"))
                                                         for k, v in parameters.items()}
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                          "-p", "preset", "smoke", *(a for k, v in parameters.items() for a in ("-p", k, v))],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    message = re.search(rf"error: ({re.escape(message)}[^\n]*)", out.stderr).group(1)
    first = out.stderr.index(f"error: {message}")
    assert first < out.stderr.index("Traceback")  # before papermill's own traceback
    error = [o for cell in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells for o in cell.get("outputs", [])
             if o.output_type == "error"]
    assert len(error) == 1 and error[0].traceback == [f"ValueError: {message}"]  # the cell's error: one line
    assert out.stderr.rstrip().endswith(f"ValueError: {message}")
    assert not (tmp_path / "runs").exists() and (tmp_path / "A_FILE").read_text() == "not a directory"


def test_good_parameters_pass_the_checks_in_process(tmp_path):
    namespace = run_checks(tmp_path, preset="smoke", levels=3, seeds=[1, 2])
    assert namespace["lottery"].levels == 3 and namespace["seeds"] == [1, 2] and namespace["config"].epochs >= 1
    assert not (tmp_path / "runs").exists()


def test_device_auto_picks_what_is_there_and_the_paper_preset_on_a_cpu_warns(monkeypatch):
    import torch

    from lthlib import experiment
    from lthlib.families import atari, classic_control

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert experiment.resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        experiment.resolve_device("cuda")
    with pytest.warns(UserWarning, match="meant for a GPU"):
        config, _, _ = experiment.prepare(atari.FAMILY, "Krull", "paper", "iterative-late", 0.2, 1, [0], device="auto")
    assert config.device == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the classic-control paper preset is meant for a CPU
        experiment.prepare(classic_control.FAMILY, "CartPole-v0", "paper", "iterative-late", 0.2, 1, [0], device="auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert experiment.resolve_device("auto") == "cuda"


def test_the_terminal_shows_the_config_and_a_text_progress_line(tmp_path):
    """Under papermill the kernel's own stderr is the terminal's: the config, its differences from the paper
    preset and one line per finished ticket reach it (the widget bar stays in the notebook)."""
    import subprocess
    import sys

    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                          "-p", "preset", "smoke", "-p", "levels", "1", "-p", "runs_dir", str(tmp_path / "runs"),
                          "-p", "workers", "1", "-y", "seeds: [0]"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "A2CConfig(device='cpu', env='CartPole-v0'" in out.stderr
    assert "differences from the paper preset (ours, paper):" in out.stderr
    assert "classic_control CartPole-v0 iterative-late: 1/3 tickets, training seed 0 level 1" in out.stderr
    assert "3/3 tickets, done" in out.stderr
    # it ends with what the run found (one seed: indicative; the smoke net is judged against a random policy)
    found = out.stderr[out.stderr.index("what this run found:"):]
    assert "CartPole-v0, iterative-late, 1 seed (indicative: a verdict needs 3 seeds): dense net reward" in found
    assert "IPKernelApp" not in out.stderr  # the loopback kernel's TCP notice is dropped (scripts/setup.sh)
