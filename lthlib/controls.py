"""The mask against the initialization: controls that take a winning ticket apart (Frankle et al., ICLR 2021;
Vischer, Lange & Sprekeler 2022).

At a level of a finished run, beside its winning ticket (the mask on the rewound weights) and its random
ticket (the mask on freshly drawn weights, trained by the run itself):
- `random_mask`: a random mask with the ticket's per-layer sparsity, on the ticket's rewound weights;
- `permuted`: the ticket's mask, its surviving rewound weights permuted within each layer.
If a control trains as well as the winning ticket, what it scrambled carried nothing: the mask's positions
(random_mask), or which weight sits where (permuted).

Each control is trained like the run's tickets (its family's trainer, the run's config, a fresh optimizer) into
`<run>/controls/seed_<s>/level_<k>/<control>.json`, and resumes; it reads the run's masks and rewind weights,
so the run directory must be on this machine. `python -m lthlib.controls <run dir> --levels 3,7,12
--publish-to data/results` writes its records beside the run's summary (`<run>.controls.json`), named by a
hash of the run and the control, which the book reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from lthlib import families
from lthlib.analysis import by_seed
from lthlib.atomic import atomic_write_json, read_json
from lthlib.configs import make_config
from lthlib.families import margin_for
from lthlib.lottery import train_ticket, ticket_config, winning_ticket
from lthlib.masks import Mask
from lthlib.publishing import summary_path
from lthlib.runs import derived_seed, level_dir
from lthlib.store import results_table, run_name, settings_hash
from lthlib.verdicts import estimate

CONTROLS = {
    "random_mask": "a random mask with the ticket's per-layer sparsity, on its rewound weights",
    "permuted": "the ticket's mask, its surviving weights permuted within each layer",
}
SUFFIX = ".controls.json"
PARENT = "parent"  # the run directory's winning ticket a control was taken from, as published with the controls


def random_mask_like(mask: Mask, seed: int) -> Mask:
    """A mask keeping as many weights of each layer as `mask` does, at positions drawn uniformly."""
    generator = torch.Generator().manual_seed(seed)
    kept = {}
    for name in mask:
        flat = torch.zeros(mask[name].numel(), dtype=torch.bool)
        flat[torch.randperm(flat.numel(), generator=generator)[: int(mask[name].sum())]] = True
        kept[name] = flat.view_as(mask[name])
    return Mask(kept)


def permuted_within_layers(state: dict[str, torch.Tensor], mask: Mask, seed: int) -> dict[str, torch.Tensor]:
    """`state` with the values at `mask`'s surviving positions of each layer shuffled among those positions."""
    generator = torch.Generator().manual_seed(seed)
    shuffled = dict(state)
    for name in mask:
        values = state[name][mask[name]]
        tensor = state[name].clone()
        tensor[mask[name]] = values[torch.randperm(values.numel(), generator=generator)]
        shuffled[name] = tensor
    return shuffled


def control_hash(settings: dict, control: str) -> str:
    """A control's own name: the run it takes apart and what it scrambles."""
    return settings_hash({"run": run_name(settings), "control": control})


def run_config(settings: dict):
    """The config a run's tickets trained with, rebuilt from its settings."""
    family = families.get(settings["family"])
    return make_config(type(family.config(settings["task"], "smoke")), **settings["config"])


