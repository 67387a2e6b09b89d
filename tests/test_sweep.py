"""A real local Ray sweep of the smoke preset (Ray is the optional `cluster` extra)."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from lthlib import load_results
from lthlib.cli import main as lth
from lthlib.parameters import notebook_defaults

ray = pytest.importorskip("ray")
from lthlib import sweep, sweep_cost  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield
    ray.shutdown()


def test_local_sweep_runs_the_grid_reports_failures_and_skips_what_finished(tmp_path):
    runs = tmp_path / "runs"
    grid = sweep.plan("classic_control", ["CartPole-v0", "Acrobot-v1"], seeds=[0, 1], preset="smoke",
                      runs_dir=runs, levels=1)
    bad_at_plan = sweep.plan("classic_control", ["NoSuchEnv-v0"], seeds=[0], preset="smoke", runs_dir=runs, levels=1)
    bad_at_run = sweep.plan("classic_control", ["CartPole-v0"], seeds=[5], preset="smoke", runs_dir=runs,
                            levels=1, workers=0)  # accepted by the plan, refused by the notebook
    table = sweep.run_sweep(grid + bad_at_plan + bad_at_run, workers=2, max_retries=1, progress=False,
                            publish_to=tmp_path / "results")

    assert table.status.tolist() == ["finished"] * 4 + ["failed", "failed"]
    assert "unknown env" in table.error.iloc[4]
    assert "workers must be a positive integer" in table.error.iloc[5]
    df = load_results(runs)
    assert len(df) == 4 * 3  # 2 envs x 2 seeds x (dense + WT + RT at level 1)
    assert sorted(df.task.unique()) == ["Acrobot-v1", "CartPole-v0"]
    assert load_results(tmp_path / "results").equals(df)  # published for the book
    records = [json.loads(p.read_text()) for p in runs.rglob("level_*/*.json")]
    assert {r["machine"]["threads"] for r in records} == {1}  # each of 2 tasks on its 1 CPU, not the machine's 2
    for item in grid:  # each executed notebook sits next to its results
        assert item.notebook.exists() and item.notebook.parent == item.root / f"seed_{item.seed}"
    for root in {item.root for item in grid}:  # and each run's, with both seeds, is published for the book
        published = nbformat.read(tmp_path / "results" / "classic_control" / root.parent.name / f"{root.name}.ipynb", 4)
        assert published.metadata.papermill.parameters.seeds == [0, 1]
        assert "CartPole-v0 · iterative-late · smoke · seeds 0–1 · 1 levels" in published.cells[0].source.splitlines()[0] \
            or "Acrobot-v1 · iterative-late · smoke · seeds 0–1 · 1 levels" in published.cells[0].source.splitlines()[0]
        assert not (root / "publishing.ipynb").exists()

    again_grid = sweep.plan("classic_control", ["CartPole-v0", "Acrobot-v1"], seeds=[0, 1], preset="smoke",
                            runs_dir=runs, levels=1)
    again = sweep.run_sweep(again_grid, progress=False)
    assert (again.status == "skipped (finished)").all()
    assert sweep.publish_notebooks(again_grid, tmp_path / "results") == []  # each shows its seeds: none re-published
    lost = tmp_path / "results" / "classic_control" / "Acrobot-v1" / f"{again_grid[2].root.name}.ipynb"
    lost.unlink()  # a finished run without its notebook in the book (e.g. trained by papermill by hand)
    assert sweep.publish_notebooks(again_grid, tmp_path / "results", progress=False) == [lost]
    assert nbformat.read(lost, 4).metadata.papermill.parameters.seeds == [0, 1]
    replanned = sweep.plan("classic_control", ["CartPole-v0", "Acrobot-v1"], seeds=[0, 1], preset="smoke",
                           runs_dir=runs, levels=1)
    assert "4 tasks (task x seed x variant), 12 tickets, 12 of them done" in sweep.describe(replanned)
    assert sweep_cost.estimate(replanned)["tickets left"].tolist() == [0, 0, 0]  # the dry run costs only what is left

    # a fresh checkout has the published summaries, not the run directories: those seeds are done
    fresh = sweep.plan("classic_control", ["CartPole-v0", "Acrobot-v1"], seeds=[0, 1, 2], preset="smoke",
                       runs_dir=tmp_path / "fresh", levels=1, publish_to=tmp_path / "results")
    assert [item.published for item in fresh] == [True, True, False] * 2
    assert "6 tasks (task x seed x variant), 18 tickets, 12 of them done" in sweep.describe(fresh)
    assert "CartPole-v0 seed 0 iterative-late: 3 tickets (published)" in sweep.describe(fresh)
    assert sweep_cost.estimate(fresh)["tickets left"].tolist() == [3, 3, 6]
    more_levels = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], preset="smoke",
                             runs_dir=tmp_path / "fresh", levels=2, publish_to=tmp_path / "results")
    assert not more_levels[0].published  # level 2 was never published

    # there, a new seed's sweep keeps the published notebook, which shows seeds this machine does not hold
    newcomer = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0, 1, 2], preset="smoke",
                          runs_dir=tmp_path / "fresh", levels=1, publish_to=tmp_path / "results")
    sweep.run_sweep(newcomer, workers=1, progress=False, publish_to=tmp_path / "results")
    assert [item.status for item in newcomer] == ["skipped (published)"] * 2 + ["finished"]
    kept = tmp_path / "results" / "classic_control" / "CartPole-v0" / f"{newcomer[2].root.name}.ipynb"
    assert nbformat.read(kept, 4).metadata.papermill.parameters.seeds == [0, 1]
    assert len(load_results(tmp_path / "results").query("task == 'CartPole-v0'").seed.unique()) == 3
    # once this machine holds more seeds than the published notebook shows, its own replaces it
    more = sweep.plan("classic_control", ["CartPole-v0"], seeds=[2, 3, 4], preset="smoke",
                      runs_dir=tmp_path / "fresh", levels=1, publish_to=tmp_path / "results")
    sweep.run_sweep(more, workers=1, progress=False, publish_to=tmp_path / "results")
    assert nbformat.read(kept, 4).metadata.papermill.parameters.seeds == [2, 3, 4]


def test_dry_run_prints_the_grid_and_runs_nothing(tmp_path, capsys):
    assert lth(["sweep", "--family", "classic_control", "--tasks", "CartPole-v0", "--seeds", "0,1,2",
                "--preset", "paper", "--runs-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 tasks (task x seed x variant), 123 tickets" in out
    assert "CartPole-v0" in out and not any(tmp_path.iterdir())


def test_a_dry_run_of_levels_that_train_no_new_ticket_reports_the_refusal_and_writes_nothing(tmp_path, capsys):
    assert lth(["sweep", "--family", "classic_control", "--tasks", "CartPole-v0", "--seeds", "0", "--preset", "smoke",
                "--levels", "500", "--runs-dir", str(tmp_path), "--dry-run"]) != 0
    err = capsys.readouterr().err
    assert "the grid is invalid, nothing was run" in err and re.search(r"levels must be at most \d+ here, got 500", err)
    assert not any(tmp_path.iterdir())


def test_a_dry_run_without_random_tickets_counts_the_dense_net_and_winning_tickets(tmp_path, capsys):
    assert lth(["sweep", "--family", "classic_control", "--tasks", "CartPole-v0", "--seeds", "0,1,2",
                "--variants", "oneshot-late", "-p", "random_tickets=false", "--runs-dir", str(tmp_path), "--dry-run"]) == 0
    assert "3 tasks (task x seed x variant), 63 tickets" in capsys.readouterr().out  # 3 x (1 + 20)


def test_a_sweep_resumes_a_run_without_random_tickets_as_it_was_started_unless_they_are_asked_for(tmp_path):
    from lthlib.families.classic_control import FAMILY, config
    from lthlib.lottery import run_lottery
    from lthlib.runs import Lottery
    from lthlib.atomic import read_json
    from lthlib.publishing import publish

    ablation = run_lottery(FAMILY, config("CartPole-v0", "smoke"), Lottery("oneshot-late", levels=2, random_tickets=False),
                           seeds=[0], runs_dir=tmp_path / "runs", progress=False)
    assert read_json(ablation / "settings.json")["random_tickets"] is False

    def plan(levels=2, **parameters):
        [item] = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], variants=["oneshot-late"], preset="smoke",
                            runs_dir=tmp_path / "runs", levels=levels, publish_to=tmp_path / "results", **parameters)
        return item

    assert plan().parameters["random_tickets"] is False and sweep.is_finished(plan())  # pinned for the notebook
    assert sweep.tickets_left(plan(levels=3)) == 1  # level 3's winning ticket, and no random ticket
    assert sweep.tickets_left(plan(random_tickets=True)) == 2  # asked for: the random tickets of levels 1 and 2
    # a fresh checkout holds the published summary only; one published before settings recorded random_tickets
    # (winning tickets at levels 1 and 2 and no random ticket) reads as a run without them
    summary = publish(ablation, tmp_path / "results")
    published = read_json(summary)
    del published["settings"]["random_tickets"]
    summary.write_text(json.dumps(published))
    for f in ablation.rglob("*.json"):
        f.unlink()
    assert plan().parameters["random_tickets"] is False and plan().published
    assert plan(random_tickets=True).parameters["random_tickets"] is True and not plan(random_tickets=True).published
    published["tickets"] = [r for r in published["tickets"] if r["level"] < 2]  # cut before level 2: not told apart
    summary.write_text(json.dumps(published))
    assert plan().parameters["random_tickets"] is True


def test_a_dense_only_control_publishes_its_summary_and_no_notebook(tmp_path):
    """A lineage control trains the dense net alone: its executed notebook would draw no curve and show the
    dense net as "the sparsest winning ticket", so the book gets its summary, for the chapters' tables, only."""
    from lthlib.families.classic_control import FAMILY, config
    from lthlib.lottery import run_lottery
    from lthlib.runs import Lottery

    control = run_lottery(FAMILY, config("CartPole-v0", "smoke", lineage_budgets=2), Lottery(levels=0), seeds=[0],
                          runs_dir=tmp_path / "runs", progress=False)
    grid = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], preset="smoke", runs_dir=tmp_path / "runs",
                      levels=0, overrides={"lineage_budgets": 2})
    assert grid[0].root == control and sweep.is_finished(grid[0])
    assert sweep.publish_notebooks(grid, tmp_path / "results", progress=False) == []
    assert not list((tmp_path / "results").rglob("*.ipynb"))


