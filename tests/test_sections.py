"""The sections every chapter repeats, rendered once from the committed results, with each family's own facts."""

import pytest

from lthlib import families, load_results, sections
from lthlib.analysis import main_runs, wt_wins_summary
from lthlib.paths import resolve

RESULTS = resolve("data/results")


@pytest.mark.parametrize("family", sorted(families.MODULES))  # the families shipped, with results
def test_each_section_states_its_rule_and_tables_the_committed_runs(family):
    df = main_runs(load_results(resolve(f"data/results/{family}")))
    fam = families.get(family)
    where = sections.where_winning_tickets_win(df, family)
    assert f"beyond {fam.margin:.0%} of the dense net&#x27;s {fam.margin_of}" in where
    summary = wt_wins_summary(df, fam.metric, fam.higher_is_better)
    assert where.count("<tr") == len(summary) + 1  # a header row and one per run
    assert "exactly alike" in sections.results_to_question(df, family)
    trained = sections.what_each_ticket_trained_on(df, family, levels=(1, 5))
    assert f"Updates and samples ({fam.samples_unit}) per ticket" in trained and "<table" in trained
    notebooks = sections.executed_notebooks_section(family, what="its frames")
    assert "executed notebook, its frames, follows" in notebooks
    assert all(run in notebooks for run in {p.stem for p in resolve(f"data/results/{family}").rglob("*.ipynb")}
               if run in set(df.run))


@pytest.mark.parametrize("family, kind", [("classic_control", "lineage"), ("atari", "lineage"), ("lstm_lm", "longer"),
                                          ("transformer_mt", "longer")])
def test_the_control_sections_say_how_to_run_them_and_table_the_committed_controls(family, kind):
    from lthlib.analysis import lineage_trained, trained_longer

    fam = families.get(family)
    results = load_results(resolve(f"data/results/{family}"))
    if kind == "lineage":
        text, table = sections.lineage_section(family, same="same envs", task="X"), lineage_trained(
            results, fam.metric, fam.higher_is_better)
        assert f"lth sweep --family {family} --tasks X" in text and "lineage_budgets: 2" in text
    else:
        text, table = sections.trained_longer_section(family), trained_longer(results, fam.metric, fam.higher_is_better)
        assert "longer_by_rewind: true" in text
    if len(table):
        assert text.count("<tr") == len(table) + 1  # the committed controls, a row each
    else:
        assert "the control is not committed yet" in text and "<tr" not in text


def test_each_chapter_tables_its_dense_nets_against_the_paper_and_a_trivial_baseline():
    from lthlib.families import lstm_lm, wikitext2 as unigram
    from lthlib.sections import dense_against_paper

    classic = dense_against_paper("classic_control")
    lunar = classic[classic.index("LunarLander-v3"):].split("</tr>")[0]
    assert "(random policy)" in lunar and ">7.8%<" in lunar  # 10 x 100 of the paper's 20 x 640 episodes
    lstm = dense_against_paper("lstm_lm")
    bar = [b for b in unigram.unigram_baselines(RESULTS) if b["data"]["train_tokens"] == 600_000][0]
    assert f"{bar['test_log_ppl']:.4g} (unigram model" in lstm and "~4.6" in lstm
    assert "a stand-in" in dense_against_paper("transformer_mt") and lstm_lm.FAMILY.paper_dense
