import pandas as pd
import pytest

from lthlib.analysis import describe_levels, executed_notebooks, main_runs, wt_vs_rt
from lthlib.explore import explorer
from lthlib.plots import COLORS, explorer_figure, level_table, overlay_curves, pruning_curve, variants_curve
from lthlib.pruning import fraction_pruned_at
from lthlib.claims import INDICATIVE, NOT_SHOWN, NOT_TESTABLE, PARTLY, PENDING, SHOWN, UNRESOLVED
from lthlib.scorecard import CLAIMS, scorecard
from lthlib.verdicts import compare


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
    return df.assign(family="classic_control", task=task, variant=variant, exclude="", run=f"{variant}-0", metric="reward",
                     output_pruned=False, rewind_fraction=0.05 if variant.endswith("late") else 0.0, paper_differences="",
                     dense_net=task)


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


def test_one_seed_draws_no_band_and_output_pruned_levels_are_shaded():
    one_seed = synthetic(seeds=1)
    assert not [t for t in pruning_curve(one_seed, "reward").data if t.fill == "toself"]  # no "± 0"
    marked = synthetic().assign(output_pruned=lambda d: d.level == 3)
    shapes = pruning_curve(marked, "reward").layout.shapes
    assert [(s.x0, s.x1) for s in shapes] == [(2.5, 3.5)]



def test_a_run_without_random_tickets_draws_no_random_curve_in_any_figure():
    main, ablation = synthetic(), synthetic(variant="oneshot-late").query("ticket != 'random'")
    traces = lambda fig: {t.name for t in fig.data}
    assert "random ticket" not in traces(pruning_curve(ablation, "reward"))
    names = traces(variants_curve(pd.concat([main, ablation]), "reward"))
    assert {"iterative-late winning ticket", "iterative-late random ticket", "oneshot-late winning ticket"} <= names
    assert "oneshot-late random ticket" not in names
    assert traces(overlay_curves({"main": main, "ablation": ablation}, "reward")) == {
        "winning ticket, main", "random ticket, main", "winning ticket, ablation"}

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


def table(family, task, metric, dense, wt, rt, variant="iterative-late", seeds=3, exclude="", rewind_fraction=None,
          paper_differences="", output_pruned_levels=(), dense_net=None):
    """A run of `seeds` seeds over len(wt) levels whose numbers we know, around which the seeds spread: seed s
    adds j = s - (seeds - 1) / 2 times 0.5% of |dense| to every value, and another j% to the WT's, so that
    paired differences vary a little across seeds."""
    rows = []
    for seed in range(seeds):
        jitter = (seed - (seeds - 1) / 2) * 0.005 * abs(dense)
        rows.append(dict(ticket="dense", level=0, value=dense + jitter, seed=seed))
        for level, (w, r) in enumerate(zip(wt, rt), start=1):
            rows.append(dict(ticket="winning", level=level, value=w + 3 * jitter, seed=seed))
            rows.append(dict(ticket="random", level=level, value=r + jitter, seed=seed))
    df = pd.DataFrame(rows)
    df["fraction_pruned"] = df.level.map(lambda k: fraction_pruned_at(k, 0.2))
    share = {"classic_control": 0.05, "atari": 0.04, "lstm_lm": 0.1, "transformer_mt": 0.02}[family]
    late = variant.endswith("late")
    return df.assign(family=family, task=task, metric=metric, variant=variant, exclude=exclude,
                     run=f"{variant}-{task}-{exclude}-{paper_differences}", output_pruned=df.level.isin(output_pruned_levels),
                     rewind_fraction=(share if rewind_fraction is None else rewind_fraction) if late else 0.0,
                     paper_differences=paper_differences, dense_net=dense_net or f"{family}-{task}",
                     longer_of="", lineage_budgets=1)


def classic(task="CartPole-v0", variant="iterative-late", wt=(190, 185, 180), rt=(150, 60, 25), **kw):
    return table("classic_control", task, "reward", 192, wt, rt, variant, **kw)


