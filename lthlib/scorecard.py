"""Each claim of Yu et al. (ICLR 2020) next to what our committed results show.

A claim is checked by a function of the results table; claims of families that are not built (or
whose runs do not fit this hardware) say so instead of guessing.
"""

from __future__ import annotations

import pandas as pd

from lthlib.analysis import describe_levels, learned, main_runs, wt_vs_rt

SHOWN, NOT_SHOWN, PARTLY, PENDING, NOT_YET = "shown", "not shown", "partly shown", "pending", "not testable yet"
CLASSIC_ENVS = ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")
RANDOM_POLICY = "random policy"  # the ticket name of an Atari game's random-policy score


def _classic(df: pd.DataFrame) -> pd.DataFrame:
    return main_runs(df[(df.family == "classic_control") & (df.metric == "reward")])


def _wt_beats_rt(df: pd.DataFrame) -> tuple[str, str]:
    table = wt_vs_rt(_classic(df)[lambda d: d.variant == "iterative-late"], "reward")
    found, evidence = [], []
    for env in CLASSIC_ENVS:
        rows = table[table.task == env]
        if rows.empty:
            evidence.append(f"{env}: no results yet")
            continue
        wins = rows[rows.wt_better]
        found.append(len(wins) >= len(rows) / 3)
        best = f", e.g. {wins.wt_mean.iloc[-1]:.1f} vs {wins.rt_mean.iloc[-1]:.1f} at {wins.fraction_pruned.iloc[-1]:.1%} pruned" if len(wins) else ""
        evidence.append(f"{env} ({rows.seeds.min()} seeds): WT clearly above RT at levels "
                        f"{describe_levels(wins.level)} of {rows.level.max()}{best}")
    if not found:
        return PENDING, "; ".join(evidence)
    status = SHOWN if all(found) and len(found) == len(CLASSIC_ENVS) else PARTLY if any(found) else NOT_SHOWN
    return status, "; ".join(evidence)


def _ablation(df: pd.DataFrame, better: str, worse: str) -> tuple[str, str]:
    """Does the WT of variant `better` average a higher reward over the levels than that of `worse`?"""
    wt = _classic(df)[lambda d: (d.ticket == "winning")]
    verdicts, evidence = [], []
    for env in CLASSIC_ENVS:
        a, b = wt[(wt.task == env) & (wt.variant == better)], wt[(wt.task == env) & (wt.variant == worse)]
        levels = sorted(set(a.level) & set(b.level))
        if not levels:
            evidence.append(f"{env}: no results yet")
            continue
        mean_a = a[a.level.isin(levels)].value.mean()
        mean_b = b[b.level.isin(levels)].value.mean()
        verdicts.append(mean_a > mean_b)
        evidence.append(f"{env}: mean WT reward over levels 1–{levels[-1]}: {better} {mean_a:.1f} vs {worse} {mean_b:.1f}")
    if not verdicts:
        return PENDING, "; ".join(evidence)
    status = SHOWN if all(verdicts) and len(verdicts) == len(CLASSIC_ENVS) else PARTLY if any(verdicts) else NOT_SHOWN
    return status, "; ".join(evidence)


def _means(df: pd.DataFrame, variant: str, ticket: str) -> pd.Series:
    """Mean metric per level of one variant's tickets of one kind."""
    rows = df[(df.variant == variant) & (df.ticket == ticket)]
    return rows.groupby("level").value.mean()


def _lstm(df: pd.DataFrame) -> pd.DataFrame:
    return main_runs(df[(df.family == "lstm_lm") & (df.metric == "test_log_ppl")])


def _lstm_pair(df: pd.DataFrame, a: tuple[str, str], b: tuple[str, str]):
    """Mean log perplexity per level of two (variant, ticket) series, their common levels, and the
    fraction pruned at each level."""
    lstm = _lstm(df)
    mean_a, mean_b = _means(lstm, *a), _means(lstm, *b)
    return mean_a, mean_b, sorted(set(mean_a.index) & set(mean_b.index)), lstm.groupby("level").fraction_pruned.mean()