def test_the_estimate_measures_on_the_run_with_the_targets_config_else_the_task_else_the_familys_other_tasks():
    def run(task, name, config, seconds):
        return {"family": "atari", "task": task, "name": f"atari/{task}/{name}", "config": config, "seconds": seconds}
    old, new = run("Krull", "old", {"epochs": 8}, [500.0] * 30), run("Krull", "new", {"epochs": 4}, [280.0] * 5)
    other = run("Seaquest", "s", {"epochs": 4}, [600.0] * 3)
    assert sweep_cost._reference_runs([old, new, other], "atari", "Krull", {"epochs": 4}) == ("Krull/new", [new])
    assert sweep_cost._reference_runs([old, new, other], "atari", "Krull", {"epochs": 2}) == ("Krull/old", [old])
    assert sweep_cost._reference_runs([old, new, other], "atari", "Qbert", {"epochs": 4}) == (
        "2 runs of other tasks, same settings", [new, other])
    assert sweep_cost._reference_runs([old, new, other], "atari", "Qbert", {"epochs": 3}) == (
        "3 runs of other tasks", [old, new, other])  # each scaled by its own config's cost in `estimate`
    assert sweep_cost._reference_runs([old], "lstm_lm", "WikiText-2", {}) == ("0 runs of other tasks", [])
    # a game never run is priced on the other games run with its settings (here its precision), if any
    fp32 = run("Krull", "fp32", {"game": "Krull", "precision": "fp32"}, [300.0] * 9)
    bf16 = run("Seaquest", "bf16", {"game": "Seaquest", "precision": "bf16"}, [200.0] * 3)
    target = {"game": "Qbert", "precision": "bf16"}
    assert sweep_cost._reference_runs([fp32, bf16], "atari", "Qbert", target) == ("1 runs of other tasks, same settings", [bf16])
    assert sweep_cost._reference_runs([fp32], "atari", "Qbert", target) == ("1 runs of other tasks", [fp32])
    # tickets from this kind of CPU come first: a game's own fp32 run from an AVX2 CPU does not price its bf16
    # run on an AVX-512 BF16 one, where other games ran (807 s against ~200 s a ticket, in the committed runs)
    own = run("Qbert", "fp32", {"game": "Qbert", "precision": "fp32"}, [807.0] * 3) | {"kinds": ["AVX2"] * 3}
    bf16_here = bf16 | {"kinds": ["AVX512"] * 3}
    assert sweep_cost._reference_runs([own, bf16_here], "atari", "Qbert", target, "AVX512") == (
        "1 runs of other tasks, same settings", [bf16_here])
    assert sweep_cost._reference_runs([own, bf16_here], "atari", "Qbert", target, "AVX2") == ("Qbert/fp32", [own])
    assert sweep_cost._reference_runs([own, bf16_here], "atari", "Qbert", target, "DEFAULT") == ("Qbert/fp32", [own])
    # among runs of the target's config, one with tickets of this kind before a larger one from another CPU
    # (the Transformer: 551 s a ticket over 63 tickets of a run with no CPU recorded, 290 s on this one)
    older = run("Multi30k", "everything", {"d_model": 192}, [551.0] * 63)
    here = run("Multi30k", "kept", {"d_model": 192}, [290.0] * 3) | {"kinds": ["AVX512"] * 3}
    config = {"d_model": 192}
    assert sweep_cost._reference_runs([older, here], "atari", "Multi30k", config, "AVX512") == ("Multi30k/kept", [here])
    assert sweep_cost._reference_runs([older, here], "atari", "Multi30k", config, "AVX2") == ("Multi30k/everything", [older])


