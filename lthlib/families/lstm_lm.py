"""LSTM language model on word-level WikiText-2, the paper's NLP recurrent family.

Reads top to bottom: presets -> model -> trainer -> the family object (the data: `lthlib.families.wikitext2`).

The paper fixes: embeddings 650, a 2-layer LSTM with hidden size 650, dropout 0.5 between the
layers, truncated BPTT 50, batch 30, Adam lr 1e-3, betas (0.9, 0.999), eps 1e-3; 10 epochs per
ticket; the metric is the test log perplexity (the mean token negative log-likelihood, in nats);
late rewinding to the weights after epoch 1, i.e. after 1/10 of the training batches (every preset
keeps that share: `rewind_batches`). It leaves open, and we choose: untied input and
output embeddings, PyTorch word_language_model's initialisation (embedding and decoder weights
U(-0.1, 0.1), decoder bias 0), gradient-norm clip 0.25, evaluation batch 10. The vocabulary is
ordered by training-set frequency, so that an adaptive softmax (the `cpu` preset's only change to
the architecture) can give the rare words the small clusters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lthlib.family import Family
from lthlib.configs import UNLESS_DEFAULT, TicketConfig, check_preset, make_config, rewind_point
from lthlib.masked import MaskedTraining
from lthlib.masks import Mask
from lthlib.precision import Stepper, autocast, check_precision, default_precision, native_bf16_cpu
from lthlib.families.wikitext2 import (TRAIN_TOKENS, VOCAB_SIZE, batchify, data_dir, load_corpus, planned_without_data,
                                       unigram_baselines, unigram_settings)
from lthlib.resume import TicketCheckpoint, common_state, load_common_state



REWIND_SHARE = 1 / 10  # the paper's late-rewinding point: epoch 1 of 10; every preset keeps it


@dataclass(frozen=True)
class LSTMConfig(TicketConfig):
    RANGES: ClassVar[dict] = {"dropout": (0, 1), "betas": (0, 1)}  # else: integers >= 1, numbers >= 0
    TASK_FIELD, REWIND_FIELD, REWIND_SHARE, UNIT = "dataset", "rewind_batches", REWIND_SHARE, "batches"
    dataset: ClassVar[str] = "WikiText-2"  # its one task

    embedding_size: int = 650
    hidden_size: int = 650
    layers: int = 2
    dropout: float = 0.5  # between the LSTM layers
    bptt: int = 50
    batch_size: int = 30
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-3
    epochs: int = 10
    max_grad_norm: float = 0.25  # our choice (paper silent)
    rewind_batches: int | None = None  # late rewinding point, in batches; None: the paper's 1/10 of them
    train_tokens: int | None = None  # use only the first N training tokens (None: all 2,088,628)
    eval_tokens: int | None = None  # evaluate on the first N valid/test tokens (None: all)
    eval_batch_size: int = 10
    # () -> the paper's full softmax; else nn.AdaptiveLogSoftmaxWithLoss (Grave et al. 2017) with these
    # frequency cutoffs: the same log-likelihood objective at a fraction of the multiply-adds per token
    adaptive_softmax_cutoffs: tuple[int, ...] = ()
    precision: str = field(default="fp32", metadata={"hash": UNLESS_DEFAULT})  # fp32 | bf16 | fp16 (lthlib.precision)
    # Adam in one fused kernel per step (CPU and CUDA): ~2x the LSTM cpu preset's training speed; other rounding
    # than the per-tensor loop, so hashed (set by every preset; runs before it keep their names)
    fused_adam: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})
    # a control, for a dense-only run (levels 0): train the budget plus the rewind point's batches, as many
    # updates as a late-rewound ticket has had in all, counting the dense run's before its rewind point
    longer_by_rewind: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})
    # resuming inside a ticket (lthlib.resume): the training state is saved every N minutes, or every N updates
    resume_every_minutes: float = field(default=10.0, metadata={"hash": False})
    resume_every_updates: int | None = field(default=None, metadata={"hash": False})
    data_dir: str = field(default="", metadata={"hash": False})  # "" -> $LTH_WIKITEXT2_DIR or data/wikitext-2

    def __post_init__(self):
        pass  # the batch budget is counted on the data: `config` sets the rewind point once it has found the data

    @property
    def budget(self) -> int:
        return total_batches(self)


REWIND_DEVIATIONS: dict[str, str] = {}


# What `cpu` shrinks so that one seed's curve (10 levels) takes about an hour on one idle core: width
# 650 -> 200; 2 epochs over the first 600k training tokens instead of 10 over all 2.09M; evaluation on
# the first 100k validation / test tokens; an adaptive softmax over the 33,278 words (8.5x the tokens/s
# of the full softmax at width 200, measured here); and, so that the net learns in ~1,700 updates
# instead of ~14,000, batches of 20 x 35 tokens and Adam with lr 3e-3, eps 1e-8 (with the paper's
# eps 1e-3 it was still at unigram level, perplexity ~1000, after 1.2M tokens; with these, 308).
_CPU = {"embedding_size": 200, "hidden_size": 200, "epochs": 2, "train_tokens": 600_000, "eval_tokens": 100_000,
        "adaptive_softmax_cutoffs": (2_000, 10_000), "batch_size": 20, "bptt": 35, "lr": 3e-3, "eps": 1e-8}
_SMOKE = {"embedding_size": 16, "hidden_size": 16, "epochs": 2, "bptt": 10, "batch_size": 4,
          "train_tokens": 800, "eval_tokens": 200}


def config(preset: str = "cpu", **overrides) -> LSTMConfig:
    check_preset(preset)
    precision = overrides.pop("precision", default_precision(preset, overrides.get("device", "cpu")))
    preset_fields = {"smoke": _SMOKE, "cpu": _CPU, "paper": {}}[preset]
    cfg = make_config(LSTMConfig, **{"fused_adam": True} | preset_fields | overrides, precision=precision)
    check_precision(cfg.precision, cfg.device)
    if cfg.precision == "bf16" and not str(cfg.device).startswith("cuda") and not native_bf16_cpu():
        raise ValueError("LSTMConfig field 'precision' is 'bf16', but this CPU has no bf16 arithmetic (AVX-512 BF16 "
                         "or AMX), without which torch's CPU LSTM (oneDNN) has no bf16 kernel: use 'fp32' here, "
                         "or 'bf16' on a CUDA device")
    if cfg.dropout >= 1:  # 1 would drop everything
        raise ValueError(f"LSTMConfig field 'dropout' must lie in [0, 1), got {cfg.dropout!r}")
    data_dir(cfg)  # a missing dataset is an error before any training
    if cfg.rewind_batches is None:  # the batch budget depends on the data: counted here
        cfg = dataclasses.replace(cfg, rewind_batches=rewind_point(total_batches(cfg), REWIND_SHARE))
    if not 1 <= cfg.rewind_batches < total_batches(cfg):
        raise ValueError(f"rewind_batches must lie in [1, {total_batches(cfg)}) (the batch budget), got {cfg.rewind_batches!r}")
    return cfg


def total_batches(cfg: LSTMConfig) -> int:
    """The training budget in batches (updates): epochs x truncated-BPTT windows over the training tokens."""
    return cfg.epochs * batches_per_epoch(cfg)


def batches_per_epoch(cfg: LSTMConfig) -> int:
    if planned_without_data(cfg):
        tokens = min(cfg.train_tokens or TRAIN_TOKENS, TRAIN_TOKENS)
    else:
        tokens = len(load_corpus(data_dir(cfg)).train[: cfg.train_tokens])
    return len(range(0, tokens // cfg.batch_size - 1, cfg.bptt))


def updates_trained(cfg: LSTMConfig) -> int:
    """The batches train() makes: the budget, plus the rewind point's with `longer_by_rewind`."""
    return total_batches(cfg) + (cfg.rewind_batches if cfg.longer_by_rewind else 0)


