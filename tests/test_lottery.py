import dataclasses
import json
import math

import pandas as pd
import pytest
import torch

from lthlib import Lottery, Mask, load_results, publish, run_lottery
from lthlib.families.classic_control import FAMILY, config
from lthlib.lottery import level_dir, run_root, split_seeds
from lthlib.machine import machine
from lthlib.analysis import grid_cost
from lthlib.atomic import read_json
from lthlib.store import load_budgets

SMOKE = config("CartPole-v0", "smoke", hidden=(64, 64))


class Recording:
    """The classic-control family, recording each model as it enters training."""

    def __init__(self, fail_on_call: int | None = None):
        self.calls, self.fail_on_call = [], fail_on_call
        self.name, self.metric, self.higher_is_better = FAMILY.name, FAMILY.metric, True
        self.config, self.build_model = FAMILY.config, FAMILY.build_model

    def train(self, model, mask, config, seed, rewind_hook):
        if len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt  # as if killed part-way through
        self.calls.append({k: v.clone() for k, v in model.state_dict().items()})
        return FAMILY.train(model, mask, config, seed, rewind_hook)


def load(path):
    return torch.load(path, weights_only=True)


def test_winning_ticket_is_the_rewind_point_times_the_mask(tmp_path):
    family = Recording()
    root = run_lottery(family, SMOKE, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, progress=False)
    seed_dir = root / "seed_0"
    rewind, init = load(seed_dir / "rewind.pt"), load(seed_dir / "init.pt")
    assert any(not torch.equal(rewind[k], init[k]) for k in rewind)  # rewind point is after training began
    dense_start, wt_start, rt_start = family.calls[0], family.calls[1], family.calls[2]
    assert all(torch.equal(dense_start[k], init[k]) for k in init)
    mask = Mask.load(seed_dir / "level_01" / "mask.pt")
    for name, m in mask.items():
        assert torch.equal(wt_start[name], rewind[name] * m)
        assert not rt_start[name][~m.bool()].any()  # the random ticket: the same mask ...
    assert all(not torch.equal(rt_start[k][m.bool()], rewind[k][m.bool()]) for k, m in mask.items()
               if k.endswith("weight"))  # ... and its weights drawn afresh


def test_reset_variant_rewinds_to_the_initial_weights(tmp_path):
    family = Recording()
    root = run_lottery(family, SMOKE, Lottery(variant="iterative-reset", levels=1), seeds=[0],
                       runs_dir=tmp_path, progress=False)
    init = load(root / "seed_0" / "init.pt")
    mask = Mask.load(root / "seed_0" / "level_01" / "mask.pt")
    assert not (root / "seed_0" / "rewind.pt").exists()
    for name, m in mask.items():
        assert torch.equal(family.calls[1][name], init[name] * m)