def test_the_estimate_counts_a_runs_tickets_from_this_kind_of_cpu_where_it_has_any(tmp_path, monkeypatch):
    from lthlib.families import classic_control
    from lthlib.runs import Lottery, recorded_settings, run_settings
    from lthlib.store import run_name

    [item] = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], levels=1, runs_dir=tmp_path / "runs")
    lottery = Lottery(variant="iterative-late", levels=1, random_tickets=True)  # settings as a run writes them
    family = classic_control.FAMILY
    settings = run_settings(family, item.config, lottery) | recorded_settings(family, item.config, lottery)
    kinds = {"AVX2": 800.0, "AVX512": 200.0}
    stats = {"updates": 100, "samples": 1000}
    tickets = [{"ticket": "dense", "seed": 1, "level": 0, "wall_time_s": s, "machine": {"cpu_capability": k}, "stats": stats}
               for k, s in kinds.items()] + [{"ticket": "dense", "seed": 2, "level": 0, "wall_time_s": 500.0, "stats": stats}]
    published = tmp_path / "results" / "classic_control" / "CartPole-v0"
    published.mkdir(parents=True)
    (published / "iterative-late-x.summary.json").write_text(json.dumps({"settings": settings, "tickets": tickets}))
    for here, seconds, said in [("AVX512", 200.0, ", its AVX512 tickets"), ("AVX2", 800.0, ", its AVX2 tickets"),
                                ("DEFAULT", 1500.0 / 3, "")]:  # no ticket of its kind: all of them
        monkeypatch.setattr(sweep_cost, "machine", lambda: {"cpu_capability": here})
        row = sweep_cost.estimate([item], measured_from=tmp_path / "results").iloc[0]
        assert row["measured s/ticket"] == pytest.approx(seconds, abs=0.1)
        assert row["measured on"] == f"CartPole-v0/{run_name(settings)}{said}"