# --- model ---------------------------------------------------------------------------------------

class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, layers: int, dropout: float,
                 adaptive_softmax_cutoffs: tuple[int, ...] = ()):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, layers, dropout=dropout if layers > 1 else 0.0)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if adaptive_softmax_cutoffs:
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, list(adaptive_softmax_cutoffs))
        else:
            self.decoder = nn.Linear(hidden_size, vocab_size)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor, state=None):
        """(negative log-likelihood of each target token, flattened; the LSTM state)."""
        output, state = self.lstm(self.embedding(tokens), state)
        output, targets = output.flatten(0, 1), targets.flatten()
        if isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            return -self.decoder(output, targets).output, state
        return F.cross_entropy(self.decoder(output), targets, reduction="none"), state


def build_model(cfg: LSTMConfig, seed: int) -> LSTMLanguageModel:
    vocab_size = VOCAB_SIZE if planned_without_data(cfg) else len(load_corpus(data_dir(cfg)).vocab)
    torch.manual_seed(seed)
    model = LSTMLanguageModel(vocab_size, cfg.embedding_size, cfg.hidden_size, cfg.layers, cfg.dropout,
                              cfg.adaptive_softmax_cutoffs)
    return model.to(cfg.device)


# --- training and evaluation ---------------------------------------------------------------------