def _lstm_wt_beats_rt(df: pd.DataFrame) -> tuple[str, str]:
    lstm = _lstm(df)
    wt, rt = _means(lstm, "iterative-late", "winning"), _means(lstm, "iterative-late", "random")
    levels = sorted(set(wt.index) & set(rt.index))
    if not levels:
        return PENDING, _LSTM
    dense = _means(lstm, "iterative-late", "dense").iloc[0]
    fraction = lstm.groupby("level").fraction_pruned.mean()
    beats = [k for k in levels if wt[k] < rt[k]]
    near = 0  # the last level up to which every WT is within 2% of the dense log perplexity
    while near + 1 in wt.index and wt[near + 1] <= 1.02 * dense:
        near += 1
    last = levels[-1]
    evidence = (f"WT log perplexity below RT at levels {describe_levels(beats)} of {last}; WT within 2% of the "
                f"dense {dense:.2f} up to {fraction[near]:.0%} pruned (level {near}); at {fraction[last]:.0%} "
                f"pruned WT {wt[last]:.2f} vs RT {rt[last]:.2f}")
    found = [len(beats) == len(levels), fraction[near] >= 0.85]
    return (SHOWN if all(found) else PARTLY if any(found) else NOT_SHOWN), evidence


def _lstm_no_rewinding(df: pd.DataFrame) -> tuple[str, str]:
    late, reset, levels, _ = _lstm_pair(df, ("iterative-late", "winning"), ("iterative-reset", "winning"))
    if not levels:
        return PENDING, "needs the cpu runs of iterative-late and iterative-reset; not committed yet"
    dense = _means(_lstm(df), "iterative-late", "dense").iloc[0]
    worse = [k for k in levels if reset[k] - late[k] > 0.01 * dense]
    evidence = (f"WT without late rewinding worse by more than 1% of the dense log perplexity at levels "
                f"{describe_levels(worse)} of {levels[-1]}")
    if not worse:
        return NOT_SHOWN, evidence
    return (SHOWN if levels[0] not in worse and levels[-1] not in worse else PARTLY), evidence


def _lstm_oneshot_collapses(df: pd.DataFrame) -> tuple[str, str]:
    wt, rt, levels, fraction = _lstm_pair(df, ("oneshot-reset", "winning"), ("oneshot-reset", "random"))
    beyond = [k for k in levels if fraction[k] > 0.8]
    if not beyond:
        return PENDING, "needs the cpu run of oneshot-reset (past 80% pruned); not committed yet"
    worse = [k for k in beyond if wt[k] > rt[k]]
    evidence = (f"one-shot WT (no late rewinding) worse than its RT at {len(worse)} of the {len(beyond)} levels "
                f"past 80% pruned; at {fraction[beyond[-1]]:.0%}: WT {wt[beyond[-1]]:.2f} vs RT {rt[beyond[-1]]:.2f}")
    return (SHOWN if len(worse) == len(beyond) else PARTLY if worse else NOT_SHOWN), evidence


def _lstm_converge(df: pd.DataFrame) -> tuple[str, str]:
    late, reset, levels, fraction = _lstm_pair(df, ("iterative-late", "winning"), ("iterative-reset", "winning"))
    past = [k for k in levels if fraction[k] > 0.91]
    if not past:
        return NOT_YET, "needs levels past 91% pruned in both iterative runs (the cpu preset's 10 levels stop at 89%)"
    gaps = [abs(late[k] - reset[k]) for k in past]
    dense = _means(_lstm(df), "iterative-late", "dense").iloc[0]
    return (SHOWN if max(gaps) < 0.01 * dense else NOT_SHOWN), f"largest WT gap past 91% pruned: {max(gaps):.3f} nats"


def _atari_games(df: pd.DataFrame, variant: str = "iterative-late") -> dict[str, tuple[pd.Series, pd.Series, float]]:
    """Per game with a committed run whose agents learned (see `_unlearned`): mean WT and RT score per
    level, and the dense score."""
    atari = main_runs(df[(df.family == "atari") & (df.metric == "reward") & (df.variant == variant)])
    games, unlearned = {}, _unlearned(df)
    for game, rows in atari[~atari.task.isin(unlearned)].groupby("task"):
        wt, rt, dense = (_means(rows, variant, t) for t in ("winning", "random", "dense"))
        levels = sorted(set(wt.index) & set(rt.index))
        if levels and len(dense):
            games[game] = (wt[levels], rt[levels], dense.iloc[0])
    return games


def _unlearned(df: pd.DataFrame) -> dict[str, tuple[dict[str, float], float]]:
    """{game: (its agents' scores, the score to beat)} of the games whose agents did not learn (`learned`)."""
    atari = main_runs(df[(df.family == "atari") & (df.metric == "reward") & (df.variant == "iterative-late")])
    games = {}
    for game, rows in atari.groupby("task"):
        to_beat = rows[rows.ticket == RANDOM_POLICY].value.mean()
        has_learned, scores = learned(rows, to_beat)
        if not has_learned and pd.notna(to_beat):  # NaN: no random-policy score for this game
            games[game] = (scores, to_beat)
    return games


