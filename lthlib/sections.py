"""The sections every experiment chapter has, rendered once: each returns the section's HTML (its prose and its
table) from one family's committed results, so that a chapter holds its own narrative and figures and the
repeated parts read the same everywhere. The chapter keeps the section's heading (the page's table of contents).
"""

from __future__ import annotations

import html

import pandas as pd

from lthlib import families
from lthlib.analysis import (budget_table, by_seed, executed_notebooks, lineage_trained, main_runs, surprises,
                             trained_longer, wt_wins_summary)
from lthlib.configs import hashed_fields
from lthlib.data_needed import planning
from lthlib.claims import off_share_runs
from lthlib.paths import resolve
from lthlib.store import load_budgets, load_results


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _table(df: pd.DataFrame, empty: str) -> str:
    return df.to_html(index=False, na_rep="–") if len(df) else _p(empty)


def where_winning_tickets_win(df: pd.DataFrame, family: str, floor: str = "", scope=None) -> str:
    """The rule a level's verdict follows, in words, and the levels where each run's winning ticket beats its random
    ticket (`analysis.wt_wins_summary`); `floor`: a sentence on the baseline the margin is measured from; `scope`:
    run name -> its pruning scope, a column of its own."""
    fam = families.get(family)
    rule = (f"A winning ticket beats its random ticket at a level by the book's one rule (see the SCORECARD): the "
            f"mean paired difference over seeds beyond {fam.margin:.0%} of the dense net's {fam.margin_of}, and a "
            "one-sided paired t-test at p < 0.05 over at least 3 seeds; with fewer seeds the levels listed are only "
            "indicative. Levels where an output layer is entirely pruned are left out.")
    table = wt_wins_summary(df, fam.metric, fam.higher_is_better)
    if scope is not None and len(table):
        table.insert(1, "scope", table.run.map(scope))
    rule = _p(rule).replace("SCORECARD", '<a href="scorecard.html">scorecard</a>')  # the chapters sit beside it
    return rule + (_p(floor) if floor else "") + _table(table, "no committed results yet")


def results_to_question(df: pd.DataFrame, family: str) -> str:
    """What the book asks before it calls anything a result (`analysis.surprises`)."""
    fam = families.get(family)
    return (_p("What the book asks before it calls anything a result (lthlib.analysis.surprises): a winning ticket "
               "more than 5% better than its dense net, and runs whose winning tickets score exactly alike.")
            + _table(surprises(df, fam.metric, fam.higher_is_better), "none in the committed runs"))


def what_each_ticket_trained_on(df: pd.DataFrame, family: str, levels: tuple[int, ...]) -> str:
    """Updates and samples per ticket of `df`'s runs at `levels` (`analysis.budget_table`), and the runs that
    rewind off the paper's share of their budget."""
    fam = families.get(family)
    budgets = load_budgets(resolve(f"data/results/{family}"))
    budgets = budgets[budgets.run.isin(df.run.unique())]
    text = _p(f"Updates and samples ({fam.samples_unit}) per ticket, mean over seeds, counted from each ticket's own "
              "start: a late-rewound winning ticket starts at the rewind point, so it has also seen the dense run's "
              "first steps up to it. So that \"better\" never hides \"trained longer\".")
    text += budget_table(budgets, levels=levels).to_html(na_rep="–") if len(budgets) else _p("no committed results yet")
    off = off_share_runs(df)
    if len(off):
        text += _p("These committed runs rewind off the paper's share of their budget (they predate the proportional "
                   "presets); their verdicts are indicative until they are rerun:") + off.to_html(index=False, na_rep="–")
    return text


def executed_notebooks_section(family: str, what: str = "") -> str:
    """Which runs' executed notebooks follow the chapter, and why a run may have none; `what`: what a notebook
    shows beyond the run's curves."""
    shows = f", {what}," if what else ""
    results = resolve(f"data/results/{family}")
    return (_p(f"A run's executed notebook{shows} follows this page where the book has one. A notebook re-plots from "
               "its run's weights, which stay on the machine that trained them, so a run computed where its run "
               "directory is gone has none until it trains again (lth sweep --publish-to data/results then publishes "
               "it). The notebooks of earlier, superseded runs follow too; each says so in its title and names the "
               "run that replaced it.")
            + executed_notebooks(load_results(results), results).to_html(index=False, na_rep="–"))


