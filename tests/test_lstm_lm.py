import math
import os
from collections import Counter
import warnings
from pathlib import Path

import pytest
import torch

from lthlib import Lottery, Mask, MaskedTraining, experiment, load_results, prune_global, run_lottery
from lthlib.analysis import trained_longer
from lthlib.atomic import read_json
from lthlib.store import load_budgets
from lthlib.families import lstm_lm as L, wikitext2 as W

SHARED = Path(__file__).parents[2] / "shared" / "data" / "wikitext-2"
# skipped where the data is absent, but never in CI, where it must be there
needs_data = pytest.mark.skipif(not (SHARED / "train.txt").exists() and not os.environ.get("CI"),
                                reason=f"WikiText-2 not at {SHARED}")


@pytest.fixture(autouse=True)
def shared_data(monkeypatch):
    monkeypatch.setenv(W.DATA_ENV_VAR, str(SHARED))


@needs_data
def test_corpus_matches_the_published_counts():
    corpus = L.load_corpus(L.data_dir(L.config("smoke")))
    assert len(corpus.vocab) == 33_278 == L.VOCAB_SIZE  # the counts a grid planned without the data uses
    assert corpus.train.numel() == 2_088_628 == L.TRAIN_TOKENS
    assert (corpus.valid.numel(), corpus.test.numel()) == (217_646, 245_569)
    counts = torch.bincount(corpus.train, minlength=len(corpus.vocab))
    assert (counts[:-1] >= counts[1:]).all()  # ids in order of training frequency
    assert next(iter(corpus.vocab)) == "the"



@needs_data
def test_the_unigram_bar_is_word_frequencies_and_a_trained_net_clears_it(tmp_path):
    cfg = L.config("smoke", train_tokens=20_000, eval_tokens=2_000)
    tokens = {split: W.tokenize(SHARED / f"{split}.txt") for split in ("train", "test")}
    counts = Counter(tokens["train"][:20_000])
    vocab = len(L.load_corpus(L.data_dir(cfg)).vocab)
    columns = [tokens["test"][:2_000][i * 200:(i + 1) * 200] for i in range(10)]  # batchify: 10 columns
    nll = [-math.log((counts[t] + 1) / (20_000 + vocab)) for column in columns for t in column[1:]]
    bar = W.unigram_baseline(cfg)
    assert bar["test_log_ppl"] == pytest.approx(sum(nll) / len(nll), rel=1e-9)
    assert 6 < bar["test_log_ppl"] < 8  # ~ln 1000: word frequencies alone
    path = W.publish_unigram_baseline(bar, tmp_path)
    assert W.unigram_baselines(tmp_path) == [bar] and path.parent.name == "WikiText-2"
    results = Path(__file__).parents[1] / "data" / "results"
    cpu = [b for b in W.unigram_baselines(results) if b["data"]["train_tokens"] == 600_000]
    dense = load_results(results / "lstm_lm").query("ticket == 'dense' and metric == 'test_ppl'").value
    assert cpu and len(dense) and dense.max() < cpu[0]["test_ppl"] / 2  # the committed cpu dense nets learned


@needs_data
def test_a_small_real_slice_trains_and_its_loss_falls():
    cfg = L.config("smoke", epochs=3, train_tokens=6_000, hidden_size=32, embedding_size=32, lr=3e-3)
    model = L.build_model(cfg, seed=0)
    captured = []
    result = L.train(model, Mask.ones(model), cfg, seed=0, rewind_hook=lambda m: captured.append(1))
    losses = result["history"]["train_loss"]
    assert losses[-1] < losses[0] - 1.0  # from ~ln(33278) = 10.4 down
    assert result["metrics"]["test_log_ppl"] < math.log(33_278)
    assert result["metrics"]["test_ppl"] == pytest.approx(math.exp(result["metrics"]["test_log_ppl"]))
    assert captured == [1]


