"""The anatomy of winning-ticket masks, read from the masks and weights a run directory keeps.

- Overlap (IoU) of the kept weights of two masks, beside what two random masks with the same per-layer
  densities would share: across seeds (different initializations), and across variants at one seed (late
  rewinding against reset, iterative against one-shot: the same initialization and dense net).
- The share of a winning ticket's surviving weights whose trained sign differs from their initialization.
- Which input dimensions keep weights as sparsity grows (Vischer, Lange & Sprekeler 2022), where the
  family names its input layer.

`python -m lthlib.anatomy <run dir> [<sibling run dir> ...] --publish-to data/results` writes the numbers
beside the run's summary (`<run>.anatomy.json`), which the book reads; the weights stay out of git.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lthlib import families
from lthlib.atomic import atomic_write_json, read_json
from lthlib.masks import Mask
from lthlib.publishing import summary_path

SUFFIX = ".anatomy.json"


def iou(a: Mask, b: Mask) -> float:
    """|kept in both| / |kept in either|, pooled over the parameters both masks have."""
    names = sorted(set(a) & set(b))
    both = sum(int((a[n] & b[n]).sum()) for n in names)
    either = sum(int((a[n] | b[n]).sum()) for n in names)
    return both / either if either else float("nan")


def random_iou(a: Mask, b: Mask) -> float:
    """The IoU two random masks with `a`'s and `b`'s per-layer densities have in expectation (large layers)."""
    names = sorted(set(a) & set(b))
    size = {n: a[n].numel() for n in names}
    pa, pb = ({n: float(m[n].float().mean()) for n in names} for m in (a, b))
    both = sum(size[n] * pa[n] * pb[n] for n in names)
    either = sum(size[n] * (pa[n] + pb[n] - pa[n] * pb[n]) for n in names)
    return both / either if either else float("nan")


def sign_flips(trained: dict[str, torch.Tensor], init: dict[str, torch.Tensor], mask: Mask) -> float:
    """The share of the surviving weights whose trained sign differs from their initial sign."""
    kept = sum(int(mask[n].sum()) for n in mask)
    flipped = sum(int(((torch.sign(trained[n]) != torch.sign(init[n])) & mask[n]).sum()) for n in mask)
    return flipped / kept if kept else float("nan")


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _levels(root: Path, seed: int) -> list[int]:
    return sorted(int(p.parent.name.split("_")[1]) for p in (root / f"seed_{seed}").glob("level_*/mask.pt"))


def _seeds(root: Path) -> list[int]:
    return sorted(int(p.name.split("_")[1]) for p in root.glob("seed_*") if (p / "init.pt").exists())


def anatomy(root: str | Path, siblings: tuple[str | Path, ...] = ()) -> dict:
    """Per level of the run at `root`: the fraction pruned, the mean IoU over pairs of seeds and its random
    expectation, the mean sign-flip share of the winning tickets, the share of weights each input dimension
    keeps (where the family names an input layer), and each sibling run's IoU with this one, seed by seed."""
    root = Path(root)
    settings = read_json(root / "settings.json")
    family = families.get(settings["family"])
    seeds = _seeds(root)
    levels = sorted(set.intersection(*(set(_levels(root, s)) for s in seeds))) if seeds else []
    rows = []
    for level in levels:
        masks = {s: Mask.load(root / f"seed_{s}" / f"level_{level:02d}" / "mask.pt") for s in seeds}
        pairs = list(itertools.combinations(seeds, 2))
        row = {"level": level, "fraction_pruned": masks[seeds[0]].fraction_pruned(), "seeds": len(seeds),
               "iou_across_seeds": float(np.mean([iou(masks[a], masks[b]) for a, b in pairs])) if pairs else None,
               "random_iou": float(np.mean([random_iou(masks[a], masks[b]) for a, b in pairs])) if pairs else None}
        flips = [sign_flips(_load(root / f"seed_{s}" / f"level_{level:02d}" / "trained.pt"),
                            _load(root / f"seed_{s}" / "init.pt"), masks[s]) for s in seeds
                 if (root / f"seed_{s}" / f"level_{level:02d}" / "trained.pt").exists()]
        row["sign_flips"] = float(np.mean(flips)) if flips else None
        layer = family.input_layer
        if layer and layer in masks[seeds[0]]:  # share kept per input dimension: the mean over a column
            row["inputs_kept"] = np.mean([masks[s][layer].float().mean(0).numpy() for s in seeds], 0).tolist()
        for sibling in map(Path, siblings):
            both = [s for s in seeds if (sibling / f"seed_{s}" / f"level_{level:02d}" / "mask.pt").exists()]
            other = {s: Mask.load(sibling / f"seed_{s}" / f"level_{level:02d}" / "mask.pt") for s in both}
            if both:
                variant = read_json(sibling / "settings.json")["variant"]
                row[f"iou_with_{variant}"] = float(np.mean([iou(masks[s], other[s]) for s in both]))
                row[f"random_iou_with_{variant}"] = float(np.mean([random_iou(masks[s], other[s]) for s in both]))
        rows.append(row)
    inputs = family.input_names(settings["task"]) if family.input_layer else []
    return {"run": root.name, "family": settings["family"], "task": settings["task"], "variant": settings["variant"],
            "input_names": inputs, "levels": rows}


