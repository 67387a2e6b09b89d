"""A budget-scaling study: the lottery's effects estimated at several training budgets on the same seeds.

Does a "not shown" at a reduced budget say something about the paper, or about the budget? Each budget
is its own run (every preset keeps the paper's rewinding share); per budget, two effects with their
intervals (`verdicts.estimate`, the verdicts' margin of that budget's dense net):
- WT - RT: each seed's mean over the judged levels where both tickets trained, of the iterative-late run;
- late rewinding: each seed's mean winning ticket of the iterative-late run against the iterative-reset run's,
  over the levels both have.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lthlib import families
from lthlib.analysis import by_seed, judged_levels, main_runs
from lthlib.claims import paired_levels, paired_wt_means, with_both_tickets
from lthlib.families import margin_for
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
    rows = []
    for budget in sorted({budgets[r] for r in df.run.unique()}):
        at = main_runs(df[df.run.map(budgets) == budget])  # one run per variant and budget, controls aside
        late, reset = at[at.variant == "iterative-late"], at[at.variant == "iterative-reset"]
        if late.empty:
            continue
        margin = margin_for(family, by_seed(late, "dense").mean(), task)
        levels = with_both_tickets(late, judged_levels(late))
        kept = late[late.level.isin(levels)]
        effects = {"wt_vs_rt": estimate(by_seed(kept, "winning"), by_seed(kept, "random"), margin, higher)}
        pairs = paired_levels(late, reset) if len(reset) else pd.DataFrame()
        if len(pairs):
            effects["late_rewinding"] = estimate(*paired_wt_means(late, reset, pairs), margin, higher)
        for name, e in effects.items():
            rows.append({"budget": budget, "effect": name, "label": EFFECTS[name], "seeds": e.seeds, "gain": e.gain, "low": e.low,
                         "high": e.high, "margin": margin, "outcome": e.outcome})
    return pd.DataFrame(rows, columns=["budget", "effect", "label", "seeds", "gain", "low", "high", "margin", "outcome"])