def test_the_rule_says_yes_no_and_indicative():
    seeds = pd.Index([0, 1, 2])
    yes = compare(pd.Series([10.2, 11.1, 10.6], seeds), pd.Series([5.0, 5.3, 4.8], seeds), margin=1.0)
    assert yes.judged and yes.better and yes.p_value < 0.01
    no_effect = compare(pd.Series([5.1, 4.8, 5.3], seeds), pd.Series([5.0, 5.2, 4.9], seeds), margin=0.25)
    assert no_effect.judged and not no_effect.better
    inconsistent = compare(pd.Series([10.0, -8.0, 9.0], seeds), pd.Series([0.0, 0.0, 0.0], seeds), margin=1.0)
    assert inconsistent.gain == pytest.approx(11 / 3) and inconsistent.p_value > 0.05 and not inconsistent.better
    one = compare(pd.Series([10.0]), pd.Series([5.0]), margin=1.0)
    assert not one.judged and one.better and "over 1 seed" in str(one)
    lower = compare(pd.Series([4.0, 4.1, 4.05], seeds), pd.Series([5.0, 5.2, 5.1], seeds), margin=0.05, higher_is_better=False)
    assert lower.better and lower.gain == pytest.approx(1.05)


def test_classic_claims_are_judged_on_three_seeds_and_only_indicated_on_one():
    envs = ("CartPole-v0", "Acrobot-v1", "LunarLander-v3")
    card = scorecard(pd.concat([classic(task=env) for env in envs])).set_index("claim")
    claim = CLAIMS[0][1]
    assert card.loc[claim, "status"] == SHOWN
    assert "CartPole-v0: WT beats RT at every level of 1–3" in card.loc[claim, "our evidence"]
    assert card.loc["WT raises the reward above the dense net on Berzerk and Qbert", "status"] == PENDING  # no runs
    assert describe_levels([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"
    one_seed = scorecard(pd.concat([classic(task=env, seeds=1) for env in envs])).set_index("claim")
    assert one_seed.loc[claim, "status"] == INDICATIVE and "(indicative: 1 seed)" in one_seed.loc[claim, "our evidence"]
    assert one_seed.loc[claim, "leans"] == "for: CartPole-v0 · Acrobot-v1 · LunarLander-v3"  # which way it points
    mixed = scorecard(pd.concat([classic(task=env, seeds=1, rt=(190, 185, 180) if env == "Acrobot-v1" else (150, 60, 25))
                                 for env in envs])).set_index("claim")
    assert mixed.loc[claim, "status"] == INDICATIVE
    assert mixed.loc[claim, "leans"] == "for: CartPole-v0 · LunarLander-v3; against: Acrobot-v1"
    assert card.loc["WT raises the reward above the dense net on Berzerk and Qbert", "leans"] == "–"  # nothing decided
    no_effect = scorecard(pd.concat([classic(task=env, rt=(190, 185, 180)) for env in envs])).set_index("claim")
    assert no_effect.loc[claim, "status"] == NOT_SHOWN
    assert no_effect.loc[claim, "leans"] == "against: CartPole-v0 · Acrobot-v1 · LunarLander-v3"
    # an ablation with no effect: its parts hold NumPy's False, which leans against as Python's does
    late = pd.concat([classic(task=env) for env in envs])
    no_help = scorecard(pd.concat([late, late.assign(variant="iterative-reset", run="reset")])).set_index("claim")
    assert no_help.loc[CLAIMS[1][1], ["status", "leans"]].tolist() == [NOT_SHOWN, "against: CartPole-v0, late rewinding · "
                                                                       "Acrobot-v1, late rewinding · LunarLander-v3, late rewinding"]
    off_share = pd.concat([classic(task=env, rewind_fraction=0.1 if env == "Acrobot-v1" else None) for env in envs])
    card = scorecard(off_share).set_index("claim")
    assert card.loc[claim, "status"] == PARTLY
    assert "rewinds at 10% of its budget, the paper at 5%" in card.loc[claim, "our evidence"]


def test_levels_with_an_output_layer_pruned_are_left_out_of_the_verdicts():
    rows = classic(wt=(190, 185, 180, 20), rt=(150, 60, 25, 20), output_pruned_levels=(4,))
    verdicts = wt_vs_rt(rows, "reward")
    assert verdicts.level.tolist() == [1, 2, 3] and verdicts.wt_better.tolist() == [True, True, True]
    assert "at every level of 1–3" in scorecard(rows).set_index("claim").loc[CLAIMS[0][1], "our evidence"]


def test_ablations_need_a_consistent_gain_beyond_the_margin():
    late = classic(wt=(190, 185, 180))
    consistent = classic(variant="iterative-reset", wt=(150, 140, 130))
    claim = CLAIMS[1][1]
    evidence = scorecard(pd.concat([late, consistent])).set_index("claim").loc[claim, "our evidence"]
    assert "iterative-late 185 vs iterative-reset 140 (+45 over 3 seeds, margin 8.42, p = 0.000)" in evidence
    # LunarLander-v3's committed means, -31.0 vs -37.8, with seeds that disagree: no verdict either way
    noisy_late = table("classic_control", "LunarLander-v3", "reward", -30, (-31.0,), (-90,)).assign(
        value=lambda d: d.value + d.seed.map({0: 25.0, 1: -30.0, 2: 5.0}).where(d.ticket == "winning", 0.0))
    noisy_reset = table("classic_control", "LunarLander-v3", "reward", -30, (-37.8,), (-90,), "iterative-reset")
    card = scorecard(pd.concat([noisy_late, noisy_reset])).set_index("claim")
    assert "LunarLander-v3, late rewinding" in card.loc[claim, "our evidence"]
    # its interval includes both 0 and the margin: "we could not tell", not "no", and it says what would decide
    assert card.loc[claim, "status"] == UNRESOLVED
    assert "): inconclusive. These 3 seeds detect a gain of" in card.loc[claim, "our evidence"]
    assert "80% power would take" in card.loc[claim, "our evidence"]
    # runs that trained different dense nets (another env backend, say) are not paired seed by seed
    other = classic(variant="iterative-reset", wt=(150, 140, 130), dense_net="another dense net")
    evidence = scorecard(pd.concat([late, other])).set_index("claim").loc[claim, "our evidence"]
    assert "train different dense nets" in evidence



def test_a_classic_control_margin_is_a_share_of_the_dense_nets_gain_over_a_random_policy():
    from lthlib.families.classic_control import random_policy_return
    from lthlib.families import margin_for

    assert 15 < random_policy_return("CartPole-v0") < 30  # random actions keep the pole up ~22 steps
    assert random_policy_return("Acrobot-v1") < -450  # and almost never swing Acrobot up in 500
    floor = random_policy_return("LunarLander-v3")
    assert margin_for("classic_control", 3.0, "LunarLander-v3") == pytest.approx(0.05 * (3.0 - floor))
    assert margin_for("classic_control", 3.0) == pytest.approx(0.15)  # no task: |dense|, as other families
    # a dense reward near 0 no longer makes every consistent gain count: +8 of the ~195 learned is below 5%
    claim = CLAIMS[1][1]
    for gain, status in ((8.0, NOT_SHOWN), (15.0, PARTLY)):  # partly: the other envs have no runs here
        late = table("classic_control", "LunarLander-v3", "reward", 3.0, (0.0 + gain, -5.0 + gain), (-90, -95))
        reset = table("classic_control", "LunarLander-v3", "reward", 3.0, (0.0, -5.0), (-90, -95), "iterative-reset")
        assert scorecard(pd.concat([late, reset])).set_index("claim").loc[claim, "status"] == status


def test_results_to_question_a_ticket_far_above_its_dense_net_and_runs_that_score_alike():
    from lthlib.analysis import surprises

    lstm = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, (5.74, 5.40, 5.70), (6.0, 6.1, 6.2))
    assert "at level 2: 5.4 vs 5.76 at level 2 (+6.2%)" in surprises(lstm, "test_log_ppl", higher_is_better=False).question[0]
    # LunarLander: +20 reward on a dense 3 is +10% of the gain over a random policy (~-192), not +670%
    lunar = table("classic_control", "LunarLander-v3", "reward", 3.0, (23.0, 5.0), (-50, -60))
    assert "(+10.3%)" in surprises(lunar, "reward").question[0]
    same = classic(wt=(190, 185, 180), output_pruned_levels=(3,))
    twin = same.assign(variant="oneshot-late", run="oneshot-late-twin")
    found = surprises(pd.concat([same, twin]), "reward")
    assert found.question.tolist() == ["identical winning-ticket scores on every seed at level 2: "
                                       "are these runs really different?"]  # not 1 (copied), not 3 (output pruned)
    # not alike by chance: another dense net (another task, say), one seed, or a floor every seed hits
    assert surprises(pd.concat([same, twin.assign(dense_net="other")]), "reward").empty
    assert surprises(pd.concat([same[same.seed == 0], twin[twin.seed == 0]]), "reward").empty
    floor = classic(wt=(190, -500, 180)).assign(value=lambda d: d.value.where(d.level != 2, -500.0))
    assert surprises(pd.concat([floor, floor.assign(run="oneshot-late-twin", variant="oneshot-late")
                                .assign(value=lambda d: d.value.where(d.level != 3, 0.0))]), "reward").empty
    # a dense net no better than random actions: no scale, so no question of "more than 5%", and no verdict
    dead = table("classic_control", "Acrobot-v1", "reward", -499.0, (-480.0,), (-499.0,))
    assert surprises(dead, "reward").empty and not wt_vs_rt(dead, "reward").wt_better.any()

def test_a_stand_in_is_never_shown_and_the_papers_models_are_not_testable_here():
    everything = table("transformer_mt", "Multi30k", "bleu", 33.0, [33.0, 32.8, 32.9, 32.7, 32.8],
                       [31.0, 29.0, 27.0, 24.0, 22.0], paper_differences="arch, d_model")
    kept = table("transformer_mt", "Multi30k", "bleu", 33.0, [32.0, 31.0, 30.0, 29.0, 28.0],
                 [28.0, 22.0, 15.0, 9.0, 4.0], exclude="embedding.*, *norm*", paper_differences="arch, d_model")
    card = scorecard(pd.concat([everything, kept])).set_index("claim")
    mt = card[card.domain == "Transformer"]
    assert mt.status.tolist() == [NOT_TESTABLE, INDICATIVE, NOT_TESTABLE, INDICATIVE]
    assert (mt.scale.iloc[[1, 3]].str.contains("stand-in: a small Transformer on Multi30k")).all()
    assert "WT beats RT at every level of 1–5" in mt["our evidence"].iloc[1]
    assert "at 67% pruned WT BLEU 32.8 vs dense 33.0 (99.4%)" in mt["our evidence"].iloc[2]
    assert "embeddings kept whole 29.0, everything pruned 11.0" in mt["our evidence"].iloc[3]
    assert "falls along a straight line with R² 0.9" in mt["our evidence"].iloc[3]
    assert "WT declines roughly linearly" in mt.leans.iloc[3].split("against")[0]
    # a WT that rises with pruning (an undertrained dense net) fits a line too, but does not decline
    rising = kept.assign(value=kept.value.where(kept.ticket != "winning", 33.0 + kept.level))
    evidence = scorecard(pd.concat([everything, rising])).set_index("claim").iloc[-1]
    assert "rises along a straight line" in evidence["our evidence"]
    assert "WT declines roughly linearly" in evidence.leans.split("against")[1]
    # the dense net trained on for 2 budgets (the level-1 WT's lineage) beats that WT: the card says so
    control = table("transformer_mt", "Multi30k", "bleu", 35.0, [], [], paper_differences="arch, d_model, lineage_budgets")
    control = control.assign(longer_of=control.dense_net, dense_net="longer", lineage_budgets=2)
    card = scorecard(pd.concat([everything, kept, control])).set_index("claim")
    big = card[card.domain == "Transformer"]["our evidence"].iloc[2]
    assert "undertrained: trained on for as many updates as the level-1 WT's lineage, it scores 35.0 against that WT's 33.0 (3 seed(s))" in big
    assert card[card.domain == "Transformer"].status.tolist() == [NOT_TESTABLE, INDICATIVE, NOT_TESTABLE, INDICATIVE]


def test_atari_claims_against_the_dense_net_need_a_dense_net_that_learned():
    runs = pd.concat([
        table("atari", "Seaquest", "reward", 200, [260, 250, 240, 230], [150, 140, 235, 100], seeds=1),
        table("atari", "Krull", "reward", 2200, [3100, 3000, 2900, 2800], [3200, 3100, 2700, 2600], seeds=1),
        table("atari", "Breakout", "reward", 1.0, [1.4, 1.3, 1.2, 1.1], [0.9, 1.0, 0.8, 0.7], seeds=1),
    ])
    card = scorecard(runs, random_policy={"Seaquest": 133.0, "Krull": 2221.0, "Breakout": 2.6}).set_index("claim")
    helps = card.loc["WT helps a lot on Assault, Seaquest, Berzerk; slightly on Breakout, Centipede"]
    assert helps.status == INDICATIVE  # one seed of Seaquest
    assert "Seaquest: WT beats RT at levels 1–2, 4 of 1–4 (indicative: 1 seed)" in helps["our evidence"]
    assert "Breakout: neither the dense agent (1.0) nor its tickets" in helps["our evidence"]
    krull = card.loc["Krull: no WT/RT difference, both fine even at extreme pruning"]
    assert krull.status == NOT_TESTABLE and "its dense net (2200.0) is below" in krull["our evidence"]


def test_lstm_claims_on_three_seeds_and_control_runs_stay_apart():
    wt = [5.70, 5.71, 5.72, 5.74, 5.75, 5.78, 5.80, 5.83, 5.85, 5.86]
    late = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, wt, [w + 0.3 for w in wt])
    card = scorecard(late).set_index("claim")
    claim = "WT beats RT at every level and stays near the dense net up to ~90% pruned"
    assert card.loc[claim, "status"] == SHOWN
    control = classic(rt=(190, 185, 180), paper_differences="equal_updates")
    both = scorecard(pd.concat([classic(), control])).set_index("claim")
    assert "CartPole-v0: WT beats RT at every level of 1–3" in both.loc[CLAIMS[0][1], "our evidence"]  # the main run, not the control
    # an old iterative-reset run beside a rerun of iterative-late with another optimizer: not paired seed by seed
    reset = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.8, [w + 0.1 for w in wt], [w + 0.3 for w in wt],
                  "iterative-reset", dense_net="per-tensor Adam")
    card = scorecard(pd.concat([late, reset])).set_index("claim")
    assert "train different dense nets" in card.loc["Without late rewinding only intermediate levels suffer", "our evidence"]