def publish(record: dict, root: str | Path, results_dir: str | Path) -> Path:
    """Write `anatomy(root)` beside the run's published summary."""
    path = summary_path(root, results_dir).with_name(f"{Path(root).name}{SUFFIX}")
    atomic_write_json(record, path)
    return path


def load_anatomy(results_dir: str | Path) -> pd.DataFrame:
    """Every published anatomy under `results_dir`, one row per run and level."""
    rows = []
    for path in sorted(Path(results_dir).rglob(f"*{SUFFIX}")):
        record = read_json(path)
        rows += [{k: record[k] for k in ("run", "family", "task", "variant", "input_names")} | level
                 for level in record["levels"]]
    return pd.DataFrame(rows)


def overlap_figure(df: pd.DataFrame):
    """Per task: the mean IoU of winning-ticket masks across seeds, and at one seed across variants, each beside
    its random expectation (dotted), against the fraction pruned."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    tasks = list(dict.fromkeys(df.task))
    fig = make_subplots(rows=1, cols=max(len(tasks), 1), subplot_titles=tasks)
    pairs = [("iou_across_seeds", "random_iou", "across seeds", "#1f5fbf")] + [
        (c, f"random_{c}", f"with {c.removeprefix('iou_with_')} (same seed)", color)
        for c, color in zip(sorted(c for c in df.columns if c.startswith("iou_with_")), ("#d62728", "#2ca02c", "#9467bd"))]
    for i, task in enumerate(tasks, start=1):
        t = df[df.task == task].sort_values("fraction_pruned")
        for observed, chance, name, color in pairs:
            if observed not in t or t[observed].isna().all():
                continue
            fig.add_trace(go.Scatter(x=t.fraction_pruned, y=t[observed], name=name, legendgroup=name, showlegend=i == 1,
                                     line=dict(color=color)), row=1, col=i)
            fig.add_trace(go.Scatter(x=t.fraction_pruned, y=t[chance], name=f"{name}: random masks", legendgroup=name,
                                     showlegend=False, line=dict(color=color, dash="dot")), row=1, col=i)
        fig.update_xaxes(title_text="fraction pruned", tickformat=".0%", row=1, col=i)
    fig.update_yaxes(title_text="IoU of the kept weights", row=1, col=1)
    fig.update_layout(template="plotly_white", height=380, margin=dict(t=60, b=50))
    return fig


def inputs_figure(df: pd.DataFrame, names: dict[str, list[str]]):
    """Per task: the share of the input layer's weights each input dimension keeps, against the fraction pruned."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    tasks = [t for t in dict.fromkeys(df.task) if names.get(t)]
    fig = make_subplots(rows=1, cols=max(len(tasks), 1), subplot_titles=tasks)
    for i, task in enumerate(tasks, start=1):
        t = df[(df.task == task) & df.inputs_kept.notna()].sort_values("fraction_pruned")
        kept = np.array(t.inputs_kept.tolist())
        for j, name in enumerate(names[task]):
            fig.add_trace(go.Scatter(x=t.fraction_pruned, y=kept[:, j], name=name, mode="lines"), row=1, col=i)
        fig.update_xaxes(title_text="fraction pruned", tickformat=".0%", row=1, col=i)
    fig.update_yaxes(title_text="share of the input layer's weights kept", row=1, col=1)
    fig.update_layout(template="plotly_white", height=380, margin=dict(t=60, b=50))
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.anatomy", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run directory (its seeds' masks and weights)")
    parser.add_argument("siblings", type=Path, nargs="*", help="runs of other variants with the same dense net")
    parser.add_argument("--publish-to", type=Path, help="write <run>.anatomy.json beside its summary here")
    args = parser.parse_args(argv)
    for run in (args.run, *args.siblings):
        if not (run / "settings.json").is_file():
            parser.error(f"{run} is not a run directory (no settings.json there)")
    record = anatomy(args.run, tuple(args.siblings))
    if args.publish_to:
        print(publish(record, args.run, args.publish_to))
    for level in record["levels"]:
        print(f"level {level['level']:2d} ({level['fraction_pruned']:.1%} pruned): IoU across seeds "
              f"{level['iou_across_seeds']:.3f} (random {level['random_iou']:.3f}), sign flips {level['sign_flips']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
