"""A short run's exact numbers: does this machine compute what the committed fingerprint says?

One smoke ticket per family, half pruned, on one torch thread: a hash of its trained weights and its
metrics. Two machines that print the same fingerprint do the same arithmetic in everything the tickets
touch. `python -m lthlib.fingerprint` prints this machine's; `--check FILE` compares it with a committed
one, ticket by ticket, and `--write FILE` records it with the machine that made it.

With LTH_ARITHMETIC=portable (lthlib.arithmetic) the fingerprint is meant to be the same on every x86
CPU kind. The tickets say which kernels they run on: `mkl+aten` (MKL's COMPATIBLE branch and ATen's
scalar kernels, both documented to be CPU-independent) or `mkl+aten+onednn` (the LSTM's and the Atari
convolutions' oneDNN kernels, whose numbers changed here when oneDNN was capped at SSE4.1 rather than
AVX2: portable only as far as every machine runs the same oneDNN ISA), or `mkl+aten+envpool` (Acrobot's
C++ environment, which differs between an Intel AMX CPU and an AMD EPYC). Each committed ticket lists
the CPU kinds measured to compute it (`same_on`); `--check FILE --agree` adds this one where it does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


from lthlib import arithmetic, families
from lthlib.lottery import pinned_threads
from lthlib.machine import machine
from lthlib.masks import Mask
from lthlib.pruning import prune_global



def tickets() -> dict[str, tuple[str, str, dict, str]]:
    """name -> (family, task, config overrides, the kernels its arithmetic goes through): every registered
    family's `fingerprint_tickets`."""
    return {name: (family, *spec) for family in families.MODULES
            for name, spec in families.get(family).fingerprint_tickets.items()}


def ticket(name: str) -> dict:
    """Train `name`'s smoke ticket (half its weights pruned, seed 7) on one thread: its weights' hash and metrics."""
    family_name, task, overrides, kernels = tickets()[name]
    family = families.get(family_name)
    config = family.config(task, "smoke", **overrides)
    model = family.build_model(config, 0)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    mask.apply(model)
    with pinned_threads(1):
        result = family.train(model, mask, config, 7)
    weights = hashlib.sha256(b"".join(v.detach().cpu().contiguous().numpy().tobytes()
                                      for _, v in sorted(model.state_dict().items()))).hexdigest()[:16]
    return {"weights": weights, "metrics": result["metrics"], "kernels": kernels}


def fingerprint(names=None) -> dict:
    here, names = machine() | {"threads": 1}, list(tickets()) if names is None else names
    return {"arithmetic": arithmetic.current(), "threads": 1, "machine": here,
            "tickets": {name: ticket(name) | {"same_on": [here["cpu"]]} for name in names}}


def same(theirs: dict, mine: dict | None) -> bool:
    return mine is not None and (mine["weights"], mine["metrics"]) == (theirs["weights"], theirs["metrics"])


def compare(committed: dict, ours: dict) -> list[str]:
    """One line per ticket: same, or what differs."""
    lines = []
    for name, theirs in committed["tickets"].items():
        mine = ours["tickets"].get(name)
        agree = same(theirs, mine)
        lines.append(f"{'same     ' if agree else 'DIFFERENT'} {name} ({theirs['kernels']}): weights {theirs['weights']}"
                     + ("" if agree else f", here {mine and mine['weights']}; metrics {theirs['metrics']}, "
                                         f"here {mine and mine['metrics']}"))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.fingerprint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", type=Path, help="compare with this committed fingerprint; exit 1 where one differs")
    parser.add_argument("--write", type=Path, help="write this machine's fingerprint here")
    parser.add_argument("--agree", action="store_true",
                        help="with --check: add this CPU kind to the same_on list of each ticket it computes exactly")
    known = tickets()
    parser.add_argument("--tickets", default=",".join(known), help=f"comma-separated, of {', '.join(known)}")
    args = parser.parse_args(argv)
    names = [n for n in args.tickets.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown ticket(s) {unknown}; choose from {', '.join(known)}")
    committed = json.loads(args.check.read_text()) if args.check else None
    if committed and committed["arithmetic"] != arithmetic.current():
        parser.error(f"{args.check} was made with LTH_ARITHMETIC={committed['arithmetic']}, this process runs "
                     f"{arithmetic.current()}: set LTH_ARITHMETIC={committed['arithmetic']} before Python starts")
    if args.agree and not committed:
        parser.error("--agree needs --check FILE")
    full = json.loads(args.check.read_text()) if args.agree else None
    if committed:
        committed["tickets"] = {k: v for k, v in committed["tickets"].items() if k in names}
    ours = fingerprint(names)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
    if not committed:
        print(json.dumps(ours["tickets"], indent=1))
        return 0
    lines = compare(committed, ours)
    if full:
        cpu = ours["machine"]["cpu"]
        for name, theirs in full["tickets"].items():
            if same(theirs, ours["tickets"].get(name)) and cpu not in theirs["same_on"]:
                theirs["same_on"].append(cpu)
        args.check.write_text(json.dumps(full, indent=1, sort_keys=True) + "\n")
    print(f"this machine: {ours['machine']['cpu']}, {ours['arithmetic']} arithmetic, 1 thread; "
          f"fingerprint made on {committed['machine']['cpu']}", *lines, sep="\n")
    return 0 if all(line.startswith("same") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