def test_a_wt_near_the_dense_net_is_not_counted_where_the_rt_is_as_near():
    """The committed LSTM: the WT stays within 2% of the dense net to 96% pruned, but so does the RT; that part
    cannot tell a winning ticket from sparsity itself, so it counts neither for nor against."""
    wt = [5.70, 5.71, 5.72, 5.74, 5.75, 5.78, 5.80, 5.83, 5.85, 5.86]
    close = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, wt, [w + 0.01 for w in wt])  # RT 0.01 nats worse
    row = scorecard(close).set_index("claim").loc["WT beats RT at every level and stays near the dense net up to ~90% pruned"]
    assert "but so does the mean RT, up to 89% pruned (level 10): this part cannot discriminate" in row["our evidence"]
    assert "WT vs dense" not in row.leans and row.status != SHOWN


def test_lstm_wt_near_dense_counts_only_the_seeds_behind_every_level_it_reaches():
    """A third seed part-way through its levels (a grid still running): the mean WT stays near the dense net
    up to the last level on 2 seeds only, so that part is indicative, not shown."""
    wt = [5.70, 5.71, 5.72, 5.74, 5.75, 5.78, 5.80, 5.83, 5.85, 5.86]
    late = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, wt, [w + 0.3 for w in wt])
    partial = late[(late.seed < 2) | (late.level <= 4)]
    evidence = scorecard(partial).set_index("claim").loc[
        "WT beats RT at every level and stays near the dense net up to ~90% pruned", "our evidence"]
    assert "up to 89% pruned (level 10) (indicative: 2 seeds)" in evidence