def run_controls(root: str | Path, levels: list[int], controls=tuple(CONTROLS), seeds=None, threads: int = 1,
                 progress: bool = True) -> list[dict]:
    """Train each control at each of `levels` for each seed of the run at `root` that has them (skipping what
    is done), and return all control records."""
    root = Path(root)
    settings = read_json(root / "settings.json")
    family, config = families.get(settings["family"]), run_config(settings)
    unknown = sorted(set(controls) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown controls {unknown}; choose from {sorted(CONTROLS)}")
    late = settings["variant"].endswith("-late")
    seeds = seeds if seeds is not None else sorted(int(p.name.split("_")[1]) for p in root.glob("seed_*"))
    for seed in seeds:
        rewind = root / f"seed_{seed}" / ("rewind.pt" if late else "init.pt")
        for level in levels:
            mask_path = level_dir(root, seed, level) / "mask.pt"
            if not (rewind.exists() and mask_path.exists()):
                raise FileNotFoundError(f"{mask_path} or {rewind} is missing: train the run to level {level} first")
            out = root / "controls" / f"seed_{seed}" / f"level_{level:02d}"
            for control in controls:
                if (out / f"{control}.json").exists():
                    continue
                if progress:
                    print(f"{settings['task']} {root.name}: seed {seed} level {level} {control}", flush=True)
                mask, state = Mask.load(mask_path), torch.load(rewind, weights_only=True)
                if control == "random_mask":
                    mask = random_mask_like(mask, derived_seed(seed, level, control))
                else:
                    state = permuted_within_layers(state, mask, derived_seed(seed, level, control))
                model = winning_ticket(family, config, mask, state)
                out.mkdir(parents=True, exist_ok=True)
                train_ticket(family, ticket_config(family, config, root, seed), model, mask, seed, level, control, out,
                              threads=threads)
    return control_records(root)


def control_records(root: Path) -> list[dict]:
    """The control records trained under the run at `root`, each naming its control's hash."""
    settings = read_json(Path(root) / "settings.json")
    records = [read_json(p) for p in sorted(Path(root).glob("controls/seed_*/level_*/*.json"))]
    return [r | {"control_hash": control_hash(settings, r["ticket"])} for r in records]


def parent_records(root: Path, tickets: list[dict]) -> list[dict]:
    """The run directory's own winning tickets at the seeds and levels its controls took apart, named "parent": the
    tickets the controls pair with, computed where the controls were (a run retrained on another CPU kind than
    the one its summary was published from computes other numbers)."""
    pairs = sorted({(t["seed"], t["level"]) for t in tickets})
    return [read_json(p) | {"ticket": PARENT} for s, k in pairs
            if (p := level_dir(root, s, k) / "winning.json").exists()]


def publish(root: str | Path, results_dir: str | Path) -> Path:
    """The run's control records and their parents, beside its published summary, merged with what is published
    there already: a seed trained in an earlier session, whose run directory is gone, stays."""
    root = Path(root)
    path = summary_path(root, results_dir).with_name(f"{root.name}{SUFFIX}")
    records = control_records(root)
    parents = parent_records(root, records)
    before = read_json(path) if path.exists() else {"tickets": [], "parents": []}
    # a (seed, level) this run directory has controls or a parent at replaces every earlier record there: a control
    # pairs only with the parent it was taken from
    here = {(r["seed"], r["level"]) for r in records + parents}
    merged = {name: [r for r in before.get(name, []) if (r["seed"], r["level"]) not in here] + new
              for name, new in (("tickets", records), ("parents", parents))}
    atomic_write_json({"settings": read_json(root / "settings.json"), **merged}, path)
    return path


def load_controls(results_dir: str | Path) -> pd.DataFrame:
    """Every published control under `results_dir`, in the results table's rows (ticket = the control)."""
    pairs = [(record["settings"], ticket) for path in sorted(Path(results_dir).rglob(f"*{SUFFIX}"))
             for record in [read_json(path)] for ticket in record["tickets"] + record.get("parents", [])]
    return results_table(pairs) if pairs else pd.DataFrame()


def control_effects(controls: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Per run, level and ticket taken apart (each control, and the run's random ticket): the winning ticket's
    gain over it, paired by seed, with its interval (`verdicts.estimate`, the verdicts' margin of the run's
    dense net). A gain within the margin: what that ticket scrambled did not matter at this level."""
    rows = []
    if controls.empty:
        return pd.DataFrame(rows)
    for (family, task, run), group in controls.groupby(["family", "task", "run"]):
        fam = families.get(family)
        main = results[(results.run == run) & (results.metric == fam.metric)]
        group = group[group.metric == fam.metric]
        dense = by_seed(main, "dense")
        margin = margin_for(family, dense.mean(), task)
        for level in sorted(group.level.unique()):
            committed, parents = by_seed(main, "winning", level), by_seed(group, PARENT, level)
            mine = committed.drop(parents.index, errors="ignore")  # the controls pair with their own parents
            winning = pd.concat([mine, parents]).sort_index()
            against = {c: by_seed(group, c, level) for c in sorted(set(group[group.level == level].ticket) - {PARENT})}
            against["random"] = by_seed(main, "random", level)
            for ticket, values in against.items():
                wt = committed if ticket == "random" else winning  # the committed RTs pair with the committed WTs
                e = estimate(wt, values, margin, fam.higher_is_better)
                rows.append({"family": family, "task": task, "run": run, "level": int(level),
                             "fraction_pruned": float(group[group.level == level].fraction_pruned.mean()),
                             "against": ticket, "seeds": e.seeds, "winning": float(wt[values.index.intersection(
                                 wt.index)].mean()), "other": float(values.mean()), "gain": e.gain, "low": e.low,
                             "high": e.high, "margin": margin, "outcome": e.outcome})
    return pd.DataFrame(rows)


def effects_figure(effects: pd.DataFrame):
    """`control_effects` as one panel per task: the winning ticket's gain over each ticket taken apart, with its
    90% interval, against the fraction pruned; dashed, the margin."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lthlib.plots import COLORS

    colors = {"random": COLORS["random"], "random_mask": "#2ca02c", "permuted": "#9467bd"}
    names = {"random": "fresh weights (random ticket)", "random_mask": "random mask", "permuted": "permuted weights"}
    tasks = sorted(effects.task.unique())
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=tasks)
    for col, task in enumerate(tasks, start=1):
        t = effects[effects.task == task]
        for against, e in t.groupby("against"):
            e = e.sort_values("fraction_pruned")
            fig.add_trace(go.Scatter(
                x=e.fraction_pruned, y=e.gain, mode="markers+lines", name=names.get(against, against),
                legendgroup=against, showlegend=col == 1, line=dict(color=colors.get(against), width=1),
                error_y=dict(type="data", symmetric=False, array=e.high - e.gain, arrayminus=e.gain - e.low),
                customdata=e[["seeds", "low", "high", "outcome"]].to_numpy(),
                hovertemplate="%{x:.1%} pruned, %{customdata[0]} seeds<br>WT − it: %{y:.3g} [%{customdata[1]:.3g}, "
                              "%{customdata[2]:.3g}]: %{customdata[3]}<extra></extra>"), row=1, col=col)
        margin = float(t.margin.iloc[0])
        for y in (margin, -margin):
            fig.add_hline(y=y, line=dict(color=COLORS["dense"], dash="dash", width=1), row=1, col=col)
        fig.add_hline(y=0.0, line=dict(color=COLORS["dense"], width=1), row=1, col=col)
        fig.update_xaxes(title_text="fraction pruned", tickformat=".0%", row=1, col=col)
    fig.update_yaxes(title_text="winning ticket − ticket taken apart", row=1, col=1)
    fig.update_layout(template="plotly_white", height=380, margin=dict(t=60, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def reading(effects: pd.DataFrame) -> list[str]:
    """Per task and ticket taken apart, in a sentence: at which sparsities the winning ticket beats it (its
    interval above the margin), matches it (within the margin) or cannot be told from it."""
    lines = []
    for (task, against), e in effects.groupby(["task", "against"]):
        by = {}
        for pruned, outcome in zip(e.sort_values("fraction_pruned").fraction_pruned,
                                   e.sort_values("fraction_pruned").outcome):
            by.setdefault(outcome, []).append(f"{pruned:.0%}")
        lines.append(f"- {task}, against {CONTROLS.get(against, 'the random ticket: its mask on freshly drawn weights')}"
                     f" ({int(e.seeds.min())} seeds): " + "; ".join(f"{o} at {', '.join(p)} pruned" for o, p in by.items()))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.controls", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run directory, with its masks and rewind weights")
    parser.add_argument("--levels", required=True, type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated pruning levels, e.g. 3,7,12")
    parser.add_argument("--controls", default=",".join(CONTROLS), type=lambda s: s.split(","),
                        help=f"comma-separated, of: {', '.join(CONTROLS)}")
    parser.add_argument("--seeds", default=None, type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated; none: every seed of the run")
    parser.add_argument("--publish-to", default=None, help="write the records beside the run's summary here")
    args = parser.parse_args(argv)
    if not (Path(args.run) / "settings.json").exists():
        parser.error(f"{args.run} is not a run directory (no settings.json)")
    try:
        records = run_controls(args.run, args.levels, args.controls, args.seeds)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    print(f"{len(records)} control tickets in {Path(args.run) / 'controls'}")
    if args.publish_to:
        print(f"published: {publish(args.run, args.publish_to)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