def test_log_perplexity_is_the_mean_token_nll():
    model = L.LSTMLanguageModel(vocab_size=4, embedding_size=3, hidden_size=3, layers=2, dropout=0.5)
    probabilities = torch.tensor([0.1, 0.2, 0.3, 0.4])
    with torch.no_grad():  # the output ignores the input: logits = log p
        model.decoder.weight.zero_()
        model.decoder.bias.copy_(probabilities.log())
    ids = torch.tensor([0, 1, 3, 3, 2, 0])
    cfg = L.LSTMConfig(eval_batch_size=1, bptt=2)
    # targets are the 5 next tokens 1, 3, 3, 2, 0
    expected = -(math.log(0.2) + 2 * math.log(0.4) + math.log(0.3) + math.log(0.1)) / 5
    assert L.log_perplexity(model, ids, cfg) == pytest.approx(expected, rel=1e-6)
    assert math.exp(expected) == pytest.approx(1 / (0.2 * 0.4 * 0.4 * 0.3 * 0.1) ** (1 / 5))


def test_global_pruning_covers_lstm_weights_and_biases_and_they_stay_zero(tmp_path):
    torch.manual_seed(0)
    model = L.LSTMLanguageModel(vocab_size=50, embedding_size=16, hidden_size=24, layers=2, dropout=0.5)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.7)
    names = set(mask)
    assert {"embedding.weight", "decoder.weight", "decoder.bias"} <= names
    assert {f"lstm.{kind}_l{layer}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            for layer in (0, 1)} <= names
    assert all(0 < f < 1 for name, f in mask.layer_fractions_pruned().items() if name.startswith("lstm.weight"))

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-3)
    MaskedTraining(model, mask, optimizer)
    tokens = torch.randint(0, 50, (20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. nn.LSTM's "not part of single contiguous chunk" (flatten_parameters)
        for _ in range(100):
            loss = model(tokens[:-1], tokens[1:])[0].mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    # the weights nn.LSTM actually computes with are the masked ones
    for weight, name in zip(model.lstm._flat_weights, model.lstm._flat_weights_names):
        assert (weight[~mask[f"lstm.{name}"]] == 0).all(), name
    torch.save(model.state_dict(), tmp_path / "w.pt")
    fresh = L.LSTMLanguageModel(vocab_size=50, embedding_size=16, hidden_size=24, layers=2, dropout=0.5)
    fresh.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    for name, m in mask.items():
        assert (dict(fresh.named_parameters())[name][~m] == 0).all(), name
    fresh.eval(), model.eval()
    assert torch.equal(fresh(tokens[:-1], tokens[1:])[0], model(tokens[:-1], tokens[1:])[0])


def test_adaptive_softmax_gives_each_token_its_log_likelihood_and_is_pruned_too():
    torch.manual_seed(0)
    model = L.LSTMLanguageModel(vocab_size=50, embedding_size=16, hidden_size=16, layers=2, dropout=0.0,
                                adaptive_softmax_cutoffs=(10, 30))
    tokens = torch.randint(0, 50, (7, 3))
    nll, _ = model(tokens[:-1], tokens[1:])
    with torch.no_grad():
        hidden = model.lstm(model.embedding(tokens[:-1]))[0].flatten(0, 1)
        log_probs = model.decoder.log_prob(hidden)  # the full distribution over the 50 words
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(len(hidden)))
    assert torch.allclose(nll, -log_probs.gather(1, tokens[1:].reshape(-1, 1)).squeeze(1), atol=1e-6)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    assert {"decoder.head.weight", "decoder.tail.0.0.weight", "decoder.tail.1.1.weight"} <= set(mask)


@needs_data
def test_lottery_loop_runs_the_lstm_and_the_control_whose_dense_net_trains_as_long_as_a_ticket(tmp_path):
    cfg = L.config("smoke")
    root = run_lottery(L.FAMILY, cfg, Lottery(levels=1), seeds=[0], runs_dir=tmp_path, progress=False)
    df = load_results(root)
    assert set(df.metric) == {"test_log_ppl", "test_ppl", "valid_log_ppl"}
    assert set(df.ticket) == {"dense", "winning", "random"}

    longer = L.config("smoke", longer_by_rewind=True)
    assert longer.rewind_batches == cfg.rewind_batches  # the budget's rewind point, not the longer run's
    control = run_lottery(L.FAMILY, longer, Lottery(levels=0), seeds=[0], runs_dir=tmp_path, progress=False)
    updates = load_budgets(tmp_path).set_index(["run", "ticket"]).updates
    assert updates[(root.name, "dense")] == L.total_batches(cfg) == 40
    assert updates[(control.name, "dense")] == 40 + cfg.rewind_batches  # into a third epoch, part of it
    both = load_results(tmp_path).query("metric == 'test_log_ppl'")
    assert both[both.run == control.name].longer_of.iloc[0] == both[both.run == root.name].dense_net.iloc[0]
    row = trained_longer(both, "test_log_ppl", higher_is_better=False).iloc[0]
    dense, long_dense = (both[(both.run == run) & (both.ticket == "dense")].value.iloc[0] for run in (root.name, control.name))
    assert (row["dense"], row["dense, trained as long as a ticket"]) == (round(dense, 4), round(long_dense, 4))
    assert long_dense != dense and row["seeds"] == 1 and row["WT better than the longer dense net"].endswith("(indicative)")
    with pytest.raises(ValueError, match="longer_by_rewind trains a dense net only.*set levels 0, got 3"):
        experiment.prepare(L.FAMILY, "WikiText-2", "smoke", "iterative-late", 0.2, 3, [0], longer_by_rewind=True)


def test_missing_data_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(W.DATA_ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train.txt, valid.txt, test.txt missing.*word_language_model"):
        L.config("cpu")


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "tiny"}, "unknown preset"),
    ({"hidden_size": 0}, "LSTMConfig field 'hidden_size' must be at least 1, got 0"),
    ({"dropout": 1.5}, "dropout"),
    ({"bptt_len": 5}, "unknown config fields"),
])
def test_bad_parameters_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.config(**kwargs)


