"""The parts of the paper's NLP claims (the LSTM on WikiText-2, the Transformer), judged on the committed results."""

from __future__ import annotations

import pandas as pd

from lthlib.spans import at_levels
from lthlib.analysis import by_seed, describe_levels, judged_levels, lineage_trained, wt_rt_estimates
from lthlib.claims import (NOT_TESTABLE, STAND_IN, Part, Results, different_dense_nets, equivalence_needs,
                           level_estimates, level_margin, levels_won, missing, paired_levels, paired_seeds,
                           paired_wt_means, part, some_levels_won, strongest, variant_helps, weakest,
                           with_both_tickets, within_margin, wt_beats_rt)
from lthlib.families import margin_for
from lthlib.verdicts import DIRECTION, INCONCLUSIVE, compare, estimate

# --- LSTM --------------------------------------------------------------------------------------------

def lstm_runs(r: Results, *variants: str) -> list[pd.DataFrame]:
    return [r.run("lstm_lm", "WikiText-2", v) for v in variants]


def lstm_wt_beats_rt(r: Results) -> list[Part]:
    (rows,) = lstm_runs(r, "iterative-late")
    levels = with_both_tickets(rows, judged_levels(rows))
    if not levels:
        return [missing("WikiText-2", "iterative-late run")]
    wins = levels_won(rows, ("winning", rows), ("random", rows), levels)
    dense = by_seed(rows, "dense").mean()
    fraction = rows.groupby("level").fraction_pruned.mean()
    near, rt_near = (near_dense(rows, ticket, dense) for ticket in ("winning", "random"))
    seeds = paired_seeds(rows, ("winning", rows), ("random", rows), levels)
    reached = fraction.get(near, 0.0)
    # the seeds behind every mean up to `near` (a run part-way through a seed has fewer at its last levels)
    wt_seeds = rows[(rows.ticket == "winning") & rows.level.between(1, near)].groupby("level").seed.nunique()
    near_seeds = int(wt_seeds.min()) if near else int(rows.seed.nunique())
    near_text = f"mean WT within 2% of the dense {dense:.3f} up to {reached:.0%} pruned (level {near})"
    if rt_near >= near:  # the random tickets stay as near: the part cannot tell a winning ticket from sparsity
        near_part = Part("WT vs dense", None, False, f"WT vs dense: {near_text}, but so does the mean RT, up to "
                         f"{fraction.get(rt_near, 0.0):.0%} pruned (level {rt_near}): this part cannot discriminate, "
                         "and is not counted")
    else:
        near_part = part("WT vs dense", [rows], reached >= 0.85, near_text, seeds=near_seeds)
    # "at every level": a level that fails is unresolved, not a no, where its interval still includes the margin
    per_level = wt_rt_estimates(rows, "test_log_ppl", higher_is_better=False).set_index("level").outcome
    failing = [per_level.get(k) for k in levels if k not in wins]
    unresolved = all(outcome in (INCONCLUSIVE, DIRECTION) for outcome in failing)
    per_level = level_estimates(("winning", rows), ("random", rows), levels, level_margin(rows), higher_is_better=False)
    level, effect = weakest(per_level)
    others = f"; at the others, each interval includes the margin ({', '.join(dict.fromkeys(failing))})"
    return [part("WT vs RT", [rows], wins == levels, f"WT beats RT {at_levels(wins, levels)}"
                 + (others if failing and unresolved else ""),
                 seeds=seeds, unresolved=unresolved, effect=effect,
                 at=f"RT - WT at level {level}, the weakest (the claim needs every level)", levels=per_level), near_part]


def near_dense(rows: pd.DataFrame, ticket: str, dense: float) -> int:
    """The last level up to which every mean `ticket` is within 2% of the dense log perplexity."""
    means, near = rows[rows.ticket == ticket].groupby("level").value.mean(), 0
    while near + 1 in means.index and means[near + 1] <= 1.02 * dense:
        near += 1
    return near