def test_a_seed_without_a_score_is_no_evidence_and_an_empty_table_scores_nothing(tmp_path):
    from lthlib import load_results

    seeds = pd.Index([0, 1, 2, 3])
    result = compare(pd.Series([10.0, 11.0, float("nan"), 10.5], seeds), pd.Series([5.0, 5.5, 5.0, 4.9], seeds), 1.0)
    assert result.seeds == 3 and result.better
    card = scorecard(load_results(tmp_path))
    assert set(card.status) <= {PENDING, NOT_TESTABLE}


def test_an_ablation_pairs_with_the_run_that_trains_the_main_runs_dense_net():
    """Two equally large iterative-reset runs (an old backend's and its rerun): the one that trains the
    iterative-late run's dense net is the main one, whichever comes first in the table."""
    main = classic(dense_net="envpool")
    old = classic(variant="iterative-reset", dense_net="gymnasium").assign(run="iterative-reset-a-old")
    rerun = classic(variant="iterative-reset", dense_net="envpool").assign(run="iterative-reset-z-new")
    for order in ([old, rerun], [rerun, old]):
        chosen = main_runs(pd.concat([main, *order], ignore_index=True))
        assert set(chosen[chosen.variant == "iterative-reset"].run) == {"iterative-reset-z-new"}
        assert set(chosen[chosen.variant == "iterative-late"].run) == set(main.run)


