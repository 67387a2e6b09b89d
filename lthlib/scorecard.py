"""Each claim of Yu et al. (ICLR 2020) next to what our committed results show.

A claim is checked per part (an environment, a game, a comparison) by `lthlib.verdicts`' rule. A part
is *judged* only with at least 3 seeds, at the paper's rewinding proportion, on the paper's model and
data; otherwise its direction is *indicative*, and its evidence says why. Claims about a model or data
set that did not run here are *not testable here*; a stand-in's numbers appear in the evidence, labelled.
The parts are judged in `lthlib.claims_rl` and `lthlib.claims_nlp`.
"""

from __future__ import annotations

import pandas as pd

from lthlib.claims import DENSE_LEARNED, STAND_IN, STATUSES, Results, direction_of, status_of
from lthlib.claims_nlp import (lstm_converge, lstm_no_rewinding, lstm_oneshot_collapses, lstm_wt_beats_rt,
                               mt_dense, mt_embeddings_whole, mt_keeps_bleu, mt_wt_beats_rt)
from lthlib.claims_rl import (atari_ablations, classic_ablation, classic_wt_beats_rt, kangaroo, krull_even,
                              per_game, rt_early, wt_above_dense, wt_helps)
from lthlib.verdicts import MIN_SEEDS


EACH_LEVEL, MEAN, EVERY, HOLM = (
    "each level alone at 5%; the claim counts them (a share, not one lucky level): no correction",
    "one test: each seed's mean over the levels", "every level must pass on its own: no correction needed",
    "Holm over the levels tried; its estimate at the best, Bonferroni-widened")
CLAIMS = [  # (domain, claim, its parts, how its levels are corrected)
    ("Classic control", "Winning tickets outperform random tickets on CartPole-v0, Acrobot-v1 and LunarLander",
     classic_wt_beats_rt, EACH_LEVEL),
    ("Classic control", "Late rewinding improves winning tickets (ablation)",
     classic_ablation("iterative-late", "iterative-reset", "late rewinding"), MEAN),
    ("Classic control", "Iterative pruning improves winning tickets over one-shot (ablation)",
     classic_ablation("iterative-late", "oneshot-late", "iterative pruning"), MEAN),
    ("Atari", "WT helps a lot on Assault, Seaquest, Berzerk; slightly on Breakout, Centipede",
     per_game(("Assault", "Seaquest", "Berzerk", "Breakout", "Centipede"), wt_helps),
     f"a lot: {EACH_LEVEL}; slightly: {MEAN}"),
    ("Atari", "WT raises the reward above the dense net on Berzerk and Qbert",
     per_game(("Berzerk", "Qbert"), wt_above_dense, DENSE_LEARNED), HOLM),
    ("Atari", "Krull: no WT/RT difference, both fine even at extreme pruning", per_game(("Krull",), krull_even, DENSE_LEARNED),
     "an equivalence test (TOST) at each level alone, 80% of them needed: no correction (TOST is conservative)"),
    ("Atari", "Kangaroo: the dense net fails to learn, yet WTs learn something", kangaroo,
     "its estimate at the best level, Bonferroni-widened"),
    ("Atari", "Breakout and SpaceInvaders RT drop almost at once; Berzerk, Centipede, Krull RT improve early",
     per_game(("Breakout", "SpaceInvaders", "Berzerk", "Centipede", "Krull"), rt_early, DENSE_LEARNED),
     f"drop: level 1 alone; improve: {HOLM} (levels 1-2)"),
    ("Atari", "Late rewinding and iterative pruning both help WTs on Assault, Breakout, Seaquest", atari_ablations, MEAN),
    ("LSTM (WikiText-2)", "WT beats RT at every level and stays near the dense net up to ~90% pruned", lstm_wt_beats_rt,
     f"{EVERY}; its estimate at the weakest level"),
    ("LSTM (WikiText-2)", "Without late rewinding only intermediate levels suffer", lstm_no_rewinding,
     f"intermediate: {HOLM}; each end alone"),
    ("LSTM (WikiText-2)", "One-shot pruning collapses, worse than RT beyond 80% pruned", lstm_oneshot_collapses,
     f"{EVERY}; its estimate at the weakest level"),
    ("LSTM (WikiText-2)", "Iterative with and without late rewinding converge past ~91% pruned", lstm_converge,
     f"an equivalence test (TOST) at every level: {EVERY}"),
    ("Transformer", "Dense BLEU: Base 27.6, Big 29.3 (WMT'14 newstest2014, tokenized BLEU)", mt_dense, "one number"),
    ("Transformer", "WT beats RT; iterative pruning and late rewinding both help, iterative more", mt_wt_beats_rt,
     f"WT vs RT: {EACH_LEVEL}; the ablations: {MEAN}"),
    ("Transformer", "Big at 67% pruned keeps 99% of its BLEU (28.9 vs 29.2, WMT'14)", mt_keeps_bleu, "one level"),
    ("Transformer", "Embeddings kept whole: RT falls off much faster; WT declines roughly linearly", mt_embeddings_whole,
     "RT: one test at the last level; WT: one fit over the levels"),
]


