"""`lth sweep`: run a grid of lottery experiments on Ray (local by default, or a cluster by address)."""

from __future__ import annotations

import argparse
import sys

import yaml

from lthlib import families, sweep, sweep_cost
from lthlib.configs import PRESETS
from lthlib.runs import VARIANTS


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _variants(text: str) -> list[str]:
    variants = _list(text)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    return variants


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in _list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("sweep", help="run (task x seed x variant) notebooks as Ray tasks",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--family", required=True, choices=families.names(), help="the experiment family")
    p.add_argument("--tasks", type=_list, default=None, help="comma-separated; none: the paper's tasks of the family")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated, distinct")
    p.add_argument("--variants", type=_variants, default=["iterative-late"],
                   help=f"comma-separated, of: {', '.join(VARIANTS)}")
    p.add_argument("--preset", default="cpu", choices=PRESETS, help="smoke: tests; cpu: a 2-core CPU; paper: GPUs")
    p.add_argument("--levels", type=int, default=None,
                   help="pruning levels per run; none: the family notebook's default")
    p.add_argument("--runs-dir", default="data/runs", help="where run directories go (shared by every node)")
    p.add_argument("-p", "--param", type=_parameter, action="append", default=[],
                   help="another notebook parameter, KEY=VALUE (YAML value), e.g. -p device=cuda")
    p.add_argument("--address", default=None, help="join this Ray cluster; none: start a private Ray on this machine, even where another is running")
    p.add_argument("--workers", type=_positive, default=None, help="local Ray: tasks at once; none: one per core")
    p.add_argument("--cpus-per-task", type=float, default=1, help="CPUs Ray reserves per task")
    p.add_argument("--gpus-per-task", type=float, default=0, help="GPUs Ray reserves per task")
    p.add_argument("--max-retries", type=int, default=2, help="retries of a failing task before it is reported")
    p.add_argument("--publish-to", default=None, help="write each run's summary here for the book, e.g. data/results; none: do not publish")
    p.add_argument("--dry-run", action="store_true", help="print the grid and its estimated cost; run nothing")
    args = parser.parse_args(argv)

    try:
        grid = sweep.plan(args.family, args.tasks, args.seeds, args.variants, args.preset, args.runs_dir,
                          args.levels, local=args.address is None, gpus_per_task=args.gpus_per_task,
                          publish_to=args.publish_to, without_data=args.dry_run, **dict(args.param))
    except ValueError as e:
        parser.error(str(e))
    invalid = list(dict.fromkeys(item.error for item in grid if item.status == "failed"))
    if invalid:  # the dry run refuses exactly what the real run would
        print("lth sweep: the grid is invalid, nothing was run:\n  " + "\n  ".join(invalid), file=sys.stderr)
        return 2
    print(sweep.describe(grid))
    if args.dry_run:
        table = sweep_cost.estimate(grid)
        print(table.to_string(index=False, na_rep=""))
        print(sweep_cost.in_words(table, grid))
        return 0
    table = sweep.run_sweep(grid, address=args.address, cpus_per_task=args.cpus_per_task,
                            gpus_per_task=args.gpus_per_task, max_retries=args.max_retries,
                            workers=args.workers, publish_to=args.publish_to)
    print(table.drop(columns="error").to_string(index=False))
    return 0 if (table.status != "failed").all() else 1


if __name__ == "__main__":
    sys.exit(main())
