import pandas as pd
import pytest

from lthlib.analysis import describe_levels, wt_vs_rt
from lthlib.explore import explorer
from lthlib.plots import COLORS, explorer_figure, level_table, pruning_curve
from lthlib.pruning import fraction_pruned_at
from lthlib.scorecard import CLAIMS, NOT_SHOWN, NOT_YET, PARTLY, PENDING, SHOWN, scorecard


def synthetic(task="CartPole-v0", variant="iterative-late", wt=(190, 185, 180), rt=(150, 60, 25), seeds=3):
    """A results table of 3 levels whose numbers we know."""
    rows = []
    for seed in range(seeds):
        jitter = seed - 1  # std 1 across seeds
        rows.append(dict(ticket="dense", level=0, value=192 + jitter, seed=seed))
        for level, (w, r) in enumerate(zip(wt, rt), start=1):
            rows.append(dict(ticket="winning", level=level, value=w + jitter, seed=seed))
            rows.append(dict(ticket="random", level=level, value=r + jitter, seed=seed))
    df = pd.DataFrame(rows)
    df["fraction_pruned"] = df.level.map(lambda k: fraction_pruned_at(k, 0.2))
    return df.assign(family="classic_control", task=task, variant=variant, exclude="", run=f"{variant}-0", metric="reward")


def test_pruning_curve_in_the_papers_style():
    fig = pruning_curve(synthetic(), "reward")
    lines = {t.name: t for t in fig.data if t.mode and "lines" in t.mode}
    assert lines["winning ticket"].line.color == COLORS["winning"]
    assert lines["random ticket"].line.color == COLORS["random"]
    assert list(lines["winning ticket"].y) == pytest.approx([192, 190, 185, 180])  # starts at dense
    assert [t for t in fig.layout.xaxis.ticktext] == ["0.0", "20.0", "36.0", "48.8"]
    assert lines["winning ticket"].customdata[1][4] == 3  # hover: number of seeds
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2 and max(bands[0].y) == pytest.approx(193)  # mean ± std band


def test_level_table_puts_runs_with_slightly_different_pools_on_one_row():
    a = synthetic(task="Krull")
    b = synthetic(task="Seaquest", wt=(10, 9, 8), rt=(7, 6, 5)).assign(fraction_pruned=lambda t: t.fraction_pruned + 1e-6)
    table = pd.concat([level_table(a, "reward"), level_table(b, "reward")], axis=1, keys=["Krull", "Seaquest"])
    assert list(table.index) == [(0, 0.0), (1, 20.0), (2, 36.0), (3, 48.8)]
    assert table.loc[(2, 36.0), ("Krull", "winning")] == pytest.approx(185)
    assert table.loc[(2, 36.0), ("Seaquest", "random")] == pytest.approx(6)


def test_explorer_figure_has_one_choice_per_run():
    df = pd.concat([synthetic(), synthetic(variant="oneshot-late"), synthetic(task="Acrobot-v1")])
    fig = explorer_figure(df)
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["Acrobot-v1 · iterative-late · reward", "CartPole-v0 · iterative-late · reward",
                      "CartPole-v0 · oneshot-late · reward"]
    assert sum(fig.layout.updatemenus[0].buttons[1].args[0]["visible"]) == 5


def test_widget_explorer_offers_the_results_choices():
    df = pd.concat([synthetic(), synthetic(task="Acrobot-v1")])
    box = explorer(df)
    family, task = box.children[0].children
    assert list(task.options) == ["Acrobot-v1", "CartPole-v0"]