def _per_game(df: pd.DataFrame, games: tuple[str, ...], check) -> tuple[str, str]:
    """check(game, wt, rt, dense) -> (holds, text) for each of `games` that has a committed run."""
    found, unlearned = _atari_games(df), _unlearned(df)
    verdicts, evidence = [], []
    for game in games:
        if game in found:
            holds, text = check(game, *found[game])
            verdicts.append(holds)
            evidence.append(f"{game}: {text}")
        elif game in unlearned:
            scores, to_beat = unlearned[game]
            evidence.append(f"{game}: neither the dense agent ({scores['dense']:.1f}) nor its tickets (mean WT "
                            f"{scores['winning']:.1f}, RT {scores['random']:.1f}) clearly beat a random policy "
                            f"(score to beat {to_beat:.1f}) at this budget, so its tickets are not judged")
    missing = [g for g in games if g not in found and g not in unlearned]
    if not verdicts:
        if missing:
            evidence.append(f"no committed run of {', '.join(missing)} yet (the nine-game grid: lth sweep --family atari)")
        return NOT_YET, "; ".join(evidence)
    if missing:
        evidence.append(f"no run yet: {', '.join(missing)}")
    judged_all = not missing and not any(g in unlearned for g in games)
    status = SHOWN if all(verdicts) and judged_all else PARTLY if any(verdicts) else NOT_SHOWN
    return status, "; ".join(evidence)


def _clear_wins(wt: pd.Series, rt: pd.Series, dense: float) -> list[int]:
    """Levels where the WT beats the RT by more than 5% of the dense net's |metric| (higher is better)."""
    return [k for k in wt.index if wt[k] - rt[k] > 0.05 * abs(dense)]


def _wt_helps(game, wt, rt, dense) -> tuple[bool, str]:
    wins = _clear_wins(wt, rt, dense)
    text = f"WT clearly above RT at levels {describe_levels(wins)} of {wt.index[-1]}"
    if game in ("Breakout", "Centipede"):  # "slightly": better on average
        return wt.mean() > rt.mean(), f"{text}; mean over levels WT {wt.mean():.1f} vs RT {rt.mean():.1f}"
    return len(wins) >= len(wt) / 2, text


def _wt_above_dense(game, wt, rt, dense) -> tuple[bool, str]:
    above = [k for k in wt.index if wt[k] > dense]
    return bool(above), f"WT above the dense {dense:.1f} at levels {describe_levels(above)} (best {wt.max():.1f})"


def _krull_even(game, wt, rt, dense) -> tuple[bool, str]:
    close = [k for k in wt.index if abs(wt[k] - rt[k]) <= 0.1 * abs(dense)]
    last = wt.index[-1]
    both_fine = min(wt[last], rt[last]) >= 0.8 * dense
    return (len(close) >= 0.8 * len(wt) and both_fine,
            f"WT and RT within 10% of the dense {dense:.1f} of each other at {len(close)} of {len(wt)} levels; "
            f"at level {last}: WT {wt[last]:.1f}, RT {rt[last]:.1f}")


def _kangaroo(game, wt, rt, dense) -> tuple[bool, str]:
    return wt.max() > dense, f"dense {dense:.1f}, best WT {wt.max():.1f}"


def _rt_early(game, wt, rt, dense) -> tuple[bool, str]:
    first = rt.iloc[: min(2, len(rt))]
    text = f"RT at the first levels {', '.join(f'{v:.1f}' for v in first)} vs dense {dense:.1f}"
    if game in ("Breakout", "SpaceInvaders"):  # "drops almost at once"
        return first.iloc[0] < 0.8 * dense, text
    return first.max() > dense, text  # "improves early"


def _atari_ablations(df: pd.DataFrame) -> tuple[str, str]:
    games = ("Assault", "Breakout", "Seaquest")
    late = _atari_games(df)
    ablations = {"late rewinding": _atari_games(df, "iterative-reset"), "iterative pruning": _atari_games(df, "oneshot-late")}
    verdicts, evidence, unlearned = [], [], _unlearned(df)
    for game in games:
        if game in unlearned:
            evidence.append(f"{game}: its agents do not clearly beat a random policy, so it is not judged")
        for helper, without in ablations.items():
            if game in late and game in without:
                wt, other = late[game][0], without[game][0]
                levels = sorted(set(wt.index) & set(other.index))
                verdicts.append(wt[levels].mean() > other[levels].mean())
                evidence.append(f"{game}, {helper}: mean WT score {wt[levels].mean():.1f} vs "
                                f"{other[levels].mean():.1f} without it")
    if not verdicts:
        return NOT_YET, "; ".join(evidence + ["needs the iterative-late run and an ablation run (iterative-reset, "
                                              "oneshot-late) of Assault, Breakout or Seaquest, whose agents learned"])
    complete = len(verdicts) == 2 * len(games)
    return (SHOWN if all(verdicts) and complete else PARTLY if any(verdicts) else NOT_SHOWN), "; ".join(evidence)


