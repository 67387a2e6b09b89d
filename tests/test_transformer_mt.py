import dataclasses
import math
import os
from pathlib import Path

import nbformat
import papermill
import pytest
import torch
import torch.nn.functional as F

from lthlib import Lottery, Mask, experiment, load_results, run_lottery
from lthlib.analysis import lineage_trained, trained_longer
from lthlib.atomic import read_json
from lthlib.families import transformer_mt as T, translation_data as D
from lthlib.families.decoding import beam_search, sacrebleu_score, tokenized_bleu

SHARED = Path(__file__).parents[2] / "shared" / "data" / "multi30k"
# skipped where the data is absent, but never in CI, where it must be there
needs_data = pytest.mark.skipif(not (SHARED / "train.en").exists() and not os.environ.get("CI"),
                                reason=f"Multi30k not at {SHARED}")


@pytest.fixture(autouse=True)
def shared_data(monkeypatch):
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(SHARED))


def test_bleu_of_a_reference_against_itself_is_100():
    references = ["Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.", "Zwei Hunde spielen im Schnee."]
    assert sacrebleu_score(references, references)[0] == pytest.approx(100.0)
    assert tokenized_bleu(references, references) == pytest.approx(100.0)


def test_bleu_matches_a_hand_computed_value():
    # hypothesis "the cat sat on the mat", reference "the cat sat on the red mat":
    # n-gram precisions 6/6, 4/5, 3/4, 2/3; brevity penalty exp(1 - 7/6)
    expected = 100 * math.exp(1 - 7 / 6) * (1 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    score, signature = sacrebleu_score(["the cat sat on the mat"], ["the cat sat on the red mat"])
    assert score == pytest.approx(expected, abs=1e-9)
    assert "tok:13a" in signature and "case:mixed" in signature


def test_tokenized_bleu_splits_hyphenated_compounds():
    # Moses with aggressive hyphen splitting: "Rot-Kreuz" -> "Rot @-@ Kreuz", so a half-right compound
    # earns n-gram credit it would not get as one token
    one_token = sacrebleu_score(["Das Rot-Haus ."], ["Das Rot-Kreuz ."])[0]
    assert tokenized_bleu(["Das Rot-Haus ."], ["Das Rot-Kreuz ."]) > one_token


def test_checkpoint_averaging_is_the_element_wise_mean():
    torch.manual_seed(0)
    dicts = [{"w": torch.randn(3, 4), "b": torch.randn(4)} for _ in range(3)]
    averaged = T.average_state_dicts(dicts)
    for name in ("w", "b"):
        assert torch.allclose(averaged[name], (dicts[0][name] + dicts[1][name] + dicts[2][name]) / 3)
    dicts[0]["w"][0, 0] = dicts[1]["w"][0, 0] = dicts[2]["w"][0, 0] = 0.0  # pruned everywhere: stays 0
    assert T.average_state_dicts(dicts)["w"][0, 0] == 0.0


def test_dropout_sits_where_fairseq_puts_it():
    """`dropout` on embeddings and sublayer outputs only; attention and activation dropout are their own knobs."""
    torch.manual_seed(0)
    source, target = torch.randint(4, 50, (3, 7)), torch.randint(4, 50, (3, 6))

    def stochastic(**dropouts) -> bool:
        model = T.Transformer(50, d_model=32, ffn_dim=64, heads=2, layers=2, **dropouts)
        model.eval()
        expected = model(source, target)
        model.train()
        return not torch.allclose(model(source, target), expected)

    assert not stochastic(dropout=0.0)  # attention and activation dropout default to 0, as in both archs
    assert stochastic(dropout=0.0, attention_dropout=0.5)
    assert stochastic(dropout=0.0, activation_dropout=0.5)
    assert stochastic(dropout=0.3)
    assert T.config(preset="paper", arch="big", data_dir=str(SHARED), task="Multi30k").attention_dropout == 0.0


def test_training_pairs_are_cleaned_like_clean_corpus_n():
    def sentences(lengths):
        offsets = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
        return D.Sentences(torch.arange(int(offsets[-1]), dtype=torch.int32), offsets)

    source, target = sentences([3, 0, 10, 4, 300, 6]), sentences([4, 2, 5, 6, 200, 4])
    keep = D.clean_pairs(source, target, max_len=250, max_ratio=1.5)
    assert keep.tolist() == [True, False, False, True, False, True]  # empty side, ratio 2, too long dropped
    assert D.clean_pairs(source, target, 250, None).tolist() == [True, False, True, True, False, True]
    kept = source.select(keep)
    assert len(kept) == 3 and [kept[i] for i in range(3)] == [source[0], source[3], source[5]]


def test_inverse_square_root_schedule():
    cfg = T.TransformerConfig(lr=7e-4, warmup_updates=4000, warmup_init_lr=1e-7)
    assert T.inverse_sqrt(0, cfg) == pytest.approx(1e-7)
    assert T.inverse_sqrt(4000, cfg) == pytest.approx(7e-4)
    assert T.inverse_sqrt(16000, cfg) == pytest.approx(3.5e-4)
    assert T.inverse_sqrt(2000, cfg) == pytest.approx((1e-7 + 7e-4) / 2, rel=1e-3)


@needs_data
def test_sentences_are_stored_flat_and_read_back_as_encoded():
    cfg = T.config("", "smoke")
    data = D.corpus(cfg)
    lines = D.read_lines(SHARED / "val.en")
    assert len(data.valid.source) == len(lines) == 1014
    assert [data.valid.source[i] for i in (0, 500, 1013)] == data.bpe.encode([lines[i] for i in (0, 500, 1013)])
    assert data.valid.source.ids.dtype == torch.int32


@needs_data
def test_token_batches_cover_every_sentence_once_within_the_budget():
    cfg = T.config("", "smoke")
    split = D.corpus(cfg).valid
    batches = D.token_batches(split, 500, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(len(split.source)))
    for batch in batches:
        longest = max(max(len(split.source[i]), len(split.target[i])) + 1 for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= 500


@needs_data
def test_a_tiny_model_overfits_real_pairs_and_beam_search_decodes_them_exactly():
    cfg = T.config("", "smoke")
    data = D.corpus(cfg)
    pairs = list(range(4))
    source, decoder_input, target = D.make_batch(data.train, pairs, "cpu")
    torch.manual_seed(0)
    model = T.Transformer(cfg.vocab_size, d_model=64, ffn_dim=128, heads=2, layers=2, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98))
    for _ in range(300):
        loss = F.cross_entropy(model(source, decoder_input).flatten(0, 1), target.flatten(), ignore_index=D.PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    decoded = beam_search(model, source, D.BOS, D.EOS, beam=4)
    assert decoded == [data.train.target[i] for i in pairs]
    assert [data.bpe.decode(ids) for ids in decoded] == D.read_lines(SHARED / "train.de")[:4]


@needs_data
def test_prune_embeddings_false_keeps_every_embedding_entry_alive(tmp_path):
    cfg = T.config("", "smoke")
    scopes = {}
    for exclude in ((), T.NOT_EMBEDDINGS):
        root = run_lottery(T.FAMILY, cfg, Lottery(levels=2, exclude=exclude), seeds=[0], runs_dir=tmp_path,
                           progress=False)
        scopes[exclude] = [Mask.load(root / "seed_0" / f"level_{k:02d}" / "mask.pt") for k in (1, 2)]
    for mask in scopes[T.NOT_EMBEDDINGS]:
        assert "embedding.weight" not in mask and not any("norm" in name for name in mask)
        assert any(name.endswith("self_attn.in_proj_weight") for name in mask)
        assert any(name.endswith("linear1.weight") for name in mask)
        assert any(name.endswith("linear1.bias") for name in mask)  # the layers' biases are pooled too
    for mask in scopes[()]:
        assert not mask["embedding.weight"].all()  # pooled with the rest, and pruned
    assert scopes[()][1].fraction_pruned() == pytest.approx(0.36, abs=1e-4)
    df = load_results(tmp_path)
    assert {"bleu", "tokenized_bleu", "valid_nll"} <= set(df.metric)


@needs_data
def test_pruned_weights_stay_zero_through_training_and_averaging():
    cfg = T.config("", "smoke", updates=8)
    model = T.build_model(cfg, 0)
    from lthlib import prune_global

    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    T.train(model, mask, cfg, seed=0)
    params = dict(model.named_parameters())
    assert all((params[name][~m] == 0).all() for name, m in mask.items())


@needs_data
def test_the_longer_control_trains_the_rewind_points_updates_more_and_averages_its_own_last_checkpoints():
    cfg = T.config("", "smoke", updates=8, longer_by_rewind=True)  # rewinds at 1 of 8: trains 9
    results = {}
    for config in (dataclasses.replace(cfg, longer_by_rewind=False), cfg):
        model = T.build_model(config, 0)
        results[config.longer_by_rewind] = T.train(model, Mask.ones(model), config, seed=0)
    assert [results[k]["stats"]["updates"] for k in (False, True)] == [8, 9]
    assert results[True]["stats"]["checkpoints_averaged"] == cfg.average_last
    assert results[True]["stats"]["samples"] > results[False]["stats"]["samples"]


@needs_data
def test_the_lineage_control_trains_the_dense_net_on_for_as_many_budgets_as_an_iterative_tickets_lineage(tmp_path):
    cfg = T.config("", "smoke")
    root = run_lottery(T.FAMILY, cfg, Lottery(levels=1, random_tickets=False), seeds=[0], runs_dir=tmp_path,
                       progress=False)
    control = run_lottery(T.FAMILY, T.config("", "smoke", lineage_budgets=2), Lottery(levels=0), seeds=[0],
                          runs_dir=tmp_path, progress=False)
    dense, longer = (read_json(run / "seed_0" / "level_00" / "dense.json") for run in (root, control))
    assert (dense["stats"]["updates"], longer["stats"]["updates"]) == (6, 12)
    # the same net, batches and schedule: its first budget's losses are the dense net's
    assert longer["history"]["train_loss"][:3] == dense["history"]["train_loss"]
    assert longer["metrics"]["valid_nll"] < dense["metrics"]["valid_nll"]
    df = load_results(tmp_path)
    assert set(df[df.run == control.name].lineage_budgets) == {2} and set(df[df.run == root.name].lineage_budgets) == {1}
    row = lineage_trained(df, "bleu").iloc[0]
    wt = df[(df.run == root.name) & (df.ticket == "winning") & (df.level == 1) & (df.metric == "bleu")].value.iloc[0]
    assert (row["level"], row["seeds"], row["WT"]) == (1, 1, round(wt, 4))
    assert row["dense, trained the lineage's budgets"] == round(longer["metrics"]["bleu"], 4)
    assert row["WT better than the longer dense net"].endswith("(indicative)")
    assert math.isnan(row["RT"])  # a run without random tickets
    assert trained_longer(df, "bleu").empty  # the longer_by_rewind control's table leaves it out
    with pytest.raises(ValueError, match="lineage_budgets trains a dense net only.*set levels 0, got 2"):
        experiment.prepare(T.FAMILY, "Multi30k", "smoke", "iterative-late", 0.2, 2, [0], lineage_budgets=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "huge"}, "unknown preset"),
    ({"arch": "large"}, "unknown arch"),
    ({"task": "IWSLT"}, "unknown dataset"),
    ({"heads": 3}, "multiple of heads"),
    ({"rewind_updates": 0}, "rewind_updates"),
    ({"beem": 4}, "unknown config fields"),
])
def test_bad_parameters_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.config(**{"preset": "smoke", **kwargs})


