"""A budget-scaling study: the lottery's effects estimated at several training budgets on the same seeds.

Does a "not shown" at a reduced budget say something about the paper, or about the budget? Each budget
is its own run (every preset keeps the paper's rewinding share); per budget, two effects with their
intervals (`verdicts.estimate`, the verdicts' margin of that budget's dense net):
- WT - RT: each seed's mean over the judged levels where both tickets trained, of the iterative-late run;
- late rewinding: each seed's mean winning ticket of the iterative-late run against the iterative-reset run's,
  over the levels both have.
Both are taken over the levels every budget's iterative-late run reached, so that a budget run to more
levels (where the gap is wider) is not favoured.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lthlib import families
from lthlib.analysis import by_seed, judged_levels, main_runs
from lthlib.claims import paired_levels, paired_wt_means, with_both_tickets
from lthlib.families import margin_for
from lthlib.spans import describe_levels
from lthlib.store import finished_tickets, results_table, run_name
from lthlib.verdicts import estimate

EFFECTS = {"wt_vs_rt": "WT − RT", "late_rewinding": "late rewinding − reset"}


def run_budgets(root, family: str, tickets=None) -> dict[str, int]:
    """{run: its training budget in the family's own unit (`Family.budget`)} for `family`'s runs under `root`
    (`tickets`: its `finished_tickets`, where already read)."""
    tickets = finished_tickets(Path(root)) if tickets is None else tickets
    return {run_name(s): families.get(family).budget(s["config"]) for s, _ in tickets if s["family"] == family}


def budget_effects(root, family: str, task: str) -> pd.DataFrame:
    """One row per budget and effect of `task`'s runs under `root`: the budget, the effect's name, seeds, gain,
    low, high (its interval), margin and outcome."""
    tickets = list(finished_tickets(Path(root)))  # one pass over the files, for the results and the budgets
    df = results_table(tickets)
    df = df[(df.family == family) & (df.task == task) & (df.metric == families.get(family).metric) & (df.exclude == "")]
    budgets, higher = run_budgets(root, family, tickets), families.get(family).higher_is_better
    runs = {}  # budget -> (its iterative-late rows, its iterative-reset rows): one run per variant, controls aside
    for budget in sorted({budgets[r] for r in df.run.unique()}):
        at = main_runs(df[df.run.map(budgets) == budget])
        if (at.variant == "iterative-late").any():
            runs[budget] = at[at.variant == "iterative-late"], at[at.variant == "iterative-reset"]
    # The WT - RT gap grows with sparsity: every budget is judged on the levels all of them reached.
    common = sorted(set.intersection(*(set(with_both_tickets(late, judged_levels(late))) for late, _ in runs.values()))
                    if runs else set())
    rows = []
    for budget, (late, reset) in runs.items():
        margin = margin_for(family, by_seed(late, "dense").mean(), task)
        kept = late[late.level.isin(common)]
        effects = {"wt_vs_rt": estimate(by_seed(kept, "winning"), by_seed(kept, "random"), margin, higher)}
        pairs = paired_levels(late, reset, [k for k in common if k in judged_levels(reset)]) if len(reset) else pd.DataFrame()
        if len(pairs):
            effects["late_rewinding"] = estimate(*paired_wt_means(late, reset, pairs), margin, higher)
        for name, e in effects.items():
            rows.append({"budget": budget, "effect": name, "label": EFFECTS[name], "levels": describe_levels(common),
                         "seeds": e.seeds, "gain": e.gain, "low": e.low, "high": e.high, "margin": margin,
                         "outcome": e.outcome})
    return pd.DataFrame(rows, columns=["budget", "effect", "label", "levels", "seeds", "gain", "low", "high", "margin",
                                       "outcome"])


def budget_reading(effects: pd.DataFrame, unit: str = "episodes") -> str:
    """`budget_effects` in sentences: per effect, its outcome at each budget, and its estimate at the smallest
    and the largest budget."""
    if effects.empty:
        return "No budget has both runs yet."
    sentences = [f"On levels {effects.levels.iloc[0]}, the levels every budget reached:"]
    for _, e in effects.groupby("effect", sort=False):
        e = e.sort_values("budget")
        by_outcome: dict[str, list[str]] = {}
        for budget, outcome in zip(e.budget, e.outcome):
            by_outcome.setdefault(outcome, []).append(f"{budget:,}")
        where = "; ".join(f"{outcome} at {' and '.join(b) if len(b) < 3 else ', '.join(b[:-1]) + ' and ' + b[-1]}"
                          for outcome, b in by_outcome.items())
        ends = " against ".join(f"{r.gain:+.3g} [{r.low:.3g}, {r.high:.3g}] at {r.budget:,} {unit} ({r.seeds} seeds)"
                                for r in (e.iloc[0], e.iloc[-1]))
        label = e.label.iloc[0]
        sentences.append(f"{label[0].upper() + label[1:]} is {where} (margin {e.margin.iloc[-1]:.3g}): {ends}.")
    return " ".join(sentences)