def _mt(df: pd.DataFrame, embeddings_pruned: bool, metric: str = "bleu") -> pd.DataFrame:
    """The Transformer's iterative-late runs of one pruning scope."""
    mt = main_runs(df[(df.family == "transformer_mt") & (df.metric == metric) & (df.variant == "iterative-late")])
    return mt[(mt.exclude == "") == embeddings_pruned]


def _mt_series(df: pd.DataFrame, embeddings_pruned: bool, task: str = "Multi30k"):
    """WT and RT BLEU per level, the dense BLEU (None without a run) and the fraction pruned per level."""
    rows = _mt(df, embeddings_pruned)[lambda d: d.task == task]
    wt, rt, dense = (_means(rows, "iterative-late", t) for t in ("winning", "random", "dense"))
    return wt, rt, (dense.iloc[0] if len(dense) else None), rows.groupby("level").fraction_pruned.mean()


def _mt_dense(df: pd.DataFrame) -> tuple[str, str]:
    dense = {m: _mt(df, True, m)[lambda d: d.ticket == "dense"].groupby("task").value.mean()
             for m in ("bleu", "tokenized_bleu")}
    tokenized = dense["tokenized_bleu"]
    ours = "; ".join(f"{task} dense: BLEU {bleu:.1f} (sacrebleu)"
                     + (f", {tokenized[task]:.1f} tokenized" if task in tokenized else "")
                     for task, bleu in dense["bleu"].items())
    if "WMT14" not in tokenized:
        return NOT_YET, (ours + " (a small Transformer on Multi30k: not comparable); " if ours else "") + _MT
    return (SHOWN if tokenized["WMT14"] >= 27.6 - 1.0 else NOT_SHOWN), ours


def _mt_wt_beats_rt(df: pd.DataFrame) -> tuple[str, str]:
    wt, rt, dense, fraction = _mt_series(df, True)
    levels = sorted(set(wt.index) & set(rt.index))
    if not levels:
        return PENDING, _MT
    wins = _clear_wins(wt[levels], rt[levels], dense)
    last = levels[-1]
    evidence = (f"Multi30k, everything pruned: WT BLEU clearly above RT at levels {describe_levels(wins)} of {last}; "
                f"at {fraction[last]:.0%} pruned WT {wt[last]:.1f} vs RT {rt[last]:.1f} (dense {dense:.1f}); "
                "the iterative and rewinding ablations are not run at cpu scale")
    return (PARTLY if len(wins) >= len(levels) / 2 else NOT_SHOWN), evidence


def _mt_keeps_bleu(df: pd.DataFrame) -> tuple[str, str]:
    wt, _, dense, fraction = _mt_series(df, True)
    at_67 = [k for k in wt.index if abs(fraction[k] - 0.672) < 0.01]
    if not at_67:
        return PENDING, "needs level 5 (67% pruned) of the cpu run; " + _MT
    kept = wt[at_67[0]] / dense
    return ((SHOWN if kept >= 0.99 else NOT_SHOWN),
            f"small Transformer on Multi30k at 67% pruned: WT BLEU {wt[at_67[0]]:.1f} vs dense {dense:.1f} ({kept:.1%})")


def _mt_embeddings_whole(df: pd.DataFrame) -> tuple[str, str]:
    _, rt_all, dense_all, _ = _mt_series(df, True)
    wt_kept, rt_kept, dense_kept, fraction = _mt_series(df, False)
    levels = sorted(set(rt_all.index) & set(rt_kept.index) & set(wt_kept.index))
    if len(levels) < 2:
        return PENDING, "needs the cpu runs of both pruning scopes; " + _MT
    last = levels[-1]
    drop_all, drop_kept = dense_all - rt_all[last], dense_kept - rt_kept[last]
    x, y = pd.Series(fraction[[0] + levels].to_numpy()), pd.Series([dense_kept] + wt_kept[levels].tolist())
    straightness = x.corr(y) ** 2
    found = [drop_kept > drop_all, straightness >= 0.8]
    evidence = (f"RT BLEU drop from the dense net to {fraction[last]:.0%} pruned: embeddings kept whole {drop_kept:.1f}, "
                f"everything pruned {drop_all:.1f}; WT BLEU (embeddings kept) against fraction pruned: R² of a straight "
                f"line {straightness:.2f}")
    return (SHOWN if all(found) else PARTLY if any(found) else NOT_SHOWN), evidence