def lstm_no_rewinding(r: Results) -> list[Part]:
    late, reset = lstm_runs(r, "iterative-late", "iterative-reset")
    levels = sorted(set(paired_levels(late, reset).level))  # those a seed has in both runs
    if not levels:
        return [missing("WikiText-2", "iterative-late and iterative-reset runs")]
    if unpaired := different_dense_nets("WikiText-2", late, reset):
        return [unpaired]
    # "only intermediate": worse at some level between the ends (Holm-corrected), and at neither end, each end
    # tested alone, so that an end's doubt counts against the claim
    ends, middle = sorted({levels[0], levels[-1]}), levels[1:-1]
    worse = some_levels_won(late, ("winning", late), ("winning", reset), middle)
    worse_ends = levels_won(late, ("winning", late), ("winning", reset), ends)
    holds = bool(worse) and not worse_ends
    margin = level_margin(late)
    per_level = level_estimates(("winning", late), ("winning", reset), middle, margin, False, tried=len(middle))
    level, effect = strongest(per_level) if middle else (None, None)
    ends_levels = level_estimates(("winning", late), ("winning", reset), ends, margin, False)
    return [part("WikiText-2", [late, reset], holds, f"WT without late rewinding worse at intermediate levels "
                  f"{describe_levels(worse)} of {describe_levels(middle)} (Holm-corrected); at the ends (levels "
                  f"{describe_levels(ends)}): {describe_levels(worse_ends)}",
                 seeds=paired_seeds(late, ("winning", late), ("winning", reset), levels), effect=effect,
                 at=f"reset - late at level {level}, the best of the {len(middle)} intermediate levels tried",
                 levels=pd.concat([per_level, ends_levels]).sort_values("level"))]


def lstm_oneshot_collapses(r: Results) -> list[Part]:
    (rows,) = lstm_runs(r, "oneshot-reset")
    fraction = rows.groupby("level").fraction_pruned.mean()
    beyond = [k for k in judged_levels(rows) if fraction[k] > 0.8]
    if not beyond:
        return [missing("WikiText-2", "oneshot-reset run past 80% pruned")]
    worse = levels_won(rows, ("random", rows), ("winning", rows), beyond)
    per_level = level_estimates(("random", rows), ("winning", rows), beyond, level_margin(rows), higher_is_better=False)
    level, effect = weakest(per_level)
    return [part("WikiText-2", [rows], worse == beyond, f"one-shot WT worse than its RT at {len(worse)} of the "
                 f"{len(beyond)} levels past 80% pruned ({describe_levels(beyond)})",
                 seeds=paired_seeds(rows, ("random", rows), ("winning", rows), beyond), effect=effect,
                 at=f"WT - RT at level {level}, the weakest (the claim needs every level)", levels=per_level)]


def lstm_converge(r: Results) -> list[Part]:
    late, reset = lstm_runs(r, "iterative-late", "iterative-reset")
    fraction = late.groupby("level").fraction_pruned.mean()
    past = [k for k in sorted(set(paired_levels(late, reset).level)) if fraction[k] > 0.91]
    if not past:
        return [missing("WikiText-2", "seed with iterative-late and iterative-reset levels past 91% pruned")]
    if unpaired := different_dense_nets("WikiText-2", late, reset):
        return [unpaired]
    margin = margin_for("lstm_lm", by_seed(late, "dense").mean())
    tests = [within_margin(by_seed(late, "winning", k), by_seed(reset, "winning", k), margin) for k in past]
    widest = max((effect for _, effect in tests), key=lambda e: max(abs(e.low), abs(e.high)))
    differ = any(e.low > margin or e.high < -margin for _, e in tests)  # "no": a level apart beyond the margin
    per_level = level_estimates(("winning", late), ("winning", reset), past, margin, higher_is_better=False)
    return [part("WikiText-2", [late, reset], all(holds for holds, _ in tests), unresolved=not differ,
                 text=f"late and reset WTs equivalent within {margin:.3f} nats (TOST) at {sum(holds for holds, _ in tests)} "
                      f"of the {len(past)} levels past 91% pruned; the widest interval {widest.interval()}{equivalence_needs(widest)}",
                 seeds=min(e.seeds for _, e in tests), levels=per_level)]


# --- Transformer ---------------------------------------------------------------------------------------

def stand_in_dense(r: Results) -> str:
    dense = by_seed(r.run("transformer_mt", "Multi30k", "iterative-late"), "dense")
    return f"{STAND_IN}: dense BLEU {dense.mean():.1f} over {len(dense)} seed(s)" if len(dense) else "no stand-in run yet"


def mt_dense(r: Results) -> tuple[str, list[Part]]:
    """Judged only on a run of the paper's preset (Base) on WMT'14; Big's number needs its own run."""
    wmt = r.df[(r.df.family == "transformer_mt") & (r.df.task == "WMT14") & (r.df.metric == "tokenized_bleu")]
    base = wmt[wmt.paper_differences == ""]
    if base.empty:
        return NOT_TESTABLE, [Part("WMT'14", None, False, "needs Base and Big on WMT'14 (the paper preset, GPUs); "
                                   + stand_in_dense(r))]
    dense = by_seed(base, "dense").mean()
    return "", [part("Base", [base], dense >= 27.6 - 1.0, f"dense tokenized BLEU {dense:.1f} vs the paper's 27.6 "
                      "(within 1 BLEU counts)"), missing("Big", "WMT'14 run of Transformer Big")]


