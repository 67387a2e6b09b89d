"""Stability at the rewind point: linear mode connectivity (Frankle, Dziugaite, Roy & Carbin, ICML 2020).

Two copies of a network start from the same weights, the dense run's weights at step j under a mask, and train
with different noise (their trainer's seed: environment seeds and action draws in RL, dropout in the LSTM).
Along the straight line between their trained weights, at `POINTS` points, the family's `evaluate` scores the
network on fixed evaluation seeds or data. Two numbers read the path:
- the instability (Frankle et al.): the largest drop along the line below the mean of its two ends (for a loss,
  the largest rise above it). It is never below half the gap between the ends;
- the barrier: the largest drop below the chord between the ends, which leaves that gap out.
Both are 0 on the path from a network to itself. A rewind point is called stable where the instability lies
within the family's practical margin (the verdicts' margin), and its ticket matches the dense net where the 90%
interval of ticket - dense, paired over seeds, has its lower end above -margin (`reproduction.findings`' rule).

The masks are one-shot: the dense net's trained weights pruned globally by magnitude to the fraction of pruning
level k (r_k at p = 0.2), so one dense net serves every rewind point. Frankle et al. used IMP's masks.

`python -m lthlib.stability --family classic_control --task CartPole-v0 --publish-to data/results` trains into
`<runs_dir>/<family>/<task>/stability-<hash>/` (resuming), and publishes `stability-<hash>.stability.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lthlib import families
from lthlib.atomic import atomic_torch_save, atomic_write_json, read_json
from lthlib.configs import hashed_fields, rewind_point
from lthlib.family import Family
from lthlib.families import margin_for
from lthlib.lottery import pinned_threads, train_ticket, winning_ticket
from lthlib.masks import Mask
from lthlib.paths import check_directory
from lthlib.pruning import fraction_pruned_at, prune_global
from lthlib.store import settings_hash
from lthlib.verdicts import estimate

SHARES = (0.0, 1 / 80, 1 / 40, 1 / 20, 1 / 10, 1 / 5)  # rewind points, as shares of the training budget
LEVELS = (0, 7, 13)  # 0%, 79.0% and 94.5% pruned
POINTS = 11
PRUNING_RATE = 0.2
EVAL_SEED = 10_007  # one evaluation for every network scored: the same env seeds, draws or data
SUFFIX = ".stability.json"


def interpolate(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """(1 - alpha) a + alpha b for floating tensors (exactly a at 0 and b at 1); other tensors from `a`."""
    return {k: (1 - alpha) * a[k] + alpha * b[k] if a[k].is_floating_point() else a[k] for k in a}


def along_line(a: dict, b: dict, score, points: int = POINTS) -> list[float]:
    """`score(state)` at `points` evenly spaced points of the line from state `a` to state `b`, ends included."""
    return [float(score(interpolate(a, b, alpha))) for alpha in np.linspace(0.0, 1.0, points)]


def instability(values: list[float], higher_is_better: bool = True) -> float:
    """The largest drop along the path below the mean of its two ends (a rise, for a loss)."""
    sign = 1.0 if higher_is_better else -1.0
    ends = (values[0] + values[-1]) / 2
    return float(max(sign * (ends - v) for v in values))


def barrier(values: list[float], higher_is_better: bool = True) -> float:
    """The largest drop along the path below the chord between its two ends (a rise, for a loss)."""
    sign, alphas = (1.0 if higher_is_better else -1.0), np.linspace(0.0, 1.0, len(values))
    return float(max(sign * ((1 - a) * values[0] + a * values[-1] - v) for a, v in zip(alphas, values)))


def share_tag(share: float) -> str:
    """A rewind point's directory name: "init", "1_20" for 1/20, "0.3" for a share that is no unit fraction."""
    if share == 0:
        return "init"
    return f"1_{round(1 / share)}" if abs(1 / share - round(1 / share)) < 1e-9 else f"{share:g}"


def stability_settings(family_name: str, config, shares, levels) -> dict:
    return {"family": family_name, "task": config.task, "config": hashed_fields(config), "shares": list(shares),
            "levels": list(levels), "points": POINTS, "pruning_rate": PRUNING_RATE, "masks": "one-shot",
            "eval_seed": EVAL_SEED}