RULES = {
    "Every family": [
        "A claim is judged part by part (an environment, a game, a comparison). A part is judged only with at least "
        "3 seeds, from runs that rewind at the paper's share of their budget (1/20 classic control, 1/25 Atari, "
        "1/10 LSTM, 2% Transformer), on the model and data the claim is about; otherwise it is indicative, and says why.",
        "A claim's status from its parts: shown where every part is judged and holds; partly shown where some judged "
        "part holds; not resolved where none holds but every judged part's interval still includes the margin (more "
        "seeds would decide); not shown where a judged part's data say no (its interval on the wrong side of 0 or "
        "inside the margin, or a part without an interval failing its rule); indicative where no part could be judged.",
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


def judge(df: pd.DataFrame, random_policy: dict[str, float] | None = None) -> list[dict]:
    """Every claim judged: its domain, claim, status, parts and how its levels are corrected."""
    results, judged = Results(df, random_policy), []
    for domain, claim, check, correction in CLAIMS:
        found = check(results)
        status, parts = found if isinstance(found, tuple) else ("", found)
        judged.append({"domain": domain, "claim": claim, "status": status or status_of(parts), "parts": parts,
                       "correction": correction})
    return judged


def scorecard(df: pd.DataFrame, random_policy: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per claim of the paper: domain, claim, status, leans (the parts the evidence is for and
    against, judged or indicative), scale (the preset its evidence comes from), our evidence (with numbers),
    and how the claim's levels are corrected.

    `random_policy`: {Atari game: the score its agents must beat to have learned}, e.g. each
    `atari.random_policies` record's `score_to_beat`; a game whose agents (the dense net, or its tickets
    on average) do not beat it is not judged, nor is a claim against a dense net below it.
    """
    rows = []
    for claim in judge(df, random_policy):
        scales: dict[str, list[str]] = {}
        for p in claim["parts"]:
            if p.scale:
                scales.setdefault(p.scale, []).append(p.name.split(",")[0])
        scale = "; ".join(f"{', '.join(dict.fromkeys(names))}: {text}" for text, names in scales.items())
        rows.append({"domain": claim["domain"], "claim": claim["claim"], "status": claim["status"],
                     "leans": direction_of(claim["parts"]), "scale": scale or "–",
                     "our evidence": "\n".join(p.text for p in claim["parts"]), "levels, corrected": claim["correction"]})
    return pd.DataFrame(rows)


def claim_levels(df: pd.DataFrame, random_policy: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
    """{claim: the per-level estimates of its parts, at the levels with 3 seeds or more, one `task` per part
    (a stand-in's named so)}: what the scorecard's forest plots show."""
    out = {}
    for claim in judge(df, random_policy):
        frames = [p.levels[p.levels.seeds >= MIN_SEEDS].assign(task=p.name + (" (stand-in)" if p.scale == STAND_IN else ""))
                  for p in claim["parts"] if p.levels is not None and len(p.levels)]
        frames = [f for f in frames if len(f)]
        if frames:
            out[claim["claim"]] = pd.concat(frames, ignore_index=True)
    return out


def status_counts(card: pd.DataFrame) -> str:
    """The claims of `card` counted by status, in the statuses' order: "3 partly shown, 6 not resolved, ..."."""
    counts = card.status.value_counts()
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts)


def findings(card: pd.DataFrame) -> list[str]:
    """What this project found, in a few sentences computed from the scorecard (`scorecard`): the counts by
    status, then one sentence per domain naming its claims' statuses."""
    lines = [f"Of the paper's {len(card)} claims, {status_counts(card)}."]
    for domain, rows in card.groupby("domain", sort=False):
        by = rows.groupby("status", sort=False).claim.apply(list)
        parts = [f"*{s}*: {'; '.join(by[s])}" for s in STATUSES if s in by]
        lines.append(f"**{domain}** ({len(rows)} claim{'s' if len(rows) > 1 else ''}). " + ". ".join(parts) + ".")
    return lines