def test_a_level_with_its_winning_ticket_alone_is_not_judged_against_random_tickets():
    part_way = classic().query("not (level == 3 and ticket == 'random')")  # the sweep is in level 3's RT
    evidence = scorecard(part_way).set_index("claim").loc[CLAIMS[0][1], "our evidence"]
    assert "CartPole-v0: WT beats RT at every level of 1–2" in evidence and "indicative" not in evidence


def test_runs_part_way_through_a_seed_are_compared_on_the_levels_each_seed_has_in_both():
    """The LSTM grid as it runs: iterative-late has seeds 0-1 whole and seed 2 to level 4, iterative-reset only
    seed 2 so far. Only seed 2's levels 1-4 pair; the levels past 91% pair no seed yet."""
    wt = [5.70, 5.71, 5.72, 5.74, 5.75, 5.78, 5.80, 5.83, 5.85, 5.86, 5.9, 5.95, 6.0, 6.1]
    late = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, wt, [w + 0.3 for w in wt])
    late = late[(late.seed < 2) | (late.level <= 4)]
    reset = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, [w + 0.1 for w in wt], [w + 0.3 for w in wt],
                  "iterative-reset").query("seed == 2")
    card = scorecard(pd.concat([late, reset])).set_index("claim")
    assert "worse at intermediate levels 2–3 of 2–3 (Holm-corrected); at the ends (levels 1, 4): 1, 4 (indicative: " \
        "1 seed)" in card.loc[
        "Without late rewinding only intermediate levels suffer", "our evidence"]
    converge = card.loc["Iterative with and without late rewinding converge past ~91% pruned"]
    assert converge.status == PENDING and "nan" not in converge["our evidence"]
    # a one-shot run with seed 0 whole and seeds 1-2 at levels 1-3: the levels past 80% pruned rest on seed 0 alone
    oneshot = table("lstm_lm", "WikiText-2", "test_log_ppl", 5.76, [w + 0.5 for w in wt], wt, "oneshot-reset")
    oneshot = oneshot[(oneshot.seed == 0) | (oneshot.level <= 3)]
    collapse = scorecard(pd.concat([late, reset, oneshot])).set_index("claim").loc[
        "One-shot pruning collapses, worse than RT beyond 80% pruned"]
    assert collapse.status == "indicative" and collapse["our evidence"].endswith("(8–14) (indicative: 1 seed)")
    # a classic ablation with one seed part-way: each seed's mean covers the same levels on both sides
    from lthlib.claims import paired_levels, paired_wt_means

    main = classic(wt=(190, 185, 180))
    reset = classic(variant="iterative-reset", wt=(180, 175, 100)).query("seed < 2 or level <= 2")
    a, b = paired_wt_means(main, reset, paired_levels(main, reset))
    # seed 2: levels 1-2 on both sides, (190 + 185) / 2 - (180 + 175) / 2, not main's level 3 as well (7.5)
    assert a[2] - b[2] == pytest.approx(10.0) and a[0] - b[0] == pytest.approx((190 + 185 + 180 - 180 - 175 - 100) / 3)
    evidence = scorecard(pd.concat([main, reset])).set_index("claim").loc[
        "Late rewinding improves winning tickets (ablation)", "our evidence"]
    assert "mean WT over levels 1–3" in evidence and "over 3 seeds" in evidence


