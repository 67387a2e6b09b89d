"""Each claim of Yu et al. (ICLR 2020) next to what our committed results show.

A claim is checked per part (an environment, a game, a comparison) by `lthlib.verdicts`' rule. A part
is *judged* only with at least 3 seeds, at the paper's rewinding proportion, on the paper's model and
data; otherwise its direction is *indicative*, and its evidence says why. Claims about a model or data
set that did not run here are *not testable here*; a stand-in's numbers appear in the evidence, labelled.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lthlib.analysis import by_seed, describe_levels, judged_levels, lineage_trained, wt_rt_estimates
from lthlib.claims import (ATARI_LEARNED, DENSE_LEARNED, NOT_TESTABLE, STAND_IN, Part, Results, levels_won, missing,
                           different_dense_nets, direction_of, paired_levels, paired_seeds, paired_wt_means, part,
                           some_levels_won, status_of, variant_helps, with_both_tickets, within_margin, wt_beats_rt)
from lthlib.verdicts import DIRECTION, INCONCLUSIVE, compare, margin_for

CLASSIC_ENVS = ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")


# --- classic control ---------------------------------------------------------------------------------

def _classic_wt_beats_rt(r: Results) -> list[Part]:
    return [wt_beats_rt(r, "classic_control", env) for env in CLASSIC_ENVS]


def _classic_ablation(better: str, worse: str, label: str) -> Callable[[Results], list[Part]]:
    return lambda r: [variant_helps(r, "classic_control", env, better, worse, label) for env in CLASSIC_ENVS]


# --- Atari -------------------------------------------------------------------------------------------

def _per_game(games: tuple[str, ...], check, needs: str = ATARI_LEARNED) -> Callable[[Results], list[Part]]:
    def parts(r: Results) -> list[Part]:
        out = []
        for game in games:
            rows = r.run("atari", game, "iterative-late")
            levels = judged_levels(rows)
            gate = r.atari_gate(game, needs)
            if not levels:
                out.append(missing(game, "iterative-late run"))
            elif gate:
                out.append(Part(game, None, False, f"{game}: {gate}"))
            else:
                out.append(check(game, rows, levels))
        return out
    return parts


def _wt_helps(game, rows, levels) -> Part:
    wins = levels_won(rows, ("winning", rows), ("random", rows), levels)
    if game in ("Breakout", "Centipede"):  # "slightly": better on average over the levels
        kept = rows[rows.level.isin(levels)]
        result = compare(by_seed(kept, "winning"), by_seed(kept, "random"), 0.0)
        return part(game, [rows], result.better, f"mean over levels WT vs RT {result}; WT beats RT at levels "
                     f"{describe_levels(wins)} of {describe_levels(levels)}")
    return part(game, [rows], len(wins) >= len(levels) / 2,
                 f"WT beats RT at levels {describe_levels(wins)} of {describe_levels(levels)}")


def _dense_as_level(rows: pd.DataFrame, levels: list[int]) -> pd.DataFrame:
    """The dense net's rows copied to every level as ticket "dense@", to compare tickets with it by `_levels_won`."""
    dense = rows[rows.ticket == "dense"]
    return pd.concat([dense.assign(level=k, ticket="dense@") for k in levels])


def _wt_above_dense(game, rows, levels) -> Part:
    above = some_levels_won(rows, ("winning", rows), ("dense@", _dense_as_level(rows, levels)), levels)
    wt = rows[(rows.ticket == "winning") & rows.level.isin(levels)].groupby("level").value.mean()
    return part(game, [rows], bool(above), f"WT above the dense {by_seed(rows, 'dense').mean():.1f} at levels "
                 f"{describe_levels(above)} of {describe_levels(levels)}, Holm-corrected (best mean WT "
                 f"{wt.max():.1f}, level {wt.idxmax()})")