def stability_root(runs_dir, family, config, shares, levels) -> Path:
    """The run directory, named by a hash of what its paths depend on."""
    settings = stability_settings(family.name, config, shares, levels)
    return Path(runs_dir) / family.name / config.task.replace("/", "_") / f"stability-{settings_hash(settings)}"


def can_evaluate(family: Family) -> bool:
    return type(family).evaluate is not Family.evaluate


def check_can_evaluate(family: Family) -> None:
    if not can_evaluate(family):
        names = [n for n in families.names() if can_evaluate(families.get(n))]
        raise ValueError(f"family {family.name!r} has no evaluate (a network scored outside its trainer), which a path "
                         f"needs; the families that have one: {', '.join(names)}")


def check_inputs(shares, levels, seeds, family=None) -> None:
    if family is not None:
        check_can_evaluate(family)
    if not shares or any(not 0 <= s < 1 for s in shares):
        raise ValueError(f"shares must lie in [0, 1) (the rewind point's share of the budget), got {list(shares)}")
    if len({share_tag(s) for s in shares}) < len(shares):
        raise ValueError(f"shares must be distinct, got {list(shares)}")
    if not levels or any(not isinstance(k, int) or not 0 <= k <= 40 for k in levels):
        raise ValueError(f"levels must be integers in [0, 40] (level k prunes r_k = 1 - 0.8^k), got {list(levels)}")
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative integers, got {list(seeds)}")


def run_stability(family_name: str, task: str, preset: str = "cpu", seeds=(0, 1, 2), shares=SHARES, levels=LEVELS,
                  runs_dir: str | Path = "data/runs", threads: int = 1, progress: bool = True, **overrides) -> Path:
    """Train (or resume) every seed's dense net, the two copies at each rewind point and level, and score their
    paths; returns the run's directory. Every trained network and path is written as soon as it exists."""
    family = families.get(family_name)
    check_inputs(shares, levels, seeds, family)
    config = family.config(task, preset, **overrides)
    check_directory("runs_dir", runs_dir)
    root = stability_root(runs_dir, family, config, shares, levels)
    atomic_write_json(stability_settings(family.name, config, shares, levels) | {"preset": preset}, root / "settings.json")
    points = {share: rewind_point(config.budget, share) if share else 0 for share in shares}
    ones = Mask.ones(family.build_model(config, 0))  # the dense net's mask, and what a level's one-shot mask prunes
    for seed in seeds:
        seed_dir = root / f"seed_{seed}"
        if not (seed_dir / "init.pt").exists():
            atomic_torch_save(family.build_model(config, seed).state_dict(), seed_dir / "init.pt")
        init = torch.load(seed_dir / "init.pt", weights_only=True)
        for share in sorted(shares, reverse=True):  # the dense net, once per rewind point (it trains the same)
            out = seed_dir / f"dense_{share_tag(share)}"
            if (out / "dense.json").exists() or (share == 0 and any(seed_dir.glob("dense_1_*/dense.json"))):
                continue
            say(progress, f"{task} seed {seed}: the dense net, rewind point {share_tag(share)}")
            model = winning_ticket(family, config, ones, init)
            hook = (lambda m, out=out: atomic_torch_save(m.state_dict(), out / "rewind.pt")) if share else None
            at = dataclasses.replace(config, **{config.REWIND_FIELD: points[share]}) if share else config
            train_ticket(family, at, model, ones, seed, 0, "dense", out, hook, threads)
        dense_dir = same_dense_nets(seed_dir)
        trained = torch.load(dense_dir / "trained.pt", weights_only=True)
        ticketed = family.ticket_config(config, read_json(dense_dir / "dense.json"))  # e.g. equal updates
        for level in levels:
            mask = prune_global(trained, ones, fraction_pruned_at(level, PRUNING_RATE)) if level else ones
            for share in shares:
                start = init if share == 0 else torch.load(seed_dir / f"dense_{share_tag(share)}" / "rewind.pt",
                                                            weights_only=True)
                out = seed_dir / f"rewind_{share_tag(share)}" / f"level_{level:02d}"
                for copy in ("a", "b"):
                    if not (out / copy / f"copy_{copy}.json").exists():
                        say(progress, f"{task} seed {seed}: rewind {share_tag(share)}, level {level}, copy {copy}")
                        train_ticket(family, ticketed, winning_ticket(family, config, mask, start), mask, seed, level,
                                     f"copy_{copy}", out / copy, threads=threads)
                if not (out / "path.json").exists():
                    atomic_write_json(path_between(family, config, out / "a", out / "b", threads), out / "path.json")
    return root