def test_the_estimate_costs_the_config_the_grid_trains_with_its_overrides(tmp_path):
    plain = sweep_cost.estimate(sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], runs_dir=tmp_path))
    fewer = sweep_cost.estimate(sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], runs_dir=tmp_path,
                                       overrides={"episodes_per_epoch": 50}))
    assert fewer["estimated s/ticket"].iloc[0] == pytest.approx(plain["estimated s/ticket"].iloc[0] * 50 / 160, abs=0.1)


@pytest.mark.parametrize("family, variable, notebook", [("lstm_lm", "LTH_WIKITEXT2_DIR", "lstm_wikitext2"),
                                                        ("transformer_mt", "LTH_MULTI30K_DIR", "transformer_mt")])
def test_a_dry_run_plans_without_the_data_into_the_same_run_directories_and_names_what_it_needs(
        tmp_path, capsys, monkeypatch, family, variable, notebook):
    shared = {"LTH_WIKITEXT2_DIR": "wikitext-2", "LTH_MULTI30K_DIR": "multi30k"}[variable]
    data = Path(__file__).parents[2] / "shared" / "data" / shared
    if not data.exists() and not os.environ.get("CI"):
        pytest.skip(f"no data at {data}")
    monkeypatch.setenv(variable, str(data))
    with_data = sweep.plan(family, seeds=[0], preset="paper", runs_dir=tmp_path / "runs")
    monkeypatch.setenv(variable, str(tmp_path / "nowhere"))
    without = sweep.plan(family, seeds=[0], preset="paper", runs_dir=tmp_path / "runs", without_data=True)
    assert [i.root for i in without] == [i.root for i in with_data] and not any(i.error for i in without)
    assert without[0].parameters["levels"] == notebook_defaults(notebook)["levels"]  # the notebook's default
    assert all("not found" in i.needs_data[0] and str(tmp_path / "nowhere") in i.needs_data[0] for i in without)
    refused = sweep.plan(family, seeds=[0], preset="paper", runs_dir=tmp_path / "runs")  # a real run refuses
    assert all(i.status == "failed" and "not found" in i.error for i in refused)
    assert lth(["sweep", "--family", family, "--seeds", "0", "--preset", "paper", "--runs-dir", str(tmp_path / "runs"),
                "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "This grid needs GPUs: about" in out and "h on one 8-GPU node" in out and "cluster of four" in out
    assert "Before it runs, it needs data that is not on this machine" in out and str(tmp_path / "nowhere") in out
    assert "nan" not in out.lower() and "NaN" not in out and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("native", [True, False])
def test_the_planners_precision_is_pinned_so_workers_on_other_cpus_train_the_planned_run(tmp_path, monkeypatch, native):
    from lthlib import precision
    from lthlib.families import atari

    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: native)
    [item] = sweep.plan("atari", ["Seaquest"], seeds=[0], levels=2, runs_dir=tmp_path)
    planned = "bf16" if native else "fp32"
    assert item.config.precision == planned and item.parameters["overrides"] == {"precision": planned}
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: not native)  # a worker with the other kind of CPU
    worker_config = atari.config("Seaquest", "cpu", **item.parameters["overrides"])
    assert worker_config == item.config
    [fp32] = sweep.plan("atari", ["Seaquest"], seeds=[0], levels=2, runs_dir=tmp_path, overrides={"precision": "fp32"})
    assert fp32.parameters["overrides"] == {"precision": "fp32"} and (fp32.root == item.root) == (not native)


