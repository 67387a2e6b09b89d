"""Does a fresh run reproduce the committed one? Exactly where it can, within the verdicts' uncertainty elsewhere.

The promise, stated once (the README repeats it):
- the same settings, seed, machine kind (CPU model, torch / MKL / oneDNN and the kernels they pick) and
  torch threads give the same numbers bit for bit;
- anywhere else the numbers drift (training amplifies the last bits of a sum), and what must agree is
  what the book concludes: each level's mean over seeds, and the verdicts, under `lthlib.verdicts`' rule
  (the fresh run differs at a level where, paired by seed, it beats or trails the committed one beyond
  the margin with p < 0.05 after Holm's correction over all the levels and tickets compared).

`python -m lthlib.reproduction <run directory>` checks a fresh run against its committed summary (the
same settings hash under data/results/) and prints what the run found; `./run.sh` ends with it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lthlib.analysis import by_seed, describe_levels, judged_levels, wt_vs_rt
from lthlib.machine import SAME_ARITHMETIC, differences
from lthlib.paths import resolve
from lthlib import families
from lthlib.atomic import read_json
from lthlib.publishing import summary_path
from lthlib.store import finished_tickets, results_table, summary_tickets
from lthlib.families import margin_for
from lthlib.verdicts import compare, estimate, holm

KEY = ["seed", "level", "ticket", "metric"]


@dataclass
class Check:
    values: int = 0  # (seed, level, ticket, metric) values in both
    equal: int = 0
    same_machine: int = 0  # of those values, computed on a machine recorded as this one, with its threads
    same_machine_equal: int = 0
    unrecorded: int = 0  # committed values whose record does not name its whole machine
    levels: int = 0  # (level, ticket) means compared
    levels_differ: list[str] = field(default_factory=list)
    verdicts: tuple[str, str] = ("", "")  # WT beats RT at levels: (committed, fresh), on the seeds both have
    seeds: tuple[list, list] = ((), ())  # the committed summary's seeds, and those both runs have

    @property
    def reproduced(self) -> bool:
        """Exact where equality is promised, and no level's mean apart. A verdict may flip at a level near the
        bar without either run being wrong: the check prints it, and it does not fail the check alone."""
        return self.same_machine_equal == self.same_machine and not self.levels_differ


def machine_matches(records: pd.DataFrame) -> pd.Series:
    """Per value: True where the committed record names every SAME_ARITHMETIC field and each equals the fresh
    record's; NaN (unknown) where the committed record does not name them all."""
    def one(row):
        committed, fresh = row["machine_committed"] or {}, row["machine_fresh"] or {}
        if not all(k in committed for k in SAME_ARITHMETIC):
            return None
        return not differences(committed, fresh)
    return records.apply(one, axis=1)


def check(fresh: pd.DataFrame, committed: pd.DataFrame, metric: str, higher_is_better: bool = True) -> Check:
    """`fresh` and `committed`: one run's results (load_results) with a `machine` column."""
    both = committed.merge(fresh, on=KEY, suffixes=("_committed", "_fresh"))
    result = Check(values=len(both), equal=int((both.value_committed == both.value_fresh).sum()))
    same = machine_matches(both) if len(both) else pd.Series(dtype=object)
    result.unrecorded = int(same.isna().sum())
    promised = both[same.fillna(False).astype(bool)]
    result.same_machine = len(promised)
    result.same_machine_equal = int((promised.value_committed == promised.value_fresh).sum())

    family, task = committed.family.iloc[0], committed.task.iloc[0]
    rows = lambda df: df[df.metric == metric]  # noqa: E731
    margin = margin_for(family, by_seed(rows(committed), "dense").mean(), task)
    tests = []  # (what, comparison): fresh against committed and back, at each level and ticket kind
    for level in [0] + judged_levels(rows(committed)):
        for ticket in ("dense",) if level == 0 else ("winning", "random"):
            a, b = by_seed(rows(fresh), ticket, level), by_seed(rows(committed), ticket, level)
            if not len(a.index.intersection(b.index)):
                continue
            result.levels += 1
            for first, second, word in ((a, b, "above"), (b, a, "below")):
                tests.append((f"level {level} {ticket}: fresh {a.mean():.4g} {word} committed {b.mean():.4g}",
                              compare(first, second, margin, higher_is_better)))
    # "the runs differ at some level" is a claim about some level: Holm over every test, as the scorecard does
    survives = holm([t.p_value if t.judged else 1.0 for _, t in tests]) if tests else []
    result.levels_differ = [f"{what}, beyond the margin {margin:.3g} ({t})" for (what, t), held in zip(tests, survives)
                            if held and t.better]
    wins = lambda df: describe_levels(wt_vs_rt(df, metric, higher_is_better).query("wt_better").level)  # noqa: E731
    shared = sorted(set(committed.seed) & set(fresh.seed))  # a summary with more seeds concludes more: compare like with like
    result.verdicts = (wins(committed[committed.seed.isin(shared)]), wins(fresh[fresh.seed.isin(shared)]))
    result.seeds = (sorted(set(committed.seed)), shared)
    return result


