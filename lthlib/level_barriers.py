"""The barrier between successive pruning levels (Paul et al., ICLR 2023): the linear path from a lottery run's
trained winning ticket at level k - 1 to its ticket at level k (the dense net as level 0), scored by the family's
`evaluate` as `lthlib.stability` scores a rewind point's two copies. Paul et al. found the barrier zero if and only
if the ticket at level k matches the dense net.

It reads a run directory's trained weights, so the run must be on this machine: `python -m lthlib.level_barriers
<run dir> --publish-to data/results` writes `<level>/barrier.json` per seed and level (resuming), and
`<run>.level_barriers.json` beside the run's summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from lthlib import families
from lthlib.atomic import atomic_write_json, read_json
from lthlib.controls import run_config
from lthlib.families import margin_for
from lthlib.publishing import summary_path
from lthlib.runs import level_dir
from lthlib.stability import check_can_evaluate, merged, path_between, say

SUFFIX = ".level_barriers.json"


def level_barriers(root: str | Path, threads: int = 1, progress: bool = True) -> list[dict]:
    """The path between the trained winning tickets of successive levels of a lottery run (Paul et al., ICLR 2023:
    level k - 1's against level k's, the dense net as level 0), per seed, scored as above; each written to
    `<level>/barrier.json` as it is done, all returned."""
    root = Path(root)
    settings = read_json(root / "settings.json")
    family, config = families.get(settings["family"]), run_config(settings)
    check_can_evaluate(family)
    rows = []
    for seed_dir in sorted(root.glob("seed_*")):
        seed = int(seed_dir.name.split("_")[1])
        if not (level_dir(root, seed, 0) / "dense.json").exists():  # a seed still training its dense net
            continue
        dense = read_json(level_dir(root, seed, 0) / "dense.json")["metrics"][family.metric]
        level = 1
        while all((level_dir(root, seed, level) / f).exists() for f in ("trained.pt", "winning.json")):
            out = level_dir(root, seed, level) / "barrier.json"
            if not out.exists():
                say(progress, f"{settings['task']} {root.name}: seed {seed}, levels {level - 1} to {level}")
                path = path_between(family, config, level_dir(root, seed, level - 1), level_dir(root, seed, level), threads)
                winning = read_json(level_dir(root, seed, level) / "winning.json")
                atomic_write_json(path | {"seed": seed, "level": level, "fraction_pruned": winning["fraction_pruned"],
                                          "winning": winning["metrics"][family.metric], "dense": dense,
                                          "machine": winning["machine"]}, out)
            rows.append(read_json(out))
            level += 1
    return rows


def publish_level_barriers(root: str | Path, results_dir: str | Path) -> Path:
    """The run's level barriers beside its summary, merged with what is published there (`stability.merged`)."""
    root = Path(root)
    path = summary_path(root, results_dir).with_name(f"{root.name}{SUFFIX}")
    atomic_write_json({"settings": read_json(root / "settings.json"),
                       "records": merged(path, level_barriers(root, progress=False), ("seed", "level"))}, path)
    return path


def load_level_barriers(results_dir: str | Path) -> pd.DataFrame:
    rows = [{"family": p["settings"]["family"], "task": p["settings"]["task"], "run": path.name.removesuffix(SUFFIX),
             **{k: v for k, v in r.items() if k not in ("values", "machine")}}
            for path in sorted(Path(results_dir).rglob(f"*{SUFFIX}")) for p in [read_json(path)]
            for r in p["records"]]
    return pd.DataFrame(rows)


def level_table(barriers: pd.DataFrame) -> pd.DataFrame:
    """Per task, how often (over seeds and levels) a level's barrier to the level before it is within the margin
    ("zero barrier"), against whether its winning ticket matches the dense net (within the margin below it, seed
    by seed): Paul et al. found the two together, zero barrier if and only if matching."""
    rows = []
    for (family, task, run), g in barriers.groupby(["family", "task", "run"]):
        fam = families.get(family)
        margin = margin_for(family, g.drop_duplicates("seed").dense.mean(), task)
        sign = 1.0 if fam.higher_is_better else -1.0
        zero, matching = g.barrier <= margin, sign * (g.winning - g.dense) >= -margin
        rows.append({"task": task, "run": run, "seeds": g.seed.nunique(), "levels": int(g.level.max()),
                     "margin": margin, "zero barrier, matching": int((zero & matching).sum()),
                     "zero barrier, not matching": int((zero & ~matching).sum()),
                     "a barrier, matching": int((~zero & matching).sum()),
                     "a barrier, not matching": int((~zero & ~matching).sum()),
                     "agree (iff)": f"{(zero == matching).mean():.0%}"})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.level_barriers", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a lottery run directory, with its trained winning tickets")
    parser.add_argument("--publish-to", default=None, help="write the records beside the run's summary here")
    args = parser.parse_args(argv)
    if not (Path(args.run) / "settings.json").exists():
        parser.error(f"{args.run} is not a run directory (no settings.json)")
    try:
        print(f"{len(level_barriers(args.run))} paths between successive levels in {args.run}")
    except ValueError as e:
        parser.error(str(e))
    if args.publish_to:
        print(f"published: {publish_level_barriers(args.run, args.publish_to)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