def test_tasks_get_the_data_directories_of_the_sweeps_environment(monkeypatch):
    """Workers of a cluster started apart (`ray start`) do not inherit the shell's $LTH_* variables."""
    monkeypatch.setenv("LTH_WIKITEXT2_DIR", "/data/wikitext-2")
    monkeypatch.setenv("UNRELATED_SECRET", "x")
    env = sweep.worker_env_vars()
    assert env["LTH_WIKITEXT2_DIR"] == "/data/wikitext-2" and env["PYTHONUNBUFFERED"] == "1"
    assert "UNRELATED_SECRET" not in env


def test_without_an_address_the_sweep_starts_its_own_ray_and_passes_workers_the_env(tmp_path, monkeypatch):
    """A bare ray.init() joins a cluster already running on the machine (the stop's CI met one and failed)."""
    calls = []

    class Stop(Exception):
        pass

    def init(**kwargs):
        calls.append(kwargs)
        raise Stop

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setenv("LTH_WIKITEXT2_DIR", "/data/wikitext-2")
    grid = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], preset="smoke", runs_dir=tmp_path, levels=1)
    for address in (None, "head:6379"):
        with pytest.raises(Stop):
            sweep.run_sweep(grid, workers=2, address=address, progress=False)
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2
    assert calls[1]["address"] == "head:6379" and "num_cpus" not in calls[1]
    assert all(c["runtime_env"]["env_vars"]["LTH_WIKITEXT2_DIR"] == "/data/wikitext-2" for c in calls)


def test_the_dry_run_leaves_out_the_tickets_a_sibling_run_lends(tmp_path):
    from lthlib import Lottery, run_lottery
    from lthlib.families.classic_control import FAMILY, config

    run_lottery(FAMILY, config("CartPole-v0", "smoke"), Lottery(variant="iterative-late", levels=1), seeds=[0],
                runs_dir=tmp_path, progress=False)
    grid = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0, 1], variants=["oneshot-late", "iterative-reset"],
                      preset="smoke", runs_dir=tmp_path, levels=2)
    # seed 0: oneshot-late gets the dense net and level 1 (same rewind point), iterative-reset the dense net only
    assert [sweep.tickets_left(i) for i in grid] == [5 - 3, 5, 5 - 1, 5]
    assert "seed 0 oneshot-late: 5 tickets (0 done, 3 from a sibling run)" in sweep.describe(grid)
    assert sweep.describe(grid).endswith("20 tickets, 4 to copy from sibling runs")
    without = sweep.plan("classic_control", ["CartPole-v0"], seeds=[0], variants=["oneshot-late"], preset="smoke",
                         runs_dir=tmp_path, levels=2, random_tickets=False)
    assert sweep.tickets_left(without[0]) == 3 - 2  # level 1's random ticket is not lent to a run without them