def trainings_left(root: Path, seeds, shares, levels) -> int:
    """The networks `run_stability` has still to train: a dense net per rewind point past 0 (or one), two copies per
    rewind point and level, per seed."""
    left = 0
    for seed in seeds:
        seed_dir = root / f"seed_{seed}"
        dense = [s for s in shares if s > 0] or [0.0]
        left += sum(not (seed_dir / f"dense_{share_tag(s)}" / "dense.json").exists() for s in dense)
        left += sum(not (seed_dir / f"rewind_{share_tag(s)}" / f"level_{k:02d}" / c / f"copy_{c}.json").exists()
                    for s in shares for k in levels for c in ("a", "b"))
    return left


def dry_run(family_name: str, task: str, preset: str = "cpu", seeds=(0, 1, 2), shares=SHARES, levels=LEVELS,
            runs_dir: str | Path = "data/runs", results_dir: str | Path = "data/results", **overrides) -> str:
    """What `run_stability` would train, and its CPU core-hours, priced like `lth sweep --dry-run` (each network
    trains one ticket's budget: the seconds per ticket of the committed runs of this config, this CPU kind first)."""
    from lthlib.machine import machine
    from lthlib.sweep_cost import measured_runs, seconds_per_ticket

    family = families.get(family_name)
    check_inputs(shares, levels, seeds, family)
    config = family.config(task, preset, **overrides)
    root = stability_root(runs_dir, family, config, shares, levels)
    left = trainings_left(root, seeds, shares, levels)
    priced = seconds_per_ticket(measured_runs(results_dir), family.name, config.task, config, machine()["cpu_capability"])
    if not priced:
        return f"{left} networks to train into {root}; no committed run prices one"
    label, _, per = priced
    return (f"{left} networks to train into {root}, ~{per:.0f} s each (priced from {label}): about "
            f"{left * per / 3600:.1f} CPU core-hours, plus the paths' evaluations")


def same_dense_nets(seed_dir: Path) -> Path:
    """The seed's dense net, trained once per rewind point: they must all be one net (where a dense net rewinds
    changes nothing it computes), else the rewind points would not share their masks."""
    dirs = sorted(d for d in seed_dir.glob("dense_*") if (d / "dense.json").exists())
    metrics = {json.dumps(read_json(d / "dense.json")["metrics"], sort_keys=True) for d in dirs}
    if len(metrics) > 1:
        raise RuntimeError(f"{seed_dir}: the dense nets trained for different rewind points differ ({sorted(metrics)}): "
                           "is this trainer deterministic on this machine?")
    return dirs[0]


def path_between(family, config, first: Path, second: Path, threads: int) -> dict:
    """The path between the networks trained into `first` and `second` (their trained.pt), scored by the family's
    `evaluate`: e.g. a rewind point's two copies."""
    a, b = (torch.load(d / "trained.pt", weights_only=True) for d in (first, second))
    model = family.build_model(config, 0)

    def score(state):
        model.load_state_dict(state)
        return family.evaluate(model, config, EVAL_SEED)

    with pinned_threads(threads):
        values = along_line(a, b, score)
    return {"values": values, "instability": instability(values, family.higher_is_better),
            "barrier": barrier(values, family.higher_is_better)}


def say(progress: bool, line: str) -> None:
    if progress:
        print(line, flush=True)


def records(root: Path) -> list[dict]:
    """One row per seed, rewind point and level with both copies and the path trained."""
    settings, rows = read_json(root / "settings.json"), []
    for path in sorted(root.glob("seed_*/rewind_*/level_*/path.json")):
        level_dir, seed_dir = path.parent, path.parent.parent.parent
        tag = path.parent.parent.name.removeprefix("rewind_")
        share = next(s for s in settings["shares"] if share_tag(s) == tag)
        dense = read_json(next(d for d in sorted(seed_dir.glob("dense_*/dense.json"))))
        copies = [read_json(level_dir / c / f"copy_{c}.json") for c in ("a", "b")]
        rows.append({"seed": int(seed_dir.name.split("_")[1]), "share": share, "level": int(level_dir.name[6:]),
                     "fraction_pruned": copies[0]["fraction_pruned"], "dense": dense["metrics"],
                     "copies": [c["metrics"] for c in copies], "stats": copies[0]["stats"],
                     "machine": copies[0]["machine"], **read_json(path)})
    return rows