def _krull_even(game, rows, levels) -> Part:
    """"No difference" by an equivalence test at each level (TOST, margin 10% of the dense score), not by
    point estimates: a level whose interval reaches past ±margin has not shown the two alike."""
    dense = by_seed(rows, "dense").mean()
    tests = {k: within_margin(by_seed(rows, "winning", k), by_seed(rows, "random", k), 0.1 * abs(dense)) for k in levels}
    close = [k for k, (holds, _) in tests.items() if holds]
    widest = max(tests.values(), key=lambda t: t[1].high - t[1].low)[1]
    last = levels[-1]
    wt, rt = by_seed(rows, "winning", last).mean(), by_seed(rows, "random", last).mean()
    holds = len(close) >= 0.8 * len(levels) and min(wt, rt) >= 0.8 * dense
    # "no": some level's WT and RT differ beyond the margin either way; else the intervals are only too wide
    differ = any(e.low > e.margin or e.high < -e.margin for _, e in tests.values())
    return part(game, [rows], holds, unresolved=not differ and min(wt, rt) >= 0.8 * dense, text=f"WT and RT equivalent within 10% of the dense {dense:.1f} (TOST) at "
                 f"{len(close)} of {len(levels)} levels (levels {describe_levels(close)}); the widest WT - RT interval "
                 f"{widest.interval()}; at level {last}: WT {wt:.1f}, RT {rt:.1f}")


def _kangaroo(r: Results) -> list[Part]:
    rows, to_beat = r.run("atari", "Kangaroo", "iterative-late"), r.to_beat.get("Kangaroo")
    if rows.empty or to_beat is None:
        return [missing("Kangaroo", "iterative-late run with its random-policy score")]
    dense = by_seed(rows, "dense").mean()
    best = rows[(rows.ticket == "winning") & rows.level.isin(judged_levels(rows))].groupby("level").value.mean().max()
    return [part("Kangaroo", [rows], dense <= to_beat < best,
                  f"dense {dense:.1f}, best mean WT {best:.1f}, a random policy's score to beat {to_beat:.1f}")]


def _rt_early(game, rows, levels) -> Part:
    first = levels[:2]
    dense = by_seed(rows, "dense").mean()
    rt = [by_seed(rows, "random", k).mean() for k in first]
    text = f"RT at levels {describe_levels(first)}: {', '.join(f'{v:.1f}' for v in rt)} vs dense {dense:.1f}"
    if game in ("Breakout", "SpaceInvaders"):  # "drops almost at once"
        return part(game, [rows], rt[0] < 0.8 * dense, text)
    early = some_levels_won(rows, ("random", rows), ("dense@", _dense_as_level(rows, first)), first)
    return part(game, [rows], bool(early), f"{text}; above it at levels {describe_levels(early)}, Holm-corrected")


def _atari_ablations(r: Results) -> list[Part]:
    parts = []
    for game in ("Assault", "Breakout", "Seaquest"):
        gate = r.atari_gate(game, ATARI_LEARNED)
        for worse, label in (("iterative-reset", "late rewinding"), ("oneshot-late", "iterative pruning")):
            if gate:
                parts.append(Part(f"{game}, {label}", None, False, f"{game}, {label}: {gate}"))
            else:
                parts.append(variant_helps(r, "atari", game, "iterative-late", worse, label))
    return parts


# --- LSTM --------------------------------------------------------------------------------------------

def _lstm_runs(r: Results, *variants: str) -> list[pd.DataFrame]:
    return [r.run("lstm_lm", "WikiText-2", v) for v in variants]


def _lstm_wt_beats_rt(r: Results) -> list[Part]:
    (rows,) = _lstm_runs(r, "iterative-late")
    levels = with_both_tickets(rows, judged_levels(rows))
    if not levels:
        return [missing("WikiText-2", "iterative-late run")]
    wins = levels_won(rows, ("winning", rows), ("random", rows), levels)
    dense = by_seed(rows, "dense").mean()
    fraction = rows.groupby("level").fraction_pruned.mean()
    near, rt_near = (_near_dense(rows, ticket, dense) for ticket in ("winning", "random"))
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
    return [part("WT vs RT", [rows], wins == levels, f"WT beats RT at levels {describe_levels(wins)} of "
                 f"{describe_levels(levels)}" + (f"; at the others, each interval includes the margin "
                                                 f"({', '.join(dict.fromkeys(failing))})" if failing and unresolved else ""),
                 seeds=seeds, unresolved=unresolved), near_part]


