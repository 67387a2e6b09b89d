import pandas as pd
import pytest

from lthlib.analysis import describe_levels, wt_vs_rt
from lthlib.explore import explorer
from lthlib.plots import COLORS, explorer_figure, pruning_curve
from lthlib.pruning import fraction_pruned_at
from lthlib.scorecard import CLAIMS, NOT_YET, SHOWN, scorecard


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
    return df.assign(family="classic_control", task=task, variant=variant, run=f"{variant}-0", metric="reward")


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
    assert (card[card.domain.str.startswith("Transformer")].status == NOT_YET).all()


def lstm_run(variant, wt, rt, dense=6.0):
    """One seed of an LSTM run over len(wt) levels, log perplexities given."""
    rows = [dict(ticket="dense", level=0, value=dense)]
    for level, (w, r) in enumerate(zip(wt, rt), start=1):
        rows += [dict(ticket="winning", level=level, value=w), dict(ticket="random", level=level, value=r)]
    df = pd.DataFrame(rows).assign(seed=0)
    df["fraction_pruned"] = df.level.map(lambda k: fraction_pruned_at(k, 0.2))
    return df.assign(family="lstm_lm", task="WikiText-2", variant=variant, run=f"{variant}-0", metric="test_log_ppl")


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