def findings(results: pd.DataFrame, metric: str, higher_is_better: bool = True) -> list[str]:
    """What one run found, in a few lines, each effect with its interval (`verdicts.estimate`): where the WT
    beats the RT (for a run with random tickets), and the sparsest WT not worse than the dense net by more
    than the margin (the lower end of its interval against the dense net above -margin)."""
    rows = results[results.metric == metric]
    levels = judged_levels(rows)
    dense = by_seed(rows, "dense")
    if not levels or dense.empty:
        return ["no dense net and pruned level on disk yet: nothing to compare"]
    table = wt_vs_rt(results, metric, higher_is_better)
    seeds = int(rows[rows.level.isin(levels)].groupby("level").seed.nunique().min())
    family, task = rows.family.iloc[0], rows.task.iloc[0]
    margin = margin_for(family, dense.mean(), task)
    lines = [f"{task}, {rows.variant.iloc[0]}, {seeds} seed{'s' if seeds != 1 else ''}"
             + ("" if seeds >= 3 else " (indicative: a verdict needs 3 seeds)") + f": dense net {metric} {dense.mean():.4g}"]
    if margin == float("inf"):
        return lines + ["the dense net scores no better than a random policy: no ticket is judged against it"]
    if table.empty:
        lines.append("no random tickets in this run: its winning tickets are compared with the dense net only")
    else:
        wins = table[table.wt_better]
        lines.append(f"the WT beats the RT (the verdict rule: mean gain past the margin, p < 0.05) at levels "
                     f"{describe_levels(wins.level)} of {describe_levels(table.level)}")
        if len(wins):
            top = wins.loc[wins.fraction_pruned.idxmax()]
            level = int(top.level)
            lines.append(f"  sparsest, level {level} ({top.fraction_pruned:.1%} pruned): WT - RT "
                         + str(estimate(by_seed(rows, "winning", level), by_seed(rows, "random", level), margin,
                                        higher_is_better)))
    near = {level: estimate(by_seed(rows, "winning", level), dense, margin, higher_is_better) for level in levels}
    near = {level: e for level, e in near.items() if e.not_worse}
    if near:
        level = max(near)
        pruned = rows[rows.level == level].fraction_pruned.mean()
        lines.append(f"the sparsest WT no worse than the dense net by more than the margin (its interval's lower end "
                     f"above -margin): level {level} ({pruned:.1%} pruned), WT - dense {near[level].interval()}")
    else:
        lines.append(f"no WT is shown within the margin ({margin:.3g}) of the dense net")
    return lines


def with_machines(tickets) -> pd.DataFrame:
    """`results_table` of (settings, ticket record) pairs, with each value's record's `machine` (None where none)."""
    tickets = list(tickets)
    machines = {(r["seed"], r["level"], r["ticket"]): r.get("machine") for _, r in tickets}
    df = results_table(tickets)
    df["machine"] = [machines.get(k) for k in zip(df.seed, df.level, df.ticket)]
    return df


def report(run_root: Path, results_dir: Path, metric: str, higher_is_better: bool = True) -> tuple[list[str], bool]:
    """The lines `./run.sh` prints, and whether the run reproduces its committed summary."""
    fresh = with_machines(finished_tickets(run_root))
    lines = ["what this run found:", *("  " + line for line in findings(fresh, metric, higher_is_better))]
    summary = summary_path(run_root, results_dir)
    if not summary.exists():
        return lines + [f"no committed summary at {summary}: nothing to check the run against"], True
    committed = with_machines(summary_tickets(summary))
    c = check(fresh, committed, metric, higher_is_better)
    lines += [f"reproduction check against {summary.name} ({c.values} values in both):",
              f"  exactly equal: {c.equal} of {c.values}"]
    if c.same_machine:
        lines.append(f"  on this machine kind and thread count ({c.same_machine} values), where equality is promised: "
                     f"{c.same_machine_equal} equal" + ("" if c.same_machine_equal == c.same_machine else " -- NOT REPRODUCED"))
    if c.unrecorded:
        lines.append(f"  {c.unrecorded} committed values do not record their whole machine (made before records did): "
                     "exact equality is not promised for them")
    lines.append(f"  per-level means: {c.levels - len(c.levels_differ)} of {c.levels} agree under the verdict rule")
    lines += [f"    differs: {d}" for d in c.levels_differ]
    committed_seeds, shared = c.seeds
    on = "" if len(committed_seeds) == len(shared) else (
        f" (on the {len(shared)} seeds both have; the committed summary has {len(committed_seeds)})")
    lines.append(f"  WT beats RT at levels{on}: committed {c.verdicts[0]}, here {c.verdicts[1]}"
                 + (" (the same)" if c.verdicts[0] == c.verdicts[1] else
                    " (they differ at a level near the bar, where the means agree: more seeds would settle it)"
                    if c.reproduced else " -- the verdicts DIFFER"))
    lines.append("reproduced" if c.reproduced else "NOT reproduced: see above")
    return lines, c.reproduced


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthlib.reproduction", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a fresh run directory, e.g. data/runs/classic_control/CartPole-v0/iterative-late-<hash>")
    parser.add_argument("--results", type=Path, default=Path("data/results"), help="the committed summaries")
    args = parser.parse_args(argv)
    run = resolve(args.run)
    if not (run / "settings.json").is_file():
        parser.error(f"{run} is not a run directory (no settings.json there)")
    family = families.get(read_json(run / "settings.json")["family"])
    lines, reproduced = report(run, resolve(args.results), family.metric, family.higher_is_better)
    print(*lines, sep="\n")
    return 0 if reproduced else 1


if __name__ == "__main__":
    sys.exit(main())