def _near_dense(rows: pd.DataFrame, ticket: str, dense: float) -> int:
    """The last level up to which every mean `ticket` is within 2% of the dense log perplexity."""
    means, near = rows[rows.ticket == ticket].groupby("level").value.mean(), 0
    while near + 1 in means.index and means[near + 1] <= 1.02 * dense:
        near += 1
    return near


def _lstm_no_rewinding(r: Results) -> list[Part]:
    late, reset = _lstm_runs(r, "iterative-late", "iterative-reset")
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
    return [part("WikiText-2", [late, reset], holds, f"WT without late rewinding worse at intermediate levels "
                  f"{describe_levels(worse)} of {describe_levels(middle)} (Holm-corrected); at the ends (levels "
                  f"{describe_levels(ends)}): {describe_levels(worse_ends)}",
                 seeds=paired_seeds(late, ("winning", late), ("winning", reset), levels))]


def _lstm_oneshot_collapses(r: Results) -> list[Part]:
    (rows,) = _lstm_runs(r, "oneshot-reset")
    fraction = rows.groupby("level").fraction_pruned.mean()
    beyond = [k for k in judged_levels(rows) if fraction[k] > 0.8]
    if not beyond:
        return [missing("WikiText-2", "oneshot-reset run past 80% pruned")]
    worse = levels_won(rows, ("random", rows), ("winning", rows), beyond)
    return [part("WikiText-2", [rows], worse == beyond, f"one-shot WT worse than its RT at {len(worse)} of the "
                 f"{len(beyond)} levels past 80% pruned ({describe_levels(beyond)})",
                 seeds=paired_seeds(rows, ("random", rows), ("winning", rows), beyond))]


def _lstm_converge(r: Results) -> list[Part]:
    late, reset = _lstm_runs(r, "iterative-late", "iterative-reset")
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
    return [part("WikiText-2", [late, reset], all(holds for holds, _ in tests), unresolved=not differ, text=f"late and reset WTs equivalent "
                  f"within {margin:.3f} nats (TOST) at {sum(holds for holds, _ in tests)} of the {len(past)} levels past "
                  f"91% pruned; the widest interval {widest.interval()}", seeds=min(e.seeds for _, e in tests))]


# --- Transformer ---------------------------------------------------------------------------------------

def _stand_in_dense(r: Results) -> str:
    dense = by_seed(r.run("transformer_mt", "Multi30k", "iterative-late"), "dense")
    return f"{STAND_IN}: dense BLEU {dense.mean():.1f} over {len(dense)} seed(s)" if len(dense) else "no stand-in run yet"


def _mt_dense(r: Results) -> tuple[str, list[Part]]:
    """Judged only on a run of the paper's preset (Base) on WMT'14; Big's number needs its own run."""
    wmt = r.df[(r.df.family == "transformer_mt") & (r.df.task == "WMT14") & (r.df.metric == "tokenized_bleu")]
    base = wmt[wmt.paper_differences == ""]
    if base.empty:
        return NOT_TESTABLE, [Part("WMT'14", None, False, "needs Base and Big on WMT'14 (the paper preset, GPUs); "
                                   + _stand_in_dense(r))]
    dense = by_seed(base, "dense").mean()
    return "", [part("Base", [base], dense >= 27.6 - 1.0, f"dense tokenized BLEU {dense:.1f} vs the paper's 27.6 "
                      "(within 1 BLEU counts)"), missing("Big", "WMT'14 run of Transformer Big")]


def _mt_wt_beats_rt(r: Results) -> list[Part]:
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
                           f"{wt['oneshot'].mean():.2f} ({result})", stand_in=True))
    else:
        parts.append(missing("Multi30k, iterative more", "iterative-reset and oneshot-late runs"))
    return parts


def _mt_keeps_bleu(r: Results) -> tuple[str, list[Part]]:
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