def test_each_main_run_is_listed_with_the_seeds_its_executed_notebook_shows(tmp_path):
    import nbformat

    df = pd.concat([classic(), classic(task="Acrobot-v1", seeds=2)])
    cartpole = df[df.task == "CartPole-v0"].run.iloc[0]
    (tmp_path / "CartPole-v0").mkdir()
    notebook = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": {"seeds": [0, 1]}}})
    nbformat.write(notebook, tmp_path / "CartPole-v0" / f"{cartpole}.ipynb")
    assert executed_notebooks(df, tmp_path).to_dict("records") == [
        {"task": "Acrobot-v1", "variant": "iterative-late", "run": df[df.task == "Acrobot-v1"].run.iloc[0],
         "seeds committed": "0, 1", "executed notebook": "none"},  # no notebook: its run directory is elsewhere
        {"task": "CartPole-v0", "variant": "iterative-late", "run": cartpole, "seeds committed": "0, 1, 2",
         "executed notebook": "seeds 0, 1"}]
    scopes = pd.concat([table("transformer_mt", "Multi30k", "bleu", 24, (28,), (25,), exclude=exclude)
                        for exclude in ("", "embedding.*")])
    assert executed_notebooks(scopes, tmp_path).pruned.tolist() == ["everything", "all but embedding.*"]