@torch.no_grad()
def log_perplexity(model: LSTMLanguageModel, ids: torch.Tensor, cfg: LSTMConfig) -> float:
    """Mean next-token negative log-likelihood (nats) over `ids`: log perplexity."""
    model.eval()
    data = batchify(ids, cfg.eval_batch_size).to(cfg.device)
    total_nll, count, state = 0.0, 0, None
    for start in range(0, data.size(0) - 1, cfg.bptt):
        inputs = data[start: start + cfg.bptt]
        targets = data[start + 1: start + 1 + inputs.size(0)]
        inputs = inputs[: targets.size(0)]
        nll, state = model(inputs, targets, state)
        total_nll += nll.sum().item()
        count += targets.numel()
    return total_nll / count


def train(model: LSTMLanguageModel, mask: Mask, cfg: LSTMConfig, seed: int, rewind_hook=None,
          checkpoint: TicketCheckpoint | None = None) -> dict:
    """Adam on truncated-BPTT batches for cfg.epochs epochs; returns test (and valid) log perplexity.
    With `checkpoint`, the training state is saved as it goes and a rerun resumes from it exactly."""
    torch.manual_seed(seed)
    corpus = load_corpus(data_dir(cfg))
    train_ids = corpus.train[: cfg.train_tokens]
    valid_ids, test_ids = corpus.valid[: cfg.eval_tokens], corpus.test[: cfg.eval_tokens]
    data = batchify(train_ids, cfg.batch_size).to(cfg.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=cfg.fused_adam)
    masking, stepper = MaskedTraining(model, mask, optimizer), Stepper(optimizer, cfg.precision)
    run = {"history": {"train_loss": [], "valid_log_ppl": []}, "tokens_trained": 0, "updates": 0, "epoch": 0,
           "next_start": 0, "epoch_loss": 0.0, "batches": 0, "lstm_state": None}
    saved = checkpoint.restore() if checkpoint else None
    if saved:
        run = load_common_state(saved, model, optimizer, stepper, cfg.device)
    history, state = run["history"], run["lstm_state"]

    def training_state() -> dict:
        return {**run, "lstm_state": state, **common_state(model, optimizer, stepper, cfg.device)}

    budget = updates_trained(cfg)
    for epoch in range(run["epoch"], math.ceil(budget / batches_per_epoch(cfg))):  # the last may be part of one
        model.train()
        for start in tqdm(range(run["next_start"], data.size(0) - 1, cfg.bptt), desc=f"epoch {epoch + 1}",
                          leave=False, disable=None):
            if run["updates"] == budget:
                break
            inputs = data[start: start + cfg.bptt]
            targets = data[start + 1: start + 1 + inputs.size(0)]
            inputs = inputs[: targets.size(0)]
            with autocast(cfg.precision, cfg.device):
                nll, state = model(inputs, targets, state)
            loss = nll.float().mean()
            optimizer.zero_grad(set_to_none=True)
            stepper.backward(loss)
            stepper.step(model.parameters(), cfg.max_grad_norm)
            state = tuple(s.detach() for s in state)  # truncated BPTT: carry the state, not its history
            run["epoch_loss"], run["batches"] = run["epoch_loss"] + loss.item(), run["batches"] + 1
            run["tokens_trained"], run["updates"] = run["tokens_trained"] + targets.numel(), run["updates"] + 1
            if rewind_hook is not None and run["updates"] == cfg.rewind_batches:
                rewind_hook(model)
            run["next_start"] = start + cfg.bptt
            if checkpoint:
                checkpoint.save_if_due(run["updates"], training_state)
        history["train_loss"].append(run["epoch_loss"] / run["batches"])
        history["valid_log_ppl"].append(log_perplexity(model, valid_ids, cfg))
        run.update(epoch=epoch + 1, next_start=0, epoch_loss=0.0, batches=0)
        state = None
    tokens_trained, updates = run["tokens_trained"], run["updates"]
    masking.remove()
    test = log_perplexity(model, test_ids, cfg)
    return {
        "metrics": {"test_log_ppl": test, "test_ppl": math.exp(test), "valid_log_ppl": history["valid_log_ppl"][-1]},
        "history": history,
        "stats": {"updates": updates, "samples": tokens_trained},
    }


