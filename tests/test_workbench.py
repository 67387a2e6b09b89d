"""What a researcher meets first: strict configs and parameters, clear data errors, the explorer, the sweep CLI."""

from pathlib import Path

import nbformat
import pytest

from lthlib import explore, load_results
from lthlib.cli import main as lth
from lthlib.families import atari, classic_control, lstm_lm, transformer_mt
from lthlib.publishing import book_title, prepare_for_book

RESULTS = Path(__file__).parents[1] / "data" / "results"


@pytest.mark.parametrize("make, overrides, message", [
    (lambda **o: classic_control.config("CartPole-v0", "cpu", **o), {"epochs": "five"},
     "A2CConfig field 'epochs' must be an integer, got 'five' \\(str\\)"),
    (lambda **o: classic_control.config("CartPole-v0", "cpu", **o), {"gamma": 1.5},
     "A2CConfig field 'gamma' must be between 0 and 1, got 1.5"),
    (lambda **o: classic_control.config("CartPole-v0", "cpu", **o), {"hidden": [64, 0]},
     "A2CConfig field 'hidden' must be at least 1, got \\(64, 0\\)"),
    (lambda **o: atari.config("Krull", "cpu", **o), {"num_envs": -4}, "AtariConfig field 'num_envs' must be at least 1, got -4"),
    (lambda **o: atari.config("Krull", "cpu", **o), {"fire_reset": "yes"}, "'fire_reset' must be true or false"),
    (lambda **o: atari.config("Krull", "cpu", **o), {"betas": [0.9, 1.5]}, "'betas' must be between 0 and 1"),
])
def test_every_config_field_is_type_and_range_checked_when_the_config_is_made(make, overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_an_int_passes_for_a_float_and_none_where_the_field_allows_it():
    assert classic_control.config("CartPole-v0", "smoke", lr=1).lr == 1
    assert atari.config("Krull", "smoke", rewind_batches=None).rewind_batches == 1


@pytest.mark.parametrize("family, names", [(lstm_lm, ["train.txt", "valid.txt", "test.txt"]),
                                           (transformer_mt, [f"{s}.{lang}" for s in ("train", "val", "test_2016_flickr")
                                                             for lang in ("en", "de")])])
def test_data_files_without_text_are_a_clear_error(tmp_path, family, names):
    for name in names:
        (tmp_path / name).write_text("\n  \n")
    make = (lambda: lstm_lm.config("smoke", data_dir=str(tmp_path))) if family is lstm_lm else \
        (lambda: transformer_mt.config("", "smoke", data_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=f"files with no text.*{names[0]}.*Put the"):
        make()


@pytest.mark.parametrize("game", ["ALE/Pong-v4", "PongNoFrameskip-v4", "Breakout-v0", "BreakoutDeterministic-v4"])
def test_atari_names_of_other_game_settings_are_refused(game):
    with pytest.raises(ValueError, match="names other settings of the game.*use '(Pong|Breakout)'"):
        atari.config(game, "smoke")
    assert atari.config("ALE/Pong-v5", "smoke").game == "Pong"


def test_the_explorer_opens_on_a_figure_and_every_choice_draws_one(monkeypatch):
    drawn = []
    monkeypatch.setattr(explore, "show", lambda fig: drawn.append(fig))
    df = load_results(RESULTS)
    box = explore.explorer(df)
    (family, task), (run, metric) = box.children[0].children, box.children[1].children
    assert None not in (family.value, task.value, run.value, metric.value)
    assert len(drawn) == 1 and drawn[-1].layout.title.text.endswith(metric.value)
    family.value = "lstm_lm"
    assert (task.value, metric.value) == ("WikiText-2", "test_log_ppl") and run.value in set(df.run)
    metric.value = "test_ppl"
    assert drawn[-1].layout.title.text.endswith("test_ppl")
    assert all(fig.data for fig in drawn)


@pytest.mark.parametrize("arguments, message", [
    (["--preset", "fast"], "invalid choice: 'fast'"),
    (["-p", "workers=0"], "workers must be a positive integer, got 0"),
    (["-p", "bogus=1"], "unknown parameter 'bogus'"),
    (["--variants", "late"], "unknown variant"),
    (["--seeds", "0,0"], "seeds must be distinct"),
])
def test_the_dry_run_refuses_what_the_run_would_with_one_message(tmp_path, capsys, arguments, message):
    try:
        code = lth(["sweep", "--family", "classic_control", "--tasks", "CartPole-v0", "--runs-dir", str(tmp_path),
                    "--dry-run", *arguments])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err and captured.err.count(message) == 1
    assert not any(tmp_path.iterdir())


def test_sweep_help_shows_defaults_and_choices(capsys):
    with pytest.raises(SystemExit):
        lth(["sweep", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "{smoke,cpu,paper}" in out and "(default: cpu)" in out and "none: the family notebook's default" in out


def test_an_executed_notebooks_empty_table_cells_read_a_dash_for_the_book(tmp_path):
    from lthlib.publishing import prepare_for_book

    table = "<table><tr><td>1</td><td>NaN</td><td> NaN </td><td>NaNa</td></tr></table>"
    cell = nbformat.v4.new_code_cell("table", outputs=[nbformat.v4.new_output(
        "execute_result", data={"text/html": table, "text/plain": "1 NaN"}, execution_count=1)])
    path = tmp_path / "run.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    prepare_for_book(path)
    data = nbformat.read(path, 4).cells[0].outputs[0].data
    assert data["text/html"] == "<table><tr><td>1</td><td>–</td><td>–</td><td>NaNa</td></tr></table>"
    prepare_for_book(path)  # again: nothing more changes
    assert nbformat.read(path, 4).cells[0].outputs[0].data["text/html"] == data["text/html"]


def test_book_titles_name_the_experiment_not_the_machines_paths(tmp_path):
    run = nbformat.v4.new_code_cell('runs_dir = "/home/me/lottery-tickets/data/runs"\n', outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="data: /srv/shared/data/wikitext-2\nsummary: /home/me/lottery-tickets/data/results/x.json\n")])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lottery tickets\nintro"), run],
                                  metadata={"papermill": {"parameters": {
                                      "data_dir": "/home/me/wt2", "variant": "oneshot-reset", "game": "Assault", "seeds": [1, 2],
                                      "overrides": {"precision": "bf16"}, "workers": 1, "runs_dir": "/tmp/runs", "publish_to": "x"}}})
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    prepare_for_book(path)
    prepare_for_book(path)  # again: nothing more changes
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == "# Lottery tickets: Assault · oneshot-reset · seeds 1–2 · precision bf16\nintro"
    assert cells[1].source == 'runs_dir = "data/runs"\n'
    assert cells[1].outputs[0].text == "data: data/wikitext-2\nsummary: data/results/x.json\n"
    assert book_title({"env": "Acrobot-v1", "variant": "iterative-late", "preset": "paper", "seeds": [0, 1, 2],
                       "levels": 10, "random_tickets": False, "overrides": {"episodes_per_epoch": 40}}) == \
        "Acrobot-v1 · iterative-late · paper · seeds 0–2 · 10 levels · no random tickets · episodes per epoch 40"
    assert "random" not in book_title({"env": "CartPole-v0", "random_tickets": True})  # the default goes unsaid


def test_zero_is_a_valid_number_for_a_float_field_and_yaml_text_numbers_get_a_hint():
    assert classic_control.config("CartPole-v0", "smoke", entropy_coef=0, max_grad_norm=0).entropy_coef == 0
    with pytest.raises(ValueError, match="YAML reads 1e-3 as text"):
        classic_control.config("CartPole-v0", "smoke", lr="1e-3")


def test_a_cluster_sweep_plans_gpu_runs_from_a_head_node_without_a_gpu(tmp_path):
    from lthlib import sweep

    here = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], preset="smoke", runs_dir=tmp_path, levels=1,
                      device="cuda")  # locally, the device must be here
    assert here[0].status == "failed" and "torch sees no CUDA GPU here" in here[0].error
    grid = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], preset="smoke", runs_dir=tmp_path, levels=1,
                      local=False, gpus_per_task=1, device="auto")
    assert grid[0].status == "pending" and grid[0].root is not None