def test_holm_steps_down_and_stops_at_the_first_p_that_fails():
    from lthlib.verdicts import holm

    assert holm([0.03, 0.001, 0.02]) == [True, True, True]  # 0.001 < 0.05/3, 0.02 < 0.05/2, 0.03 < 0.05
    assert holm([0.04, 0.001, 0.03]) == [False, True, False]  # 0.03 > 0.05/2 stops it: 0.04 < 0.05 is not tried
    assert holm([0.006] + [0.5] * 9) == [False] * 10  # 0.006 > 0.05/10
    assert holm([]) == []


def test_a_claim_at_some_level_counts_a_level_only_past_holms_correction():
    """Qbert's claim "WT raises the reward above the dense net" tried at 10 levels: one level a little above
    the dense net on every seed (p between 0.005 and 0.05) passes the rule on its own, not among ten."""
    from lthlib.claims import levels_won
    from lthlib.claims_rl import dense_as_level

    claim = "WT raises the reward above the dense net on Berzerk and Qbert"
    one_level = table("atari", "Qbert", "reward", 500, [480] * 4 + [527] + [480] * 5, [400] * 10)
    level_5 = compare(one_level.query("ticket == 'winning' and level == 5").set_index("seed").value,
                      one_level.query("ticket == 'dense'").set_index("seed").value, margin=25)
    assert level_5.gain == pytest.approx(27) and 0.005 < level_5.p_value < 0.05
    dense = dense_as_level(one_level, list(range(1, 11)))
    assert levels_won(one_level, ("winning", one_level), ("dense@", dense), list(range(1, 11))) == [5]  # uncorrected
    card = scorecard(one_level, random_policy={"Qbert": 150.0}).set_index("claim")
    assert card.loc[claim, "status"] == UNRESOLVED  # its widened interval includes the margin: not a "no"
    assert "Qbert: WT above the dense 500.0 at no level of 1–10, Holm-corrected (best mean WT 527.0, level 5)" in \
        card.loc[claim, "our evidence"]
    two_levels = table("atari", "Qbert", "reward", 500, [480] * 4 + [600, 610] + [480] * 4, [400] * 10)
    evidence = scorecard(two_levels, random_policy={"Qbert": 150.0}).set_index("claim").loc[claim, "our evidence"]
    assert "at levels 5–6 of 1–10, Holm-corrected" in evidence