def ticket_cost(config: dict, vocab_size: int = 33_278, train_size: int = 2_088_628) -> float:
    """A compute proxy for one ticket, to scale measured times between presets: tokens x multiply-adds."""
    e, h, cutoffs = config["embedding_size"], config["hidden_size"], config.get("adaptive_softmax_cutoffs") or []
    if cutoffs:  # the head, plus every tail cluster as if each token needed it (an upper bound)
        edges = [*cutoffs, vocab_size]
        decoder = h * (cutoffs[0] + len(cutoffs)) + sum(
            (h // 4 ** (i + 1)) * (h + edges[i + 1] - edges[i]) for i in range(len(cutoffs)))
    else:
        decoder = h * vocab_size
    per_token = decoder + 4 * h * (e + h) + 4 * h * 2 * h * (config["layers"] - 1)
    longer = 1 + REWIND_SHARE if config.get("longer_by_rewind") else 1  # its budget plus the rewind point's share
    return longer * config["epochs"] * (config["train_tokens"] or train_size) * per_token


class LSTMLanguageModelling(Family):
    name, metric, higher_is_better = "lstm_lm", "test_log_ppl", False
    rewind_share = REWIND_SHARE
    margin, margin_of = 0.01, "test log perplexity"
    samples_unit, domain = "tokens", "LSTM (WikiText-2)"  # domain: its claims' in the scorecard
    paper_dense = {"WikiText-2": "test log perplexity ~4.6 (perplexity ~100), read off its figure"}

    @staticmethod
    def trivial_baseline(task: str, results_dir, config: dict) -> tuple[float, str] | None:
        bar = next((b for b in unigram_baselines(results_dir) if b["data"] == unigram_settings(config)), None)
        return None if bar is None else (bar["test_log_ppl"], "unigram model of the same training tokens")
    output_layers = ("decoder.weight", "decoder.head.weight")
    paper_tasks = ("WikiText-2",)
    notebook = "notebooks/lstm_wikitext2.ipynb"
    not_dense = ("rewind_batches", "rewind_epochs")
    paper_needs_gpu = True  # its paper preset takes many hours per ticket on a CPU
    resumes_inside_ticket = True  # exactly: a resumed ticket ends with an uninterrupted one's weights
    ticket_cost = staticmethod(ticket_cost)

    rewind_deviations = REWIND_DEVIATIONS
    fingerprint_tickets = {"WikiText-2": ("WikiText-2", {}, "mkl+aten+onednn")}
    gpu_tflops = 10.0  # a recurrence of 30 x 650 matmuls, step after step, and a 33k-word softmax (~1% of peak)
    gpu_macs = staticmethod(ticket_cost)  # tokens x multiply-adds per token

    @staticmethod
    def paper_grids() -> list[tuple[str, dict, int, int, str]]:
        paper = {f.name: f.default for f in dataclasses.fields(LSTMConfig)}  # the paper's are the defaults
        return [("LSTM-650, WikiText-2", paper, 2, 1, "iterative-late, oneshot-reset; iterative-reset (WTs only)")]

    @staticmethod
    def config(task: str = "WikiText-2", preset: str = "cpu", **overrides) -> LSTMConfig:
        if task != "WikiText-2":
            raise ValueError(f"unknown task {task!r}; this family runs WikiText-2")
        return config(preset, **overrides)

    build_model = staticmethod(build_model)
    train = staticmethod(train)
    evaluate = staticmethod(lambda m, cfg, seed: log_perplexity(m, load_corpus(data_dir(cfg)).valid[: cfg.eval_tokens], cfg))

    @staticmethod
    def run_inputs(p: dict) -> tuple[str, dict, tuple[str, ...]]:
        """The notebook's parameters -> (task, config overrides, parameters never pruned)."""
        return "WikiText-2", {"data_dir": p["data_dir"], "device": p["device"], **p["overrides"]}, ()


FAMILY = LSTMLanguageModelling()