def publish(root: str | Path, results_dir: str | Path) -> Path:
    """The run's paths as one JSON file for the book, merged with what is published there already: a seed trained
    in an earlier session, whose run directory is gone, stays."""
    root = Path(root)
    path = Path(results_dir) / root.parent.parent.name / root.parent.name / f"{root.name}{SUFFIX}"
    atomic_write_json({"settings": read_json(root / "settings.json"),
                       "records": merged(path, records(root), ("seed", "share", "level"))}, path)
    return path


def merged(path: Path, new: list[dict], key: tuple[str, ...]) -> list[dict]:
    """`new` records, and those of the file at `path` (if any) whose `key` fields no new record has."""
    have = {tuple(r[k] for k in key) for r in new}
    before = read_json(path)["records"] if path.exists() else []
    return [r for r in before if tuple(r[k] for k in key) not in have] + new


def load_stability(results_dir: str | Path) -> pd.DataFrame:
    """Every published path, one row each, with its family's metric of the dense net and of copy a (the ticket)."""
    rows = []
    for path in sorted(Path(results_dir).rglob(f"*{SUFFIX}")):
        published = read_json(path)
        settings, metric = published["settings"], families.get(published["settings"]["family"]).metric
        for r in published["records"]:
            rows.append({"family": settings["family"], "task": settings["task"], "run": path.name.removesuffix(SUFFIX),
                         "preset": settings.get("preset"), "seed": r["seed"], "share": r["share"], "level": r["level"],
                         "fraction_pruned": r["fraction_pruned"], "dense": r["dense"][metric],
                         "ticket": r["copies"][0][metric], "instability": r["instability"], "barrier": r["barrier"],
                         "updates": r["stats"]["updates"]})
    return pd.DataFrame(rows)


def summary(stability: pd.DataFrame) -> pd.DataFrame:
    """Per task, rewind point and level: the mean instability over seeds, whether it is within the margin, ticket -
    dense with its interval, whether the ticket matches the dense net, and whether it learned at all (beat the
    family's trivial baseline by the margin: a path between two nets that learned nothing is flat, and says nothing)."""
    rows = []
    for (family, task, share, level), g in stability.groupby(["family", "task", "share", "level"]):
        fam = families.get(family)
        margin = margin_for(family, g.dense.mean(), task)
        g = g.set_index("seed")
        e = estimate(g.ticket, g.dense, margin, fam.higher_is_better)
        floor = fam.baseline(task)
        learned = floor is None or (g.ticket.mean() - floor) * (1 if fam.higher_is_better else -1) > margin
        rows.append({"family": family, "task": task, "share": share, "level": level,
                     "fraction_pruned": g.fraction_pruned.mean(), "seeds": len(g), "instability": g.instability.mean(),
                     "instability_sd": g.instability.std(ddof=1) if len(g) > 1 else float("nan"),
                     "barrier": g.barrier.mean(), "updates": g.updates.mean(), "margin": margin, "stable": bool(g.instability.mean() <= margin < np.inf),
                     "ticket_minus_dense": e.gain, "low": e.low, "high": e.high,
                     "matches": e.not_worse, "learned": bool(learned)})
    return pd.DataFrame(rows)


def share_label(share: float) -> str:
    return "0 (init)" if share == 0 else str(Fraction(share).limit_denominator(1000))