def _mt_embeddings_whole(r: Results) -> list[Part]:
    every, kept = (r.run("transformer_mt", "Multi30k", "iterative-late", e) for e in ("", None))
    kept = kept[kept.exclude != ""]
    levels = sorted(set(judged_levels(every)) & set(judged_levels(kept)))
    if len(levels) < 2:
        return [missing("Multi30k", "iterative-late runs of both pruning scopes")]
    last = levels[-1]
    drop = {name: by_seed(rows, "dense") - by_seed(rows, "random", last) for name, rows in (("all", every), ("kept", kept))}
    faster = compare(drop["kept"], drop["all"], 0.0)
    wt = kept[kept.ticket.isin(["winning", "dense"]) & kept.level.isin([0, *levels])].groupby("level")
    corr = wt.fraction_pruned.mean().corr(wt.value.mean())  # a decline: negative, and close to a line
    return [part("RT falls faster", [every, kept], faster.better, f"RT BLEU drop from the dense net to level {last}: "
                  f"embeddings kept whole {drop['kept'].mean():.1f}, everything pruned {drop['all'].mean():.1f} ({faster})",
                  stand_in=True),
            part("WT declines roughly linearly", [kept], corr < 0 and corr**2 >= 0.8, f"mean WT BLEU (embeddings kept, "
                  f"dense net as level 0) against fraction pruned: {'falls' if corr < 0 else 'rises'} along a straight "
                  f"line with R² {corr**2:.2f}", stand_in=True)]


CLAIMS = [
    ("Classic control", "Winning tickets outperform random tickets on CartPole-v0, Acrobot-v1 and LunarLander", _classic_wt_beats_rt),
    ("Classic control", "Late rewinding improves winning tickets (ablation)",
     _classic_ablation("iterative-late", "iterative-reset", "late rewinding")),
    ("Classic control", "Iterative pruning improves winning tickets over one-shot (ablation)",
     _classic_ablation("iterative-late", "oneshot-late", "iterative pruning")),
    ("Atari", "WT helps a lot on Assault, Seaquest, Berzerk; slightly on Breakout, Centipede",
     _per_game(("Assault", "Seaquest", "Berzerk", "Breakout", "Centipede"), _wt_helps)),
    ("Atari", "WT raises the reward above the dense net on Berzerk and Qbert",
     _per_game(("Berzerk", "Qbert"), _wt_above_dense, DENSE_LEARNED)),
    ("Atari", "Krull: no WT/RT difference, both fine even at extreme pruning", _per_game(("Krull",), _krull_even, DENSE_LEARNED)),
    ("Atari", "Kangaroo: the dense net fails to learn, yet WTs learn something", _kangaroo),
    ("Atari", "Breakout and SpaceInvaders RT drop almost at once; Berzerk, Centipede, Krull RT improve early",
     _per_game(("Breakout", "SpaceInvaders", "Berzerk", "Centipede", "Krull"), _rt_early, DENSE_LEARNED)),
    ("Atari", "Late rewinding and iterative pruning both help WTs on Assault, Breakout, Seaquest", _atari_ablations),
    ("LSTM (WikiText-2)", "WT beats RT at every level and stays near the dense net up to ~90% pruned", _lstm_wt_beats_rt),
    ("LSTM (WikiText-2)", "Without late rewinding only intermediate levels suffer", _lstm_no_rewinding),
    ("LSTM (WikiText-2)", "One-shot pruning collapses, worse than RT beyond 80% pruned", _lstm_oneshot_collapses),
    ("LSTM (WikiText-2)", "Iterative with and without late rewinding converge past ~91% pruned", _lstm_converge),
    ("Transformer", "Dense BLEU: Base 27.6, Big 29.3 (WMT'14 newstest2014, tokenized BLEU)", _mt_dense),
    ("Transformer", "WT beats RT; iterative pruning and late rewinding both help, iterative more", _mt_wt_beats_rt),
    ("Transformer", "Big at 67% pruned keeps 99% of its BLEU (28.9 vs 29.2, WMT'14)", _mt_keeps_bleu),
    ("Transformer", "Embeddings kept whole: RT falls off much faster; WT declines roughly linearly", _mt_embeddings_whole),
]