def test_data_dir_is_not_part_of_the_run_hash():
    from lthlib.lottery import run_settings

    a = run_settings(L.FAMILY, L.LSTMConfig(data_dir="/a"), Lottery())
    b = run_settings(L.FAMILY, L.LSTMConfig(data_dir="/b"), Lottery())
    assert a == b and "data_dir" not in a["config"]


@needs_data
def test_notebook_runs_under_papermill_at_smoke(tmp_path):
    import nbformat
    import papermill

    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(Path(__file__).parents[1] / "notebooks" / "lstm_wikitext2.ipynb", out,
                               parameters={"preset": "smoke", "levels": 2, "data_dir": str(SHARED),
                                           "runs_dir": str(tmp_path / "runs")},
                               progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs) >= 1
    df = load_results(tmp_path / "runs")
    assert sorted(df[df.metric == "test_log_ppl"].ticket) == ["dense", "random", "random", "winning", "winning"]


def test_dense_curves_read_each_epochs_validation_from_the_committed_records():
    import pandas as pd

    from lthlib.preset_study import dense_curves, turned

    results = Path(__file__).parents[1] / "data" / "results"
    curves = dense_curves(results, "lstm_lm", "valid_log_ppl", ("train_tokens", "epochs"))
    main = curves[curves.run == "iterative-late-effd4b4947"]
    assert sorted(main.seed.unique()) == [0, 1, 2] and set(main.epoch) == {1, 2} and set(main.train_tokens) == {600_000}
    summary = read_json(results / "lstm_lm" / "WikiText-2" / "iterative-late-effd4b4947.summary.json")
    dense0 = next(t for t in summary["tickets"] if t["ticket"] == "dense" and t["seed"] == 0)
    assert main[main.seed == 0].sort_values("epoch").valid_log_ppl.tolist() == dense0["history"]["valid_log_ppl"]
    assert turned(pd.Series([5.9, 5.8, 5.85])) and not turned(pd.Series([5.9, 5.8, 5.79]))