def figure(table: pd.DataFrame):
    """`summary` as three rows of panels, one column per task, against the rewind point, one line per sparsity: the
    instability (mean over seeds, ± sd), the barrier (mean), the margin dashed; ticket - dense with its 90% interval."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lthlib.plots import COLORS

    tasks = sorted(table.task.unique())
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    fig = make_subplots(rows=3, cols=len(tasks), subplot_titles=tasks, vertical_spacing=0.09)
    for col, task in enumerate(tasks, start=1):
        t = table[table.task == task]
        for k, (level, g) in enumerate(t.groupby("level")):
            g = g.sort_values("share")
            x, name = [share_label(v) for v in g.share], f"{g.fraction_pruned.mean():.0%} pruned"
            style = dict(color=colors[k % len(colors)], width=1.5)
            fig.add_trace(go.Scatter(x=x, y=g.instability, name=name, legendgroup=name, showlegend=col == 1,
                                     mode="lines+markers", line=style,
                                     error_y=dict(type="data", array=g.instability_sd.fillna(0)),
                                     hovertemplate="rewind %{x}: instability %{y:.3g}<extra>" + name + "</extra>"),
                          row=1, col=col)
            fig.add_trace(go.Scatter(x=x, y=g.barrier, name=name, legendgroup=name, showlegend=False,
                                     mode="lines+markers", line=dict(style, dash="dash"),
                                     hovertemplate="rewind %{x}: barrier %{y:.3g}<extra>" + name + "</extra>"),
                          row=2, col=col)
            fig.add_trace(go.Scatter(x=x, y=g.ticket_minus_dense, name=name, legendgroup=name, showlegend=False,
                                     mode="lines+markers", line=dict(style, dash="dot"),
                                     error_y=dict(type="data", symmetric=False, array=g.high - g.ticket_minus_dense,
                                                  arrayminus=g.ticket_minus_dense - g.low),
                                     hovertemplate="rewind %{x}: ticket − dense %{y:.3g}<extra>" + name + "</extra>"),
                          row=3, col=col)
        margin = float(t.margin.iloc[0])
        for row in (1, 2):
            fig.add_hline(y=margin, line=dict(color=COLORS["dense"], dash="dash", width=1), row=row, col=col)
            fig.update_xaxes(type="category", row=row, col=col)
        for y, dash in ((0.0, "solid"), (-margin, "dash"), (margin, "dash")):
            fig.add_hline(y=y, line=dict(color=COLORS["dense"], dash=dash, width=1), row=3, col=col)
        fig.update_xaxes(title_text="rewind point (share of the budget)", type="category", row=3, col=col)
    for row, title in enumerate(("instability", "barrier (below the chord)", "ticket − dense (up: better)"), start=1):
        fig.update_yaxes(title_text=title, row=row, col=1)
    fig.update_layout(template="plotly_white", height=860, margin=dict(t=60, b=60), legend=dict(orientation="h", y=-0.1))
    return fig


def reading(table: pd.DataFrame) -> list[str]:
    """Per task and sparsity, in a sentence: the rewind points where training is stable, and where the ticket
    rewound there matches the dense net."""
    lines = []
    for (task, level), g in table.groupby(["task", "level"]):
        g = g.sort_values("share")
        if not g.learned.any():
            lines.append(f"- {task}, {g.fraction_pruned.mean():.0%} pruned: the tickets learned nothing at any rewind "
                         f"point (no better than the trivial baseline by the margin), so their flat paths say nothing")
            continue
        stable = [share_label(v) for v in g[g.stable].share]
        matching = [share_label(v) for v in g[g.matches].share]
        lines.append(f"- {task}, {g.fraction_pruned.mean():.0%} pruned ({int(g.seeds.min())} seeds): stable at "
                     f"{', '.join(stable) or 'no rewind point'}; the ticket matches the dense net at "
                     f"{', '.join(matching) or 'no rewind point'}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.stability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", required=True, choices=families.names())
    parser.add_argument("--task", required=True)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--seeds", default="0,1,2", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--shares", default=",".join(f"{s:g}" for s in SHARES),
                        type=lambda s: [float(x) for x in s.split(",")], help="rewind points, shares of the budget")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), type=lambda s: [int(x) for x in s.split(",")],
                        help="pruning levels of the one-shot masks (0: dense)")
    parser.add_argument("--runs-dir", default="data/runs")
    parser.add_argument("--publish-to", default=None, help="write the paths' records here (e.g. data/results)")
    parser.add_argument("--dry-run", action="store_true", help="say what it would train and what that costs")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            print(dry_run(args.family, args.task, args.preset, args.seeds, args.shares, args.levels, args.runs_dir))
            return 0
        root = run_stability(args.family, args.task, args.preset, args.seeds, args.shares, args.levels, args.runs_dir)
    except (ValueError, FileNotFoundError) as e:  # bad input, or a dataset not where it is looked for
        parser.error(str(e))
    print(f"{len(records(root))} paths in {root}")
    if args.publish_to:
        print(f"published: {publish(root, args.publish_to)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