def test_random_ticket_has_the_mask_and_fresh_weights_from_the_init_distribution(tmp_path):
    family = Recording()
    root = run_lottery(family, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    init = load(root / "seed_0" / "init.pt")
    mask = Mask.load(root / "seed_0" / "level_01" / "mask.pt")
    wt, rt = family.calls[1], family.calls[2]
    for name, m in mask.items():
        assert ((rt[name] != 0) == m).all()  # same mask (init weights are never exactly 0)
        assert not torch.equal(rt[name][m], wt[name][m])
        assert not torch.equal(rt[name][m], init[name][m])
    # nn.Linear draws U(-1/sqrt(fan_in), 1/sqrt(fan_in)): same bound, std = bound / sqrt(3)
    survivors = rt["trunk.2.weight"][mask["trunk.2.weight"]]
    bound = 1 / math.sqrt(64)
    assert survivors.abs().max() <= bound
    assert survivors.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_killed_run_resumes_to_the_same_results_and_seeds_are_deterministic(tmp_path):
    lottery = Lottery(levels=3)
    whole = run_lottery(FAMILY, SMOKE, lottery, seeds=[0], runs_dir=tmp_path / "a", progress=False)

    with pytest.raises(KeyboardInterrupt):
        run_lottery(Recording(fail_on_call=4), SMOKE, lottery, seeds=[0], runs_dir=tmp_path / "b",
                    progress=False)
    resumed_family = Recording()
    resumed = run_lottery(resumed_family, SMOKE, lottery, seeds=[0], runs_dir=tmp_path / "b",
                          progress=False)
    assert len(resumed_family.calls) == 3  # levels 0, 1 and the WT of 2 were kept; 3 tickets left

    a, b = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert len(a) == 7
    assert a.equals(b)
    for level in range(4):
        ta = load(level_dir(whole, 0, level) / "trained.pt")
        tb = load(level_dir(resumed, 0, level) / "trained.pt")
        assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_rerun_skips_finished_levels_and_more_levels_extend_the_run(tmp_path):
    run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    family = Recording()
    root = run_lottery(family, SMOKE, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 2  # only level 2's WT and RT
    assert root == run_root(tmp_path, FAMILY, SMOKE, Lottery(levels=1))
    df = load_results(tmp_path)
    assert sorted(df.level.unique()) == [0, 1, 2]
    assert df.fraction_pruned.max() == pytest.approx(0.36, abs=1e-3)


def test_one_shot_prunes_every_level_from_the_dense_net(tmp_path):
    root = run_lottery(FAMILY, SMOKE, Lottery(variant="oneshot-late", levels=2), seeds=[0],
                       runs_dir=tmp_path, progress=False)
    dense = load(level_dir(root, 0, 0) / "trained.pt")
    mask2 = Mask.load(level_dir(root, 0, 2) / "mask.pt")
    # the survivors of level 2 are the largest 64% of the dense weights
    magnitudes = torch.cat([dense[k].abs().flatten() for k in mask2])
    alive = torch.cat([mask2[k].flatten() for k in mask2])
    assert magnitudes[alive].min() >= magnitudes[~alive].max()


def test_different_settings_get_different_run_directories(tmp_path):
    a = run_root(tmp_path, FAMILY, SMOKE, Lottery())
    b = run_root(tmp_path, FAMILY, config("CartPole-v0", "smoke", hidden=(64, 64), lr=2e-4), Lottery())
    c = run_root(tmp_path, FAMILY, SMOKE, Lottery(pruning_rate=0.3))
    assert len({a, b, c}) == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "late"}, "iterative-late"),
        ({"pruning_rate": 1.2}, r"\(0, 1\)"),
        ({"levels": -1}, "non-negative"),
    ],
)
def test_bad_lottery_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Lottery(**kwargs)


@pytest.mark.parametrize("seeds", [[], [-1], [0.5], [0, 0], "1,1", True, -2, None])
def test_bad_seeds_are_refused_before_training(tmp_path, seeds):
    family = Recording()
    with pytest.raises(ValueError, match="seeds"):
        run_lottery(family, SMOKE, Lottery(levels=1), seeds=seeds, runs_dir=tmp_path, progress=False)
    assert family.calls == []


def test_seeds_come_as_a_list_text_or_one_int():
    from lthlib.runs import check_seeds

    assert check_seeds(2) == check_seeds("2") == check_seeds([2]) == [2]  # -p seeds 2 passes the int 2
    assert check_seeds("[0, 1, 2]") == check_seeds((0, 1, 2)) == [0, 1, 2]


def test_published_summary_loads_like_the_run(tmp_path):
    root = run_lottery(FAMILY, SMOKE, Lottery(levels=2), seeds=[0, 1], runs_dir=tmp_path / "runs", progress=False)
    summary = publish(root, tmp_path / "results")
    assert summary.name.endswith(".summary.json") and summary.stat().st_size < 50_000
    assert not list((tmp_path / "results").rglob("*.pt"))
    from_run, from_summary = load_results(root), load_results(tmp_path / "results")
    assert len(from_run) == 10
    assert from_summary.equals(from_run)


def test_every_ticket_record_says_which_machine_kernels_and_threads_computed_it(tmp_path):
    threads_before = torch.get_num_threads()
    pinned = 1 if threads_before != 1 else 2
    root = run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path / "runs", progress=False,
                       threads=pinned)
    assert torch.get_num_threads() == threads_before  # pinned for each ticket only
    records = [json.loads(p.read_text()) for p in sorted(root.glob("seed_0/level_*/*.json"))]
    assert len(records) == 3  # dense, winning, random
    here = machine()
    for record in records:
        assert record["machine"]["threads"] == pinned
        assert record["machine"]["torch"] == torch.__version__
        assert record["machine"]["cpu_capability"] in {"DEFAULT", "VSX", "ZVECTOR", "AVX2", "AVX512", "SVE256"}
        assert record["machine"]["cpu"] == here["cpu"] is not None  # the CPU model too
        for field in ("mkl", "onednn", "mkl_branch", "onednn_isa", "isa", "arithmetic"):
            assert record["machine"][field] == here[field]
    assert here["onednn"].count(".") == 2 and here["arithmetic"] == "native"
    summary = json.loads(publish(root, tmp_path / "results").read_text())
    assert [t["machine"] for t in summary["tickets"]] == [r["machine"] for r in records]