def mt_wt_beats_rt(r: Results) -> list[Part]:
    everything = dict(family="transformer_mt", task="Multi30k", stand_in=True)
    parts = [wt_beats_rt(r, exclude="", share=1 / 2, **everything),
             variant_helps(r, better="iterative-late", worse="iterative-reset", label="late rewinding", **everything),
             variant_helps(r, better="iterative-late", worse="oneshot-late", label="iterative pruning", **everything)]
    reset, oneshot = r.run("transformer_mt", "Multi30k", "iterative-reset"), r.run("transformer_mt", "Multi30k", "oneshot-late")
    main = r.run("transformer_mt", "Multi30k", "iterative-late", "")
    levels = sorted(set(judged_levels(main)) & set(judged_levels(reset)) & set(judged_levels(oneshot)))
    pairs = paired_levels(reset, oneshot, levels)
    if len(pairs) and (unpaired := different_dense_nets("Multi30k, iterative more", reset, oneshot)):
        parts.append(unpaired)
    elif len(pairs):  # "iterative more": pruning one-shot costs more BLEU than rewinding to the initial weights
        wt = dict(zip(("reset", "oneshot"), paired_wt_means(reset, oneshot, pairs)))
        result = compare(wt["reset"], wt["oneshot"], 0.0)
        parts.append(part("Multi30k, iterative more", [main, reset, oneshot], result.better,
                           f"mean WT BLEU without late rewinding {wt['reset'].mean():.2f} vs one-shot "
                           f"{wt['oneshot'].mean():.2f} ({result})", stand_in=True,
                          effect=estimate(wt["reset"], wt["oneshot"], 0.0), at="each seed's mean over the paired levels"))
    else:
        parts.append(missing("Multi30k, iterative more", "iterative-reset and oneshot-late runs"))
    return parts


def mt_keeps_bleu(r: Results) -> tuple[str, list[Part]]:
    rows = r.run("transformer_mt", "Multi30k", "iterative-late", "")
    fraction = rows.groupby("level").fraction_pruned.mean()
    at_67 = [k for k in fraction.index if abs(fraction[k] - 0.672) < 0.01]
    text = "needs Transformer Big on WMT'14 (the paper preset, GPUs)"
    if at_67:
        wt, dense = by_seed(rows, "winning", at_67[0]).mean(), by_seed(rows, "dense").mean()
        text += f"; {STAND_IN}: at 67% pruned WT BLEU {wt:.1f} vs dense {dense:.1f} ({wt / dense:.1%})"
    for _, row in lineage_trained(pd.concat([rows, r.controls]), "bleu").query("pruned == 'everything'").iterrows():
        longer = row["dense, trained the lineage's budgets"]
        text += (f"; its dense net is undertrained: trained on for as many updates as the level-{row.level} WT's "
                 f"lineage, it scores {longer:.1f} against that WT's {row.WT:.1f} ({row.seeds} seed(s))")
    return NOT_TESTABLE, [Part("Big", None, False, text)]


def mt_embeddings_whole(r: Results) -> list[Part]:
    every, kept = (r.run("transformer_mt", "Multi30k", "iterative-late", e) for e in ("", None))
    kept = kept[kept.exclude != ""]
    levels = sorted(set(judged_levels(every)) & set(judged_levels(kept)))
    if len(levels) < 2:
        return [missing("Multi30k", "iterative-late runs of both pruning scopes")]
    last = levels[-1]
    drop = {name: by_seed(rows, "dense") - by_seed(rows, "random", last) for name, rows in (("all", every), ("kept", kept))}
    faster, effect = compare(drop["kept"], drop["all"], 0.0), estimate(drop["kept"], drop["all"], 0.0)
    wt = kept[kept.ticket.isin(["winning", "dense"]) & kept.level.isin([0, *levels])].groupby("level")
    corr = wt.fraction_pruned.mean().corr(wt.value.mean())  # a decline: negative, and close to a line
    return [part("RT falls faster", [every, kept], faster.better, f"RT BLEU drop from the dense net to level {last}: "
                  f"embeddings kept whole {drop['kept'].mean():.1f}, everything pruned {drop['all'].mean():.1f} ({faster})",
                  stand_in=True, effect=effect, at=f"the RT's drop to level {last}, kept whole - everything pruned"),
            part("WT declines roughly linearly", [kept], corr < 0 and corr**2 >= 0.8, f"mean WT BLEU (embeddings kept, "
                  f"dense net as level 0) against fraction pruned: {'falls' if corr < 0 else 'rises'} along a straight "
                  f"line with R² {corr**2:.2f}", stand_in=True)]