def test_missing_data_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_WMT14_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"train.en.*missing in .*statmt.org/wmt14.*LTH_WMT14_DIR"):
        T.config("", "paper")


@needs_data
def test_notebook_runs_under_papermill_at_smoke(tmp_path):
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(Path(__file__).parents[1] / "notebooks" / "transformer_mt.ipynb", out,
                               parameters={"preset": "smoke", "levels": 1, "runs_dir": str(tmp_path / "runs")},
                               progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs) >= 1
    df = load_results(tmp_path / "runs")
    assert set(df.ticket) == {"dense", "winning", "random"}
    assert len(df[(df.metric == "bleu")]) == 2 * 3  # both pruning scopes: dense, WT, RT


@needs_data
def test_sweep_plans_one_run_per_notebook_with_the_notebooks_scope(tmp_path):
    from lthlib import sweep
    from lthlib.lottery import run_root

    [item] = sweep.plan("transformer_mt", seeds=[0], preset="smoke", runs_dir=tmp_path, levels=1,
                        prune_embeddings=False)
    assert item.parameters["both_scopes"] is False and item.parameters["dataset"] == "Multi30k"
    expected = run_root(tmp_path, T.FAMILY, T.config("Multi30k", "smoke"), Lottery(levels=1, exclude=T.NOT_EMBEDDINGS))
    assert item.root == expected


NEWSTEST = Path(__file__).parents[2] / "shared" / "data" / "wmt14-newstest2014"


@pytest.mark.skipif(not (NEWSTEST / "newstest2014.en").exists(), reason=f"newstest2014 not at {NEWSTEST}")
def test_wmt14_finds_newstest2014_in_its_own_directory(tmp_path, monkeypatch):
    for name in ("train.en", "train.de", "newstest2013.en", "newstest2013.de"):
        (tmp_path / name).write_text("a\n")
    monkeypatch.setenv("LTH_WMT14_DIR", str(tmp_path))
    monkeypatch.setenv("LTH_NEWSTEST2014_DIR", str(NEWSTEST))
    files = D.data_files(T.config("", "paper"))
    assert files["train"][0] == tmp_path / "train.en" and files["test"] == (NEWSTEST / "newstest2014.en",
                                                                          NEWSTEST / "newstest2014.de")