RULES = {
    "Every family": [
        "A claim is judged part by part (an environment, a game, a comparison). A part is judged only with at least "
        "3 seeds, from runs that rewind at the paper's share of their budget (1/20 classic control, 1/25 Atari, "
        "1/10 LSTM, 2% Transformer), on the model and data the claim is about; otherwise it is indicative, and says why.",
        "Shown: every part judged and agreeing. Partly shown: some judged parts agree (others disagree, are "
        "indicative or are not judged). Not shown: the judged parts disagree. Indicative: no part could be judged.",
        "The main run of a task and variant is its largest; control runs (equal updates) are kept apart.",
    ],
    "Classic control": [
        "WT beats RT: in each environment (iterative pruning, late rewinding) the WT beats its RT at a third of the "
        "judged levels or more.",
        "Ablations: per seed, the mean WT reward over the levels both variants judged; the default variant must beat "
        "the ablation under the rule, in each environment.",
    ],
    "Atari": [
        "A game's tickets are judged only where its agents (the dense net, or its tickets on average) clearly beat a "
        "random policy (by two standard errors of the difference of two 16-game means); claims measured against the "
        "dense net need the dense net itself above that bar.",
        "Helps a lot: WT beats RT at half the judged levels or more; slightly (Breakout, Centipede): the mean over "
        "levels, per seed, with no margin. Above the dense net: WT beats the dense net at one level or more, "
        "Holm-corrected for the levels tried. Krull: WT and RT equivalent within 10% of the dense score by an equivalence "
        "test (TOST at 5%: the 90% interval of the paired WT − RT inside ±10%) at 80% of the levels, and both at 80% of "
        "the dense score or more at the last level. RT drops at once: RT at level 1 "
        "below 80% of the dense score; improves early: RT beats the dense net at level 1 or 2, Holm-corrected for the "
        "two. Kangaroo: the dense net at or below the random policy's bar, the best WT level above it. Ablations as in "
        "classic control.",
    ],
    "LSTM (WikiText-2)": [
        "WT beats RT at every judged level (margin 1% of the dense log perplexity), and the mean WT stays within 2% "
        "of the dense log perplexity up to 85% pruned or more.",
        "Without late rewinding: late beats reset at some level between the first and the last (Holm-corrected for "
        "the levels between), and at neither of those two (each tested alone).",
        "One-shot collapses: the one-shot (reset) RT beats its WT at every judged level past 80% pruned.",
        "Convergence: past 91% pruned, late and reset WTs equivalent within 1% of the dense log perplexity by an "
        "equivalence test (TOST at 5%) at every level.",
    ],
    "Transformer": [
        "Claims about Base or Big on WMT'14, or their numbers, are not testable here unless those models ran on "
        "WMT'14 (dense: tokenized BLEU within 1 of the paper's). The small Multi30k Transformer is a stand-in: its "
        "parts are indicative, whatever their seeds.",
        "WT beats RT at half the judged levels or more; late rewinding and iterative pruning help as in classic "
        "control (margin 2% of the dense BLEU); iterative more: the WT without late rewinding beats the one-shot WT.",
        "Embeddings kept whole: the RT's BLEU drop from the dense net to the last level is larger than with "
        "everything pruned (paired over seeds, no margin); the WT's BLEU against the fraction pruned (the dense net "
        "as level 0) falls along a line with R² of 0.8 or more (a rising line does not count).",
    ],
}


def scorecard(df: pd.DataFrame, random_policy: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per claim of the paper: domain, claim, status, leans (the parts the evidence is for and
    against, judged or indicative), scale (the preset its evidence comes from), our evidence (with numbers).

    `random_policy`: {Atari game: the score its agents must beat to have learned}, e.g. each
    `atari.random_policies` record's `score_to_beat`; a game whose agents (the dense net, or its tickets
    on average) do not beat it is not judged, nor is a claim against a dense net below it.
    """
    results, rows = Results(df, random_policy), []
    for domain, claim, check in CLAIMS:
        found = check(results)
        status, parts = found if isinstance(found, tuple) else ("", found)
        scales: dict[str, list[str]] = {}
        for p in parts:
            if p.scale:
                scales.setdefault(p.scale, []).append(p.name.split(",")[0])
        scale = "; ".join(f"{', '.join(dict.fromkeys(names))}: {text}" for text, names in scales.items())
        rows.append({"domain": domain, "claim": claim, "status": status or status_of(parts),
                     "leans": direction_of(parts), "scale": scale or "–",
                     "our evidence": "; ".join(p.text for p in parts)})
    return pd.DataFrame(rows)