_LSTM = "the LSTM family is built, but its cpu run (one seed, reduced size) is not committed yet"
_MT = ("Base and Big on WMT'14 need a GPU (lth sweep --family transformer_mt --tasks WMT14 --preset paper); "
       "the cpu runs use a small Transformer on Multi30k")

CLAIMS = [
    ("Classic control", "Winning tickets outperform random tickets on CartPole-v0, Acrobot-v1 and LunarLander", _wt_beats_rt),
    ("Classic control", "Late rewinding improves winning tickets (ablation)", lambda df: _ablation(df, "iterative-late", "iterative-reset")),
    ("Classic control", "Iterative pruning improves winning tickets over one-shot (ablation)", lambda df: _ablation(df, "iterative-late", "oneshot-late")),
    ("Atari", "WT helps a lot on Assault, Seaquest, Berzerk; slightly on Breakout, Centipede",
     lambda df: _per_game(df, ("Assault", "Seaquest", "Berzerk", "Breakout", "Centipede"), _wt_helps)),
    ("Atari", "WT raises the reward above the dense net on Berzerk and Qbert",
     lambda df: _per_game(df, ("Berzerk", "Qbert"), _wt_above_dense)),
    ("Atari", "Krull: no WT/RT difference, both fine even at extreme pruning",
     lambda df: _per_game(df, ("Krull",), _krull_even)),
    ("Atari", "Kangaroo: the dense net fails to learn, yet WTs learn something",
     lambda df: _per_game(df, ("Kangaroo",), _kangaroo)),
    ("Atari", "Breakout and SpaceInvaders RT drop almost at once; Berzerk, Centipede, Krull RT improve early",
     lambda df: _per_game(df, ("Breakout", "SpaceInvaders", "Berzerk", "Centipede", "Krull"), _rt_early)),
    ("Atari", "Late rewinding and iterative pruning both help WTs on Assault, Breakout, Seaquest", _atari_ablations),
    ("LSTM (WikiText-2)", "WT beats RT at every level and stays near the dense net up to ~90% pruned", _lstm_wt_beats_rt),
    ("LSTM (WikiText-2)", "Without late rewinding only intermediate levels suffer", _lstm_no_rewinding),
    ("LSTM (WikiText-2)", "One-shot pruning collapses, worse than RT beyond 80% pruned", _lstm_oneshot_collapses),
    ("LSTM (WikiText-2)", "Iterative with and without late rewinding converge past ~91% pruned", _lstm_converge),
    ("Transformer (WMT'14)", "Dense BLEU: Base 27.6, Big 29.3 (newstest2014, tokenized BLEU)", _mt_dense),
    ("Transformer (WMT'14)", "WT beats RT; iterative pruning and late rewinding both help, iterative more", _mt_wt_beats_rt),
    ("Transformer (WMT'14)", "Big at 67% pruned keeps 99% of its BLEU (28.9 vs 29.2)", _mt_keeps_bleu),
    ("Transformer (WMT'14)", "Embeddings kept whole: RT falls off much faster; WT declines roughly linearly",
     _mt_embeddings_whole),
]


def with_random_policy(df: pd.DataFrame, random_policy: dict[str, float]) -> pd.DataFrame:
    """`df` plus, for each Atari run of a game in `random_policy` ({game: score to beat}), a row of
    ticket "random policy" at level 0, which `_unlearned` reads back."""
    dense = df[(df.family == "atari") & (df.metric == "reward") & (df.ticket == "dense") & df.task.isin(random_policy)]
    baseline = dense.drop_duplicates("run").assign(ticket=RANDOM_POLICY, value=lambda d: d.task.map(random_policy))
    return pd.concat([df, baseline], ignore_index=True)


def scorecard(df: pd.DataFrame, random_policy: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per claim of the paper: domain, claim, status, our evidence (with numbers).

    `random_policy`: {Atari game: the score its agents must beat to have learned}, e.g. each
    `atari.random_policies` record's `score_to_beat`; the Atari claims skip a game whose agents (the
    dense net, or its tickets on average) do not beat it (`analysis.learned`).
    """
    df = with_random_policy(df, random_policy or {})
    rows = []
    for domain, claim, check in CLAIMS:
        status, evidence = check(df)
        rows.append({"domain": domain, "claim": claim, "status": status, "our evidence": evidence})
    return pd.DataFrame(rows)