def test_wt_vs_rt_and_scorecard_read_the_numbers():
    table = wt_vs_rt(synthetic(wt=(190, 185, 180), rt=(188, 60, 25)), "reward")
    assert table.wt_better.tolist() == [False, True, True]  # a 2-point gap is within 5% of dense
    assert describe_levels([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"
    df = pd.concat([synthetic(task=env) for env in ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")])
    card = scorecard(df)
    assert len(card) == len(CLAIMS)
    assert card.status.iloc[0] == SHOWN
    assert "levels 1–3 of 3" in card["our evidence"].iloc[0]
    assert card[card.domain.str.startswith("Transformer")].status.tolist() == [NOT_YET, PENDING, PENDING, PENDING]
    assert (card[card.domain == "Atari"].status == NOT_YET).all()


def lstm_run(variant, wt, rt, dense=6.0):
    """One seed of an LSTM run over len(wt) levels, log perplexities given."""
    rows = [dict(ticket="dense", level=0, value=dense)]
    for level, (w, r) in enumerate(zip(wt, rt), start=1):
        rows += [dict(ticket="winning", level=level, value=w), dict(ticket="random", level=level, value=r)]
    df = pd.DataFrame(rows).assign(seed=0)
    df["fraction_pruned"] = df.level.map(lambda k: fraction_pruned_at(k, 0.2))
    return df.assign(family="lstm_lm", task="WikiText-2", variant=variant, exclude="", run=f"{variant}-0", metric="test_log_ppl")


def test_lstm_claims_are_read_from_the_numbers():
    late_wt = [6.0, 6.0, 6.01, 6.02, 6.03, 6.05, 6.06, 6.08, 6.1, 6.11]  # within 2% of 6.0 up to level 10 (89%)
    late = lstm_run("iterative-late", late_wt, [w + 0.3 for w in late_wt])
    reset = lstm_run("iterative-reset", [w + (0.2 if 3 <= k <= 7 else 0.0) for k, w in enumerate(late_wt, 1)],
                     [7.0] * 10)
    oneshot = lstm_run("oneshot-reset", [6.0] * 7 + [7.5, 7.8, 8.0], [6.5] * 10)
    card = scorecard(pd.concat([late, reset, oneshot])).set_index("claim")
    lstm = card[card.domain == "LSTM (WikiText-2)"]
    assert lstm.status.tolist() == [SHOWN, SHOWN, SHOWN, NOT_YET]
    assert "below RT at levels 1–10 of 10" in lstm["our evidence"].iloc[0]
    assert "at levels 3–7 of 10" in lstm["our evidence"].iloc[1]
    assert "worse than its RT at 3 of the 3 levels past 80% pruned" in lstm["our evidence"].iloc[2]
    only_late = scorecard(late).set_index("claim")
    assert only_late[only_late.domain == "LSTM (WikiText-2)"].status.tolist()[1:3] == ["pending", "pending"]


def one_seed_run(family, task, metric, dense, wt, rt, variant="iterative-late", exclude=""):
    """One seed of a run over len(wt) levels, metric values given."""
    df = lstm_run(variant, wt, rt, dense)
    return df.assign(family=family, task=task, metric=metric, exclude=exclude, run=f"{variant}-{task}-{exclude}")


def test_atari_claims_are_read_game_by_game():
    runs = pd.concat([
        one_seed_run("atari", "Seaquest", "reward", 200, [260, 250, 240, 230], [150, 140, 235, 100]),
        one_seed_run("atari", "Breakout", "reward", 10, [10, 9, 8, 7], [5, 6, 9, 4]),
        one_seed_run("atari", "Krull", "reward", 3000, [3100, 3000, 2900, 2800], [3200, 3100, 2700, 2600]),
        one_seed_run("atari", "Seaquest", "reward", 200, [200, 180, 150, 120], [150, 140, 220, 100], "iterative-reset"),
    ])
    card = scorecard(runs).set_index("claim")
    atari = card[card.domain == "Atari"]
    # Seaquest: clear wins at levels 1, 2, 4 (3 of 4); Breakout: mean WT 8.5 > RT 6.0; Assault etc. missing
    assert atari.status.iloc[0] == PARTLY
    assert "Seaquest: WT clearly above RT at levels 1–2, 4 of 4" in atari["our evidence"].iloc[0]
    assert "no run yet: Assault, Berzerk, Centipede" in atari["our evidence"].iloc[0]
    assert atari.status.iloc[1] == NOT_YET  # no Berzerk or Qbert run
    assert atari.status.iloc[2] == SHOWN  # Krull: within 300 of each other everywhere, both >= 2400 at the end
    assert atari.status.iloc[4] == PARTLY  # Breakout RT 5 < 8 at once; Krull RT 3200 > 3000 early; others missing
    assert atari.status.iloc[5] == PARTLY and "Seaquest, late rewinding: mean WT score 245.0 vs 162.5" in \
        atari["our evidence"].iloc[5]


def test_atari_games_whose_agents_do_not_clearly_beat_a_random_policy_are_not_judged():
    runs = pd.concat([
        one_seed_run("atari", "Seaquest", "reward", 200, [260, 250, 240, 230], [150, 140, 235, 100]),
        one_seed_run("atari", "Breakout", "reward", 1.0, [1.4, 1.3, 1.2, 1.1], [0.9, 1.0, 0.8, 0.7]),
    ])
    judged = scorecard(runs).set_index("claim")
    gated = scorecard(runs, random_policy={"Breakout": 1.3, "Seaquest": 70.0}).set_index("claim")
    claim = "WT helps a lot on Assault, Seaquest, Berzerk; slightly on Breakout, Centipede"
    assert "Breakout: WT clearly above RT" in judged.loc[claim, "our evidence"]
    evidence = gated.loc[claim, "our evidence"]
    assert "Breakout: neither the dense agent (1.0) nor its tickets (mean WT 1.2, RT 0.9) clearly beat a random policy (score to beat 1.3)" in evidence
    assert "Seaquest: WT clearly above RT at levels 1–2, 4 of 4" in evidence  # Seaquest beat its random policy
    assert "no run yet: Assault, Berzerk, Centipede" in evidence
    only_breakout = scorecard(runs[runs.task == "Breakout"], random_policy={"Breakout": 1.3}).set_index("claim")
    assert only_breakout.loc[claim, "status"] == NOT_YET
    # a claim whose every judged game agrees is still only partly shown while one game is not judged
    above_dense = pd.concat([
        one_seed_run("atari", "Berzerk", "reward", 500, [600, 550, 520, 510], [400, 300, 200, 100]),
        one_seed_run("atari", "Qbert", "reward", 150, [200, 190, 180, 170], [100, 90, 80, 70]),
    ])
    claim = "WT raises the reward above the dense net on Berzerk and Qbert"
    assert scorecard(above_dense).set_index("claim").loc[claim, "status"] == SHOWN
    gated = scorecard(above_dense, random_policy={"Berzerk": 200.0, "Qbert": 250.0}).set_index("claim")
    assert gated.loc[claim, "status"] == PARTLY and "Qbert: neither the dense agent (150.0)" in gated.loc[claim, "our evidence"]
    # tickets that learned count even where the dense agent did not (Krull at the cpu preset: dense at ~1.9 SE)
    tickets_learned = scorecard(above_dense, random_policy={"Berzerk": 200.0, "Qbert": 160.0}).set_index("claim")
    assert tickets_learned.loc[claim, "status"] == SHOWN


def test_transformer_claims_compare_the_two_pruning_scopes():
    everything = one_seed_run("transformer_mt", "Multi30k", "bleu", 33.0, [33.0, 32.8, 32.9, 32.7, 32.8],
                              [31.0, 29.0, 27.0, 24.0, 22.0])
    kept = one_seed_run("transformer_mt", "Multi30k", "bleu", 33.0, [32.0, 31.0, 30.0, 29.0, 28.0],
                        [28.0, 22.0, 15.0, 9.0, 4.0], exclude="embedding.*, *norm*")
    tokenized = everything.assign(metric="tokenized_bleu")
    card = scorecard(pd.concat([everything, kept, tokenized])).set_index("claim")
    mt = card[card.domain.str.startswith("Transformer")]
    assert mt.status.tolist() == [NOT_YET, PARTLY, SHOWN, SHOWN]
    assert "Multi30k dense: BLEU 33.0 (sacrebleu), 33.0 tokenized" in mt["our evidence"].iloc[0]
    assert "clearly above RT at levels 1–5 of 5" in mt["our evidence"].iloc[1]
    assert "WT BLEU 32.8 vs dense 33.0 (99.4%)" in mt["our evidence"].iloc[2]
    assert "embeddings kept whole 29.0, everything pruned 11.0" in mt["our evidence"].iloc[3]
    weak = scorecard(pd.concat([everything.assign(value=everything.value.where(everything.level != 5, 30.0)), kept]))
    assert weak.set_index("claim").status.iloc[-2] == NOT_SHOWN  # 30.0 / 33.0 < 99%
