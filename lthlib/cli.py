"""`lth sweep`: run a grid of lottery experiments on Ray (local by default, or a cluster by address)."""

from __future__ import annotations

import argparse
import sys

import yaml

from lthlib import sweep


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parameter(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("sweep", help="run (task x seed x variant) notebooks as Ray tasks")
    p.add_argument("--family", required=True, choices=sorted(sweep.FAMILIES))
    p.add_argument("--tasks", type=_list, default=None, help="comma-separated (default: the paper's)")
    p.add_argument("--seeds", type=lambda t: [int(s) for s in _list(t)], default=[0, 1, 2])
    p.add_argument("--variants", type=_list, default=["iterative-late"])
    p.add_argument("--preset", default="cpu")
    p.add_argument("--levels", type=int, default=20)
    p.add_argument("--runs-dir", default="data/runs")
    p.add_argument("-p", "--param", type=_parameter, action="append", default=[],
                   help="another notebook parameter, KEY=VALUE (YAML value), e.g. -p device=cuda")
    p.add_argument("--address", default=None, help="join this Ray cluster (default: start Ray locally)")
    p.add_argument("--workers", type=int, default=None, help="local Ray: tasks at once (default: all cores)")
    p.add_argument("--cpus-per-task", type=float, default=1)
    p.add_argument("--gpus-per-task", type=float, default=0)
    p.add_argument("--max-retries", type=int, default=2)
    p.add_argument("--publish-to", default=None, help="write each run's summary here for the book, e.g. data/results")
    p.add_argument("--dry-run", action="store_true", help="print the grid and its estimated cost; run nothing")
    args = parser.parse_args(argv)

    grid = sweep.plan(args.family, args.tasks, args.seeds, args.variants, args.preset, args.runs_dir,
                      args.levels, **dict(args.param))
    print(sweep.describe(grid))
    if args.dry_run:
        print(sweep.estimate(grid).to_string(index=False))
        return 0
    table = sweep.run_sweep(grid, address=args.address, cpus_per_task=args.cpus_per_task,
                            gpus_per_task=args.gpus_per_task, max_retries=args.max_retries,
                            workers=args.workers, publish_to=args.publish_to)
    print(table.drop(columns="error").to_string(index=False))
    return 0 if (table.status != "failed").all() else 1


if __name__ == "__main__":
    sys.exit(main())