def test_krulls_no_difference_rests_on_an_equivalence_test_not_on_point_estimates():
    """WT and RT 1% of the dense score apart at every level: with seeds that agree the equivalence test (TOST,
    margin 10% of the dense score) passes; with seeds whose differences swing by ±40% it cannot tell."""
    claim = "Krull: no WT/RT difference, both fine even at extreme pruning"
    tight = table("atari", "Krull", "reward", 2500, [2520] * 4, [2500] * 4)
    assert scorecard(tight, random_policy={"Krull": 2221.0}).set_index("claim").loc[claim, "status"] == SHOWN
    swing = tight.assign(value=lambda d: d.value + d.seed.map({0: 1000.0, 1: -1000.0, 2: 0.0}).where(
        d.ticket == "winning", 0.0))  # the same means, 2,000 apart across seeds
    card = scorecard(swing, random_policy={"Krull": 2221.0}).set_index("claim")
    assert card.loc[claim, "status"] == UNRESOLVED and "(TOST) at 0 of 4 levels" in card.loc[claim, "our evidence"]
    apart = table("atari", "Krull", "reward", 2500, [3500] * 4, [2500] * 4)  # WT 40% above RT at every level
    assert scorecard(apart, random_policy={"Krull": 2221.0}).set_index("claim").loc[claim, "status"] == NOT_SHOWN


def test_a_part_leans_the_way_its_estimate_points_even_where_it_fails_the_margin():
    """LunarLander-v3's committed late-rewinding gain: +8.39 with every seed positive, margin 9.74."""
    late = table("classic_control", "LunarLander-v3", "reward", 3.0, (-5.0,), (-90,)).assign(
        value=lambda d: d.value + d.seed.map({0: 8.5, 1: 9.9, 2: 6.7}).where(d.ticket == "winning", 0.0))
    reset = table("classic_control", "LunarLander-v3", "reward", 3.0, (-5.0,), (-90,), "iterative-reset")
    row = scorecard(pd.concat([late, reset])).set_index("claim").loc[CLAIMS[1][1]]
    assert row.leans == "for: LunarLander-v3, late rewinding"
    assert "direction supported, size unresolved" in row["our evidence"] and row.status == UNRESOLVED


def test_the_forest_plot_draws_each_levels_estimate_with_its_interval():
    from lthlib.analysis import wt_rt_estimates
    from lthlib.plots import forest

    estimates = wt_rt_estimates(classic(wt=(190, 185, 180), rt=(150, 60, 25)), "reward")
    assert estimates.level.tolist() == [1, 2, 3] and (estimates.low < estimates.gain).all()
    assert estimates.outcome.tolist() == ["shown"] * 3 and estimates.gain.round(6).tolist() == [40.0, 125.0, 155.0]
    fig = forest(estimates, "CartPole-v0")
    (points,) = fig.data
    assert list(points.y) == estimates.gain.tolist()
    assert list(points.error_y.arrayminus) == pytest.approx((estimates.gain - estimates.low).tolist())


def test_the_level_table_with_its_spread_gives_each_tickets_mean_std_and_the_gap():
    import pandas as pd

    from lthlib.plots import level_table

    rows = [{"family": "classic_control", "task": "CartPole-v0", "variant": "iterative-late", "run": "r", "exclude": "",
             "ticket": t, "seed": s, "level": k, "fraction_pruned": 0.2 * k, "metric": "reward", "value": v,
             "output_pruned": False}
            for s, (d, w, r) in enumerate([(190.0, 180.0, 100.0), (194.0, 184.0, 110.0)])
            for t, k, v in (("dense", 0, d), ("winning", 1, w), ("random", 1, r))]
    table = level_table(pd.DataFrame(rows), "reward", spread=True)
    assert list(table.columns) == ["dense mean", "dense std", "random mean", "random std", "winning mean", "winning std",
                                   "WT - RT"]
    at = table.loc[(1, 20.0)]
    assert (at["winning mean"], at["random mean"], at["WT - RT"]) == (182.0, 105.0, 77.0)
    assert at["random std"] == pytest.approx(7.0711, abs=1e-3)
    assert list(level_table(pd.DataFrame(rows), "reward").columns) == ["dense", "random", "winning"]  # means alone


def test_levels_are_named_as_a_person_would():
    from lthlib.spans import at_levels

    assert at_levels([], range(1, 11)) == "at no level of 1–10"
    assert at_levels(range(1, 11), range(1, 11)) == "at every level of 1–10"
    assert at_levels([3], range(1, 11)) == "at level 3 of 1–10"
    assert at_levels([4, 5, 6, 9], range(1, 18)) == "at levels 4–6, 9 of 1–17"
