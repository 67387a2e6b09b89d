"""Numbers read off the results table: where winning tickets beat random ones (by `verdicts`' rule), and
what each ticket trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lthlib import families
from lthlib.configs import keeps_share
from lthlib.families import margin_for
from lthlib.plots import summarize
from lthlib.publishing import executed_seeds
from lthlib.spans import describe_levels
from lthlib.store import LINEAGE, LONGER
from lthlib.verdicts import MIN_SEEDS, compare, estimate

CONTROL_FIELDS = ("equal_updates", "max_updates", LONGER, LINEAGE)  # a run with these set is a control, not a main run


def by_seed(rows: pd.DataFrame, ticket: str, level: int | None = None) -> pd.Series:
    """One ticket kind's values, indexed by seed (at one level, or the mean over the given rows' levels)."""
    chosen = rows[(rows.ticket == ticket) & ((rows.level == level) if level is not None else True)]
    return chosen.groupby("seed").value.mean()


def judged_levels(rows: pd.DataFrame) -> list[int]:
    """The pruned levels that enter verdicts: those where no output layer is entirely pruned."""
    pruned = rows[rows.level > 0]
    return sorted(set(pruned.level) - set(pruned[pruned.output_pruned.astype(bool)].level))


def wt_vs_rt(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Per (task, run, level): WT and RT mean ± std, and whether the WT beats the RT under the rule of
    `lthlib.verdicts` (paired over seeds; `judged` is False with fewer than 3 seeds: the verdict is then
    indicative). Levels with an output layer entirely pruned are left out."""
    rows = []
    for (family, task, variant, run), group in df[df.metric == metric].groupby(["family", "task", "variant", "run"]):
        stats = summarize(group, metric).set_index(["ticket", "level"])
        dense = by_seed(group, "dense")
        margin = margin_for(family, dense.mean(), task) if len(dense) else 0.0
        for level in judged_levels(group):
            if ("winning", level) not in stats.index or ("random", level) not in stats.index:
                continue
            wt, rt = stats.loc[("winning", level)], stats.loc[("random", level)]
            result = compare(by_seed(group, "winning", level), by_seed(group, "random", level), margin, higher_is_better)
            rows.append({
                "task": task, "variant": variant, "run": run, "level": level,
                "fraction_pruned": wt["fraction_pruned"], "wt_mean": wt["mean"], "wt_std": wt["std"],
                "rt_mean": rt["mean"], "rt_std": rt["std"], "dense_mean": dense.mean() if len(dense) else np.nan,
                "seeds": result.seeds, "p_value": result.p_value, "wt_better": result.better, "judged": result.judged,
            })
    return pd.DataFrame(rows, columns=[
        "task", "variant", "run", "level", "fraction_pruned", "wt_mean", "wt_std", "rt_mean", "rt_std",
        "dense_mean", "seeds", "p_value", "wt_better", "judged",
    ])


def learned(df: pd.DataFrame, score_to_beat: float) -> tuple[bool, dict[str, float]]:
    """Whether one run's agents learned: the dense net's score, or the winning or random tickets'
    mean over levels, above `score_to_beat` (e.g. a random policy's, with its spread). Where none is,
    winning and random tickets compare noise with noise. Also returns those three scores."""
    scores = {ticket: float(df[df.ticket == ticket].value.mean()) for ticket in ("dense", "winning", "random")}
    return any(score > score_to_beat for score in scores.values()), scores


def is_control(df: pd.DataFrame) -> pd.Series:
    """Rows of control runs (e.g. classic control's equal-updates budget), kept apart from the main runs."""
    return df.paper_differences.str.split(", ").map(lambda fields: any(f in CONTROL_FIELDS for f in fields)).astype(bool)


def keeps_paper_share(df: pd.DataFrame) -> pd.Series:
    """Rows of runs that rewind to the initial weights or at the paper's share of their budget."""
    return pd.Series([f == 0 or keeps_share(f, families.get(family).rewind_share) for family, f in
                      zip(df.family, df.rewind_fraction)], index=df.index, dtype=bool)