def lineage_section(family: str, same: str, task: str) -> str:
    """The lineage control (`lineage_budgets`): why an iterative ticket's mask carries its predecessors' training,
    how to run the control, and its table (`analysis.lineage_trained`). `same`: what the control keeps equal
    to the dense run, in words; `task`: the task its command names."""
    fam = families.get(family)
    text = _p("An iterative ticket at level k is pruned by the magnitudes its predecessors reached, so its mask "
              "carries their k budgets of training on top of its own: k + 1 budgets in all. The control "
              f"lineage_budgets trains the same dense net (same seed, {same}, so its first budget is the dense net's "
              "exactly) on for B budgets in one run, and is compared, seed by seed, with the iterative-late winning "
              "tickets at level B − 1. A winning ticket that beats its dense net but not this control has gained "
              "what more training gives a net that has not converged, not what sparsity gives.")
    command = (f"lth sweep --family {family} --tasks {task} --seeds 0,1,2 --levels 0 -p 'overrides={{lineage_budgets: 2}}' "
               "--publish-to data/results")
    text += (f"<p>Run it: <code>{html.escape(command)}</code> (B = 2 pairs with level 1, B = 6 with level 5, "
             "B = 11 with level 10).</p>")
    lineage = lineage_trained(load_results(resolve(f"data/results/{family}")), fam.metric, fam.higher_is_better)
    return text + _table(lineage, "the control is not committed yet")


def trained_longer_section(family: str) -> str:
    """The control `longer_by_rewind`: the dense net trained on by the rewind point's steps, as a late-rewound
    ticket has been, how to run it, and its table (`analysis.trained_longer`)."""
    fam = families.get(family)
    text = _p("A late-rewound winning ticket has trained for the whole budget after the dense run's first steps up "
              "to the rewind point. The control longer_by_rewind trains the same dense net (same seed, same batches, "
              "in the same order) on past its budget by those steps: as many updates, and the same batches in all, "
              "as such a ticket has had. If it matches the winning tickets, their gain over the dense net is extra "
              "training, not their masks. If it is no better than the dense net, the dense net was not undertrained "
              "at its budget; what is left between it and a ticket is the order (a rewound ticket starts the data "
              "again where the control ends on it), which only an unpruned rewound ticket would separate from the "
              "mask.")
    command = (f"lth sweep --family {family} --seeds 0,1,2 --levels 0 -p 'overrides={{longer_by_rewind: true}}' "
               "--publish-to data/results")
    text += f"<p>Run it, one dense net per seed: <code>{html.escape(command)}</code>.</p>"
    longer = trained_longer(load_results(resolve(f"data/results/{family}")), fam.metric, fam.higher_is_better)
    return text + _table(longer, "the control is not committed yet")


def dense_against_paper(family: str) -> str:
    """Each task's main dense net (its iterative-late run, everything pruned) against what the paper reports and a
    trivial baseline, with its training budget as a share of the paper preset's (the family's cost proxy), so that a
    verdict on a net that barely learned is read as such."""
    fam = families.get(family)
    results_dir = resolve("data/results")
    df = main_runs(load_results(results_dir / family))
    df = df[(df.variant == "iterative-late") & (df.exclude == "") & (df.metric == fam.metric)]
    budgets = load_budgets(results_dir / family, configs=True)
    configs = budgets.drop_duplicates("run").set_index("run").config
    rows = []
    for (task, run), g in df.groupby(["task", "run"]):
        dense, config = by_seed(g, "dense"), configs[run]
        bar = fam.trivial_baseline(task, results_dir, config)
        with planning():
            share = fam.ticket_cost(config) / fam.ticket_cost(hashed_fields(fam.config(task, "paper")))
        samples = budgets[(budgets.run == run) & (budgets.ticket == "dense")].samples.mean()
        rows.append({"task": task, "run": run, "seeds": len(dense), f"dense {fam.metric}": f"{dense.mean():.4g} ± "
                     f"{dense.std(ddof=1):.2g}" if len(dense) > 1 else f"{dense.mean():.4g}",
                     "trivial baseline": f"{bar[0]:.4g} ({bar[1]})" if bar else "–",
                     "the paper": fam.paper_dense.get(task, "curves only (no number stated)"),
                     f"{fam.samples_unit} per dense net": f"{samples:,.0f}",
                     "compute per ticket, share of the paper preset's": f"{share:.1%}" if share >= 0.01 else f"{share * 100:.2g}%"})
    return (_p(f"Each task's dense net in its main run, mean ± sd over seeds, against what the paper reports and a "
               f"trivial baseline; what it trained on ({fam.samples_unit}, measured), and its compute per ticket as a "
               "share of the paper preset's on the same task (the family's cost proxy: samples × the model's "
               "multiply-adds per sample). A verdict on a net that barely beats its baseline says little about the "
               "paper.") + _table(pd.DataFrame(rows), "no committed main run yet"))