def test_publishing_again_from_a_fresh_checkout_keeps_the_seeds_published_before(tmp_path):
    results = tmp_path / "results"
    first = run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0, 1], runs_dir=tmp_path / "runs", progress=False)
    publish(first, results)
    before = load_results(results)
    # a fresh checkout has the summary, not the run directory: it reruns seed 1 only, and stops a level short
    again = run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[1], runs_dir=tmp_path / "fresh", progress=False)
    assert again.name == first.name
    for ticket in (again / "seed_1" / "level_01").glob("*.json"):
        ticket.unlink()
    summary = publish(again, results)
    assert load_results(results).equals(before)  # seed 0 kept; seed 1 kept whole (it had more tickets)
    # a rerun seed that gets as far replaces the published one, and seed 0 stays
    run_lottery(FAMILY, SMOKE, Lottery(levels=2), seeds=[1], runs_dir=tmp_path / "fresh", progress=False)
    publish(again, results)
    after = load_results(results)
    assert sorted(after.groupby("seed")["level"].max().items()) == [(0, 1), (1, 2)]
    assert after[after.seed == 0].reset_index(drop=True).equals(before[before.seed == 0].reset_index(drop=True))
    assert [r["seed"] for r in read_json(summary)["tickets"]] == sorted(r["seed"] for r in read_json(summary)["tickets"])


def test_a_run_cut_short_has_published_every_ticket_it_finished(tmp_path):
    results, published = tmp_path / "results", []

    def publish_now(root):
        published.append(len(read_json(publish(root, results))["tickets"]))

    with pytest.raises(KeyboardInterrupt):  # killed while training its fourth ticket
        run_lottery(Recording(fail_on_call=3), SMOKE, Lottery(levels=2), seeds=[0], runs_dir=tmp_path / "runs",
                    progress=False, on_ticket=publish_now)
    assert published == [1, 2, 3]  # once per finished ticket: dense, then level 1's winning and random
    summary = load_results(results)
    assert sorted(zip(summary.level, summary.ticket)) == [(0, "dense"), (1, "random"), (1, "winning")]


def test_threads_must_be_a_positive_integer(tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=f"threads must be a positive integer.*got {bad!r}"):
            run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False, threads=bad)
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_split_seeds_picks_whichever_finishes_sooner():
    assert split_seeds(1, 2, 20) and split_seeds(3, 2, 20) and split_seeds(3, 6, 20)
    assert not split_seeds(2, 2, 20) and not split_seeds(4, 2, 20) and not split_seeds(1, 2, 0)


@pytest.mark.parametrize("seeds", [[0], [0, 1, 2]])
def test_random_tickets_run_beside_the_winning_tickets_with_the_same_results(tmp_path, seeds):
    """workers=2 for one or three seeds: a second process trains each seed's random tickets as masks appear."""
    levels = 2 if len(seeds) == 1 else 1
    sequential = run_lottery(FAMILY, SMOKE, Lottery(levels=levels), seeds=seeds, runs_dir=tmp_path / "a",
                             progress=False, threads=1)  # as each of the 2 workers, so both do the same arithmetic
    parallel = run_lottery(FAMILY, SMOKE, Lottery(levels=levels), seeds=seeds, runs_dir=tmp_path / "b", workers=2,
                           progress=False, threads=1)
    a, b = load_results(sequential), load_results(parallel)
    assert len(a) == len(b) == len(seeds) * (1 + 2 * levels)  # dense + WT and RT per level
    columns = ["seed", "level", "ticket", "fraction_pruned", "metric", "value"]
    assert a.sort_values(columns[:3])[columns].values.tolist() == b.sort_values(columns[:3])[columns].values.tolist()


def test_a_failing_winning_ticket_process_stops_the_waiting_random_one(tmp_path):
    never_rewinds = dataclasses.replace(SMOKE, rewind_episodes=1000)  # past the budget: config() refuses it
    with pytest.raises(RuntimeError, match="never reached its rewind point"):
        run_lottery(FAMILY, never_rewinds, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, workers=2,
                    progress=False)