def main_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the main run of each (family, task, variant, pruning scope), controls aside: a run at the
    paper's preset with 3 seeds or more, else the largest (most tickets) of those at the paper's rewinding
    share, else the largest: e.g. the cpu preset's run rather than a smoke sweep published beside it, a rerun
    at the paper's proportion rather than the run it replaces, and a paper-scale run rather than the reduced
    one it supersedes (which stays in data/results/ as history). Among runs alike so far, an ablation prefers
    one that trains the main iterative-late run's dense net (`dense_net`), so that all variants of a task
    pair with one dense net: an envpool rerun rather than the gymnasium run it replaces."""
    df = df[~is_control(df)]
    size = (df.assign(keeps=keeps_paper_share(df), at_paper=df.paper_differences == "")
            .groupby(["family", "task", "variant", "exclude", "run", "dense_net"])
            .agg(n=("value", "size"), keeps=("keeps", "all"), at_paper=("at_paper", "all"), seeds=("seed", "nunique"))
            .reset_index())
    size["paper"] = size.at_paper & (size.seeds >= MIN_SEEDS)
    ranked = size.sort_values(["keeps", "paper", "n"], ascending=False)
    anchor = (ranked[(ranked.variant == "iterative-late") & (ranked.exclude == "")]
              .drop_duplicates(["family", "task"]).set_index(["family", "task"]).dense_net)
    size["shares"] = [anchor.get((f, t)) == d for f, t, d in zip(size.family, size.task, size.dense_net)]
    main = (size.sort_values(["keeps", "paper", "shares", "n"], ascending=False)
            .drop_duplicates(["family", "task", "variant", "exclude"]))
    return df[df.run.isin(main.run)]


def executed_notebooks(df: pd.DataFrame, results_dir: str | Path) -> pd.DataFrame:
    """Each main run of `df` (one family's results), the seeds it has committed and the seeds its executed
    notebook in the book shows (`<task>/<run>.ipynb` under `results_dir`, the family's results), or none:
    a notebook re-plots from its run's weights, so a run whose directory is gone (computed on another
    machine) has none until it trains again (`lth sweep --publish-to` publishes it then)."""
    rows = []
    for (task, variant, exclude, run), group in main_runs(df).groupby(["task", "variant", "exclude", "run"]):
        shown = executed_seeds(Path(results_dir) / task / f"{run}.ipynb")
        rows.append({"task": task, "variant": variant, "pruned": f"all but {exclude}" if exclude else "everything",
                     "run": run, "seeds committed": ", ".join(map(str, sorted(group.seed.unique()))),
                     "executed notebook": f"seeds {', '.join(map(str, shown))}" if shown else "none"})
    table = pd.DataFrame(rows, columns=["task", "variant", "pruned", "run", "seeds committed", "executed notebook"])
    return table if (table.pruned != "everything").any() else table.drop(columns="pruned")


def wt_wins_summary(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Per (task, run): the levels and the highest fraction pruned at which the WT beats its RT."""
    table = wt_vs_rt(df, metric, higher_is_better)
    rows = []
    for (task, variant, run), group in table.groupby(["task", "variant", "run"]):
        wins = group[group.wt_better]
        seeds = int(group.seeds.min())
        rows.append({
            "task": task, "variant": variant, "run": run, "seeds": seeds,
            "levels judged": describe_levels(group.level), "dense": round(group.dense_mean.iloc[0], 2),
            "WT beats RT at levels": describe_levels(wins.level) + ("" if seeds >= MIN_SEEDS else " (indicative)"),
            "up to fraction pruned": round(wins.fraction_pruned.max(), 3) if len(wins) else None,
        })
    return pd.DataFrame(rows, columns=["task", "variant", "run", "seeds", "levels judged", "dense",
                                       "WT beats RT at levels", "up to fraction pruned"])


def budget_table(budgets: pd.DataFrame, levels=(1, 5, 10, 20)) -> pd.DataFrame:
    """Mean updates and samples per ticket at a few levels, the dense net's beside them, per (task, run),
    from `store.load_budgets`: so that "better" never hides "trained longer". A late-rewound winning
    ticket's counts start at the rewind point: it also saw the dense run's first `rewind_fraction`."""
    mean = budgets.groupby(["task", "variant", "run", "ticket", "level"])[["updates", "samples"]].mean()
    dense = mean.xs("dense", level="ticket").droplevel("level")
    tickets = mean.drop(index="dense", level="ticket").unstack("ticket")
    tickets = tickets[tickets.index.get_level_values("level").isin(levels)]
    tickets.columns = [f"{ticket} {what}" for what, ticket in tickets.columns]
    table = tickets.join(dense.add_prefix("dense "), on=["task", "variant", "run"])
    order = [f"{t} {w}" for w in ("updates", "samples") for t in ("dense", "winning", "random")]
    return table[[c for c in order if c in table.columns]].round(0).astype("Int64").droplevel("run")


def grid_cost(budgets: pd.DataFrame) -> pd.DataFrame:
    """What the tickets of `budgets` (`store.load_budgets`, e.g. of the main runs) took to compute, per
    family and CPU kind: the runs, the tickets computed (one copied from a sibling run counts where it
    was computed), their CPU core-hours (a ticket runs on one core, as the grid ran them: two at once on
    2 cores), seconds per ticket and what that makes in tickets per hour on 2 cores."""
    own = budgets[~budgets.copied].assign(cpu=budgets.cpu.fillna("unrecorded"))
    table = (own.groupby(["family", "cpu"])
             .agg(runs=("run", "nunique"), tickets=("wall_time_s", "size"), seconds=("wall_time_s", "sum"),
                  per_ticket=("wall_time_s", "mean"))
             .reset_index())
    return pd.DataFrame({
        "family": table.family, "CPU kind": table.cpu, "runs": table.runs, "tickets": table.tickets,
        "CPU core-hours": (table.seconds / 3600).round(1), "s/ticket": table.per_ticket.round(0).astype(int),
        "tickets/h on 2 cores": (2 * 3600 / table.per_ticket).round(1)})


SURPRISE_SHARE = 0.05  # a winning ticket this much better than its dense net is a question first


def surprises(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Results to question before they are results, per (task, run): the levels where the mean winning
    ticket beats the mean dense net by more than `SURPRISE_SHARE` (of |dense|, or in classic control of the
    dense net's gain over a random policy, as `families.margin_for`), and pairs of runs whose winning
    tickets score exactly alike on every seed at a level past 1 (level 1 may be copied from a sibling
    run, where one-shot and iterative masks agree; levels with an output layer entirely pruned, where any
    two tickets are the same constant function, are left out)."""
    rows, rows_df = [], df[df.metric == metric]
    sign = 1.0 if higher_is_better else -1.0
    for (family, task, run), group in rows_df.groupby(["family", "task", "run"]):
        dense = by_seed(group, "dense").mean()
        scale = margin_for(family, dense, task) / families.get(family).margin
        if not 0 < scale < np.inf:  # a dense net at 0, or no better than a random policy: no scale to judge by
            continue
        wt = group[group.ticket == "winning"].groupby("level").value.mean()
        above = [(k, v) for k, v in wt.items() if sign * (v - dense) > SURPRISE_SHARE * scale]
        if above:
            k, v = max(above, key=lambda kv: sign * kv[1])
            rows.append({"task": task, "run": run, "question": (
                f"WT beats its dense net by more than {SURPRISE_SHARE:.0%} at level{'s' * (len(above) > 1)} "
                f"{describe_levels([a for a, _ in above])}: {v:.4g} vs {dense:.4g} at level {k} "
                f"({sign * (v - dense) / scale:+.1%}). Is the dense net "
                "undertrained, or does the ticket train longer (see what each ticket trained on, and the dense net "
                "trained as long as a ticket, or as its lineage, where those controls ran)?")})
    winning = rows_df[(rows_df.ticket == "winning") & (rows_df.level > 1) & ~rows_df.output_pruned.astype(bool)]
    for (task, _), same_net in winning.groupby(["task", "dense_net"]):  # runs that could be the same run
        by_run = {run: g.set_index(["seed", "level"]).value for run, g in same_net.groupby("run")}
        runs = sorted(by_run)
        for i, a in enumerate(runs):
            for b in runs[i + 1:]:
                same = _alike_levels(by_run[a], by_run[b])
                if same:
                    rows.append({"task": task, "run": f"{a}, {b}", "question": (
                        f"identical winning-ticket scores on every seed at level{'s' * (len(same) > 1)} "
                        f"{describe_levels(same)}: are these runs really different?")})
    return pd.DataFrame(rows, columns=["task", "run", "question"])


def _alike_levels(a: pd.Series, b: pd.Series) -> list[int]:
    """Levels at which two runs' (seed, level)-indexed scores are equal on at least MIN_SEEDS shared seeds
    that do not all score the same (a score every seed hits, a collapsed agent's floor, say, is no sign)."""
    shared = a.index.intersection(b.index)
    levels = []
    for level, pair in pd.DataFrame({"a": a[shared], "b": b[shared]}).groupby(level="level"):
        if len(pair) >= MIN_SEEDS and pair.a.nunique() > 1 and (pair.a == pair.b).all():
            levels.append(level)
    return levels


def trained_longer(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """The answer to "or does the ticket train longer?", where a `longer_by_rewind` control ran: per task
    and seed-paired, the dense net, the same dense net trained for the budget plus the rewind point (as many
    updates as a late-rewound ticket has had in all), and the late-rewound winning tickets of the main run
    at the levels where they beat the dense net most. A winning ticket that beats its dense net but not
    the longer-trained one is better for its extra training, not for its mask; a longer-trained net no
    better than the dense one says the dense net was not undertrained (the order of the batches, which
    rewinding restarts, is then what separates it from a ticket)."""
    rows, scores = [], df[df.metric == metric]
    sign = 1.0 if higher_is_better else -1.0
    controls = scores[(scores.longer_of != "") & (scores.lineage_budgets == 1)]
    for (family, task, base), control in controls.groupby(["family", "task", "longer_of"]):
        longer = by_seed(control, "dense")
        main = scores[(scores.dense_net == base) & (scores.variant == "iterative-late") & (scores.longer_of == "")
                      & ~is_control(scores)]  # not an equal-updates control, which shares the dense net
        if main.empty:
            continue
        dense = by_seed(main, "dense")  # every main run of this dense net trains the same one per seed
        wt = main[main.ticket == "winning"].groupby(["level", "seed"]).value.mean().unstack("seed")
        seeds = sorted(set(longer.index) & set(dense.index) & set(wt.columns))
        if not seeds:
            continue
        best = (sign * wt[seeds].mean(axis=1)).idxmax()
        margin = margin_for(family, dense[seeds].mean(), task)
        vs_longer = compare(wt.loc[best, seeds], longer[seeds], margin, higher_is_better)
        rows.append({
            "task": task, "seeds": len(seeds), "dense": round(dense[seeds].mean(), 4),
            "dense, trained as long as a ticket": round(longer[seeds].mean(), 4),
            "longer − dense": round((longer[seeds] - dense[seeds]).mean(), 4),
            "best mean WT (level)": f"{wt.loc[best, seeds].mean():.4g} ({best})",
            "WT − longer dense": round(sign * vs_longer.gain, 4), "p": round(vs_longer.p_value, 3),
            "WT better than the longer dense net": ("yes" if vs_longer.better else "no")
            + ("" if vs_longer.judged else " (indicative)"),
        })
    return pd.DataFrame(rows)


LINEAGE_COLUMNS = ["task", "pruned", "budgets", "level", "seeds", "dense", "dense, trained the lineage's budgets", "WT",
                   "WT − dense", "WT − longer dense", "p", "WT better than the longer dense net", "RT", "RT − longer dense"]


def lineage_trained(df: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """The answer to "or has the ticket's lineage trained longer?", where a `lineage_budgets` control ran.

    An iterative ticket at level k is pruned by the magnitudes its predecessors reached, so its mask
    carries k budgets of training on top of its own: k + 1 in all. The control trains the dense net
    (same seed, same batches) for B budgets in one run. Per task, pruning scope and B, seed-paired: the
    dense net, the control, and the iterative-late winning tickets at level B - 1. A winning ticket
    that beats its dense net but not the control has gained what more training gives, not what sparsity
    does; one that beats the control too is better than its lineage's compute buys a dense net. The random
    tickets at that level, where the run has them, are set beside it too (mean, and mean paired gap): they
    inherit the lineage's mask but none of its weights, and train one budget."""
    rows, scores = [], df[df.metric == metric]
    sign = 1.0 if higher_is_better else -1.0
    controls = scores[scores.lineage_budgets > 1]
    for (family, task, base, budgets), control in controls.groupby(["family", "task", "longer_of", "lineage_budgets"]):
        longer = by_seed(control, "dense")
        main = scores[(scores.dense_net == base) & (scores.variant == "iterative-late") & (scores.longer_of == "")
                      & ~is_control(scores)]  # not an equal-updates control, which shares the dense net
        for exclude, run in main.groupby("exclude"):
            dense, wt = by_seed(run, "dense"), by_seed(run, "winning", budgets - 1)
            seeds = sorted(set(longer.index) & set(dense.index) & set(wt.index))
            if not seeds:
                continue
            rt = by_seed(run, "random", budgets - 1).reindex(seeds)  # NaN where the run has no random tickets
            vs_longer = compare(wt[seeds], longer[seeds], margin_for(family, dense[seeds].mean(), task), higher_is_better)
            rows.append({
                "task": task, "pruned": exclude and f"all but {exclude}" or "everything", "budgets": budgets,
                "level": budgets - 1, "seeds": len(seeds), "dense": round(dense[seeds].mean(), 4),
                "dense, trained the lineage's budgets": round(longer[seeds].mean(), 4), "WT": round(wt[seeds].mean(), 4),
                "WT − dense": round(sign * (wt[seeds] - dense[seeds]).mean(), 4),
                "WT − longer dense": round(sign * vs_longer.gain, 4), "p": round(vs_longer.p_value, 3),
                "WT better than the longer dense net": ("yes" if vs_longer.better else "no")
                + ("" if vs_longer.judged else " (indicative)"),
                "RT": round(rt.mean(), 4), "RT − longer dense": round(sign * (rt - longer[seeds]).mean(), 4),
            })
    return pd.DataFrame(rows, columns=LINEAGE_COLUMNS)


def wt_rt_estimates(df: pd.DataFrame, metric: str, higher_is_better: bool = True, against: str = "random") -> pd.DataFrame:
    """Per (task, run, level): the WT's paired gain over its RT (`against="dense"`: over its seed's dense net),
    estimated (`verdicts.estimate`): the mean with its interval, the margin and the outcome, for the forest plots of
    the per-level claims. Every judged level is shown; a claim about several levels reads them together (see the
    scorecard's rules for its correction)."""
    rows = []
    for (family, task, run), group in df[df.metric == metric].groupby(["family", "task", "run"]):
        dense = by_seed(group, "dense")
        if not len(dense):
            continue
        margin = margin_for(family, dense.mean(), task)
        fraction = group.groupby("level").fraction_pruned.mean()
        for level in judged_levels(group):
            other = dense if against == "dense" else by_seed(group, "random", level)
            e = estimate(by_seed(group, "winning", level), other, margin, higher_is_better)
            if e.seeds:
                rows.append({"task": task, "run": run, "level": level, "fraction_pruned": fraction[level], "seeds": e.seeds,
                             "gain": e.gain, "low": e.low, "high": e.high, "margin": margin, "outcome": e.outcome})
    return pd.DataFrame(rows, columns=["task", "run", "level", "fraction_pruned", "seeds", "gain", "low", "high",
                                       "margin", "outcome"])