def test_workers_stop_when_the_process_running_the_lottery_is_killed(tmp_path):
    """A notebook kernel killed with SIGKILL (no chance to clean up) leaves no worker training on."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = ("from lthlib import Lottery, run_lottery\n"
              "from lthlib.families.classic_control import FAMILY, config\n"
              f"run_lottery(FAMILY, config('CartPole-v0', 'smoke', epochs=50), Lottery(levels=20), seeds=[0, 1],"
              f" runs_dir={str(tmp_path)!r}, workers=2, progress=False)\n")
    parent, workers = subprocess.Popen([sys.executable, "-c", script]), []
    try:
        deadline = time.time() + 120
        while len(workers := [p for p in psutil.Process(parent.pid).children()
                              if "resource_tracker" not in " ".join(p.cmdline())]) < 2:
            assert time.time() < deadline and parent.poll() is None, "the workers never started"
            time.sleep(0.2)
        while min(w.cpu_times().user for w in workers) < 3.0:  # past their start-up, into training
            assert time.time() < deadline and parent.poll() is None, "the workers never got going"
            time.sleep(0.2)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"workers still running after their parent was killed: {alive}"
    finally:  # orphaned workers are no longer our children: kill them through their handles
        for process in [*workers, *psutil.Process().children(recursive=True)]:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def test_winning_then_random_parts_of_a_seed_complete_it(tmp_path):
    from lthlib.lottery import run_seed, tickets_done

    root = run_root(tmp_path, FAMILY, SMOKE, Lottery(variant="oneshot-late", levels=2))
    run_seed(FAMILY, SMOKE, Lottery(variant="oneshot-late", levels=2), 0, root, tickets="winning")
    assert tickets_done(root, [0], 2) == 3 and not (level_dir(root, 0, 1) / "random.json").exists()
    run_seed(FAMILY, SMOKE, Lottery(variant="oneshot-late", levels=2), 0, root, tickets="random")
    assert tickets_done(root, [0], 2) == 5
    with pytest.raises(ValueError, match="tickets must be"):
        run_seed(FAMILY, SMOKE, Lottery(levels=2), 0, root, tickets="both")


def test_a_variant_reuses_the_dense_net_and_level_one_of_a_sibling_run(tmp_path):
    first = run_lottery(FAMILY, SMOKE, Lottery(variant="oneshot-reset", levels=1), seeds=[0], runs_dir=tmp_path,
                        progress=False)
    family = Recording()
    second = run_lottery(family, SMOKE, Lottery(variant="iterative-reset", levels=2), seeds=[0], runs_dir=tmp_path,
                         progress=False)
    assert len(family.calls) == 2  # only level 2's two tickets were trained
    a, b = load_results(first), load_results(second)
    columns = ["ticket", "level", "fraction_pruned", "metric", "value"]
    assert b[b.level <= 1][columns].sort_values(columns).values.tolist() == a[columns].sort_values(columns).values.tolist()
    copied = read_json(level_dir(second, 0, 1) / "winning.json")
    assert copied["copied_from"] == first.name
    for f in ("level_00/trained.pt", "level_01/mask.pt", "init.pt"):
        assert all(torch.equal(x, y) for x, y in zip(load(first / "seed_0" / f).values(), load(second / "seed_0" / f).values()))
    # late rewinding needs the rewind point, which a reset run never saved: the dense net is trained anew
    family = Recording()
    run_lottery(family, SMOKE, Lottery(variant="iterative-late", levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 3
    # and a one-shot late run then finds it, with level 1 (the same rewind point)
    family = Recording()
    run_lottery(family, SMOKE, Lottery(variant="oneshot-late", levels=2), seeds=[0], runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 2
    # another pruning rate shares the dense net, not level 1
    family = Recording()
    run_lottery(family, SMOKE, Lottery(variant="oneshot-late", levels=1, pruning_rate=0.3), seeds=[0],
                runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 2
    # other settings of the net or its training never share
    family = Recording()
    run_lottery(family, config("CartPole-v0", "smoke", hidden=(64, 64), entropy_coef=0.02),
                Lottery(variant="oneshot-late", levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 3
    # what the six runs cost counts each ticket where it was trained: 3 + 2 + 3 + 2 + 2 + 3, not the copies
    budgets = load_budgets(tmp_path)
    cost = grid_cost(budgets).iloc[0]
    assert (cost["runs"], cost["tickets"], cost["CPU kind"]) == (6, 15, machine()["cpu_capability"])
    trained = budgets[~budgets.copied].wall_time_s
    assert len(budgets) == 15 + 3 + 2 + 1 + 1
    assert cost["tickets/h on 2 cores"] == round(2 * 3600 / trained.mean(), 1)


def test_grid_cost_sums_the_hours_of_the_tickets_each_cpu_kind_computed():
    """Smoke tickets take seconds, too few to show in core-hours: these wall times are set by hand."""
    rows = [("a", "r1", 1200.0, "AVX512", False)] * 3 + [("a", "r2", 9999.0, "AVX512", True),
                                                         ("a", "r2", 3600.0, None, False), ("b", "r3", 60.0, "AVX2", False)]
    budgets = pd.DataFrame(rows, columns=["family", "run", "wall_time_s", "cpu", "copied"])
    cost = grid_cost(budgets).set_index(["family", "CPU kind"])
    assert cost.loc[("a", "AVX512")].tolist() == [1, 3, 1.0, 1200, 6.0]  # the copy counts where it was computed
    assert cost.loc[("a", "unrecorded")].tolist() == [1, 1, 1.0, 3600, 2.0]
    assert cost.loc[("b", "AVX2")].tolist() == [1, 1, 0.0, 60, 120.0]


def test_a_run_without_random_tickets_copies_none_and_lends_its_level_one_without_one(tmp_path):
    run_lottery(FAMILY, SMOKE, Lottery(variant="iterative-late", levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    family = Recording()
    ablation = run_lottery(family, SMOKE, Lottery(variant="oneshot-late", levels=2, random_tickets=False), seeds=[0],
                           runs_dir=tmp_path, progress=False)
    assert len(family.calls) == 1  # level 2's winning ticket: the dense net and level 1 are copied
    assert sorted(load_results(ablation).ticket) == ["dense", "winning", "winning"]  # and no random ticket with them
    # the other way round: a run with random tickets copies a winning-only sibling's level 1 and trains its RT
    lone = tmp_path / "lone"
    run_lottery(FAMILY, SMOKE, Lottery(variant="oneshot-late", levels=1, random_tickets=False), seeds=[0],
                runs_dir=lone, progress=False)
    family = Recording()
    main = run_lottery(family, SMOKE, Lottery(variant="iterative-late", levels=1), seeds=[0], runs_dir=lone,
                       progress=False)
    assert len(family.calls) == 1 and sorted(load_results(main).ticket) == ["dense", "random", "winning"]
    assert read_json(level_dir(main, 0, 1) / "winning.json")["copied_from"].startswith("oneshot-late")
    assert "copied_from" not in read_json(level_dir(main, 0, 1) / "random.json")

def test_another_pruning_scope_reuses_the_dense_net_with_its_own_mask(tmp_path):
    run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path / "a", progress=False)
    family, scope = Recording(), Lottery(levels=1, exclude=("*bias",))
    reused = run_lottery(family, SMOKE, scope, seeds=[0], runs_dir=tmp_path / "a", progress=False)
    assert len(family.calls) == 2  # level 1's tickets: their mask depends on the scope
    fresh = run_lottery(FAMILY, SMOKE, scope, seeds=[0], runs_dir=tmp_path / "b", progress=False)
    dense_mask = Mask.load(level_dir(reused, 0, 0) / "mask.pt")
    assert dense_mask.keys() == Mask.load(level_dir(fresh, 0, 0) / "mask.pt").keys()
    assert not any(name.endswith("bias") for name in dense_mask)
    assert read_json(level_dir(reused, 0, 0) / "dense.json")["copied_from"].startswith("iterative-late-")
    columns = ["ticket", "level", "fraction_pruned", "metric", "value"]
    a, b = load_results(reused), load_results(fresh)
    assert a[columns].sort_values(columns).values.tolist() == b[columns].sort_values(columns).values.tolist()


def test_a_sibling_that_rewinds_to_the_same_point_is_preferred(tmp_path):
    for variant in ("iterative-late", "oneshot-reset"):
        run_lottery(FAMILY, SMOKE, Lottery(variant=variant, levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    family = Recording()
    root = run_lottery(family, SMOKE, Lottery(variant="iterative-reset", levels=1), seeds=[0], runs_dir=tmp_path,
                       progress=False)
    assert family.calls == []  # dense and level 1 both from oneshot-reset, though iterative-late sorts first
    assert read_json(level_dir(root, 0, 1) / "random.json")["copied_from"].startswith("oneshot-reset-")


def test_a_run_continued_on_another_thread_count_says_so_on_the_terminal(tmp_path, capsys):
    run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False, threads=1)
    run_lottery(FAMILY, SMOKE, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False, threads=1)
    assert "another machine" not in capsys.readouterr().err  # the same machine and threads: nothing to say
    run_lottery(FAMILY, SMOKE, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, progress=False, threads=2)
    assert "note: 3 of this run's finished tickets were computed on another machine" in capsys.readouterr().err
