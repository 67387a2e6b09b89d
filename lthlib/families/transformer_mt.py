"""Transformer translation, English -> German: fairseq's recipe in plain PyTorch.

Reads top to bottom: architectures and presets -> model -> trainer -> family (the data and subwords:
`translation_data`).

The paper (fairseq, after Ott et al. 2018) fixes: Transformer Base (`transformer_wmt_en_de`) and Big
(`transformer_vaswani_wmt_en_de_big`), post-norm, all embeddings shared over a joint BPE vocabulary,
sinusoidal positions, Adam betas (0.9, 0.98), inverse-square-root schedule with 4000 warm-up updates,
label smoothing 0.1, checkpoint averaging, beam search, late rewinding to the weights after 1000
updates, BLEU on newstest2014. We choose: fairseq's documented learning rate 7e-4 (warm-up from
1e-7), 25k-token batches, no gradient clipping, the last 5 checkpoints 1000 updates apart averaged,
beam 4 with length penalty 0.6 (fairseq's WMT generation settings), a SentencePiece BPE vocabulary
(32k for WMT'14; 8k for Multi30k), and a decoder that starts from <s>.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.families.transformer_model import MAX_POSITIONS, Transformer
from lthlib.family import Family
from lthlib.configs import UNLESS_DEFAULT, TicketConfig, check_preset, make_config
from lthlib import data_parallel
from lthlib.families.decoding import evaluate
from lthlib.families.translation_data import DATASETS, PAD, corpus, data_files, make_batch, token_batches
from lthlib.masked import MaskedTraining
from lthlib.masks import Mask
from lthlib.precision import Stepper, autocast, check_precision, default_precision
from lthlib.resume import TicketCheckpoint, common_state, load_common_state
from lthlib.runs import derived_seed

# name -> (d_model, ffn_dim, heads, layers per stack, dropout)
ARCHS = {
    "base": (512, 2048, 8, 6, 0.1),  # fairseq transformer_wmt_en_de
    "big": (1024, 4096, 16, 6, 0.3),  # fairseq transformer_vaswani_wmt_en_de_big
    "small": (256, 1024, 4, 3, 0.1),  # the cpu preset's until its grid had to fit a day of 2 cores
    "mini": (192, 768, 4, 2, 0.1),  # the cpu preset's
    "tiny": (32, 64, 2, 1, 0.0),  # tests
}
# prune_embeddings=False: only the attention and feed-forward layers (weights and biases, pooled as everywhere)
NOT_EMBEDDINGS = ("embedding.*", "*norm*")


def pruning_scope(prune_embeddings: bool) -> tuple[str, ...]:
    """The lottery's `exclude` for the paper's two scopes: everything pooled, or embeddings kept whole."""
    if not isinstance(prune_embeddings, bool):
        raise ValueError(f"prune_embeddings must be True or False, got {prune_embeddings!r}")
    return () if prune_embeddings else NOT_EMBEDDINGS


REWIND_SHARE = 1000 / 50_000  # the paper's late-rewinding point: update 1,000 of 50,000; every preset keeps it


@dataclass(frozen=True)
class TransformerConfig(TicketConfig):
    RANGES: ClassVar[dict] = {"dropout": (0, 1), "attention_dropout": (0, 1), "activation_dropout": (0, 1),
                              "betas": (0, 1), "label_smoothing": (0, 1)}  # else: integers >= 1, numbers >= 0
    TASK_FIELD, REWIND_FIELD, REWIND_SHARE, UNIT = "dataset", "rewind_updates", REWIND_SHARE, "updates"

    dataset: str = "WMT14"
    arch: str = "base"
    d_model: int = 512
    ffn_dim: int = 2048
    heads: int = 8
    layers: int = 6  # encoder layers = decoder layers
    dropout: float = 0.1  # on embeddings and on each sublayer's output, before the residual add
    attention_dropout: float = 0.0  # on attention weights (fairseq's default for both archs)
    activation_dropout: float = 0.0  # inside the feed-forward block (fairseq's default)
    vocab_size: int = 32_000  # joint BPE over source and target
    max_tokens: int = 25_000  # per batch, padding included, the longer side counted
    # fairseq's WMT'14 cleaning: training pairs longer than max_train_len subwords (either side) are dropped,
    # and those whose sides' lengths differ by more than max_len_ratio (None: no ratio test; Multi30k's
    # curated captions keep all 29k pairs, the ratio test would drop 804 of them)
    max_train_len: int = 250
    max_len_ratio: float | None = 1.5
    updates: int = 50_000
    lr: float = 7e-4
    warmup_updates: int = 4000
    warmup_init_lr: float = 1e-7
    betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-8
    label_smoothing: float = 0.1
    rewind_updates: int | None = None  # late rewinding point; None: the paper's 1,000 of 50,000 updates (2%)
    average_last: int = 5  # checkpoints averaged at the end
    checkpoint_every: int = 1000  # updates between those checkpoints
    beam: int = 4
    lenpen: float = 0.6
    test_sentences: int | None = None  # decode the first N test sentences (None: all)
    # fairseq's recipe, added after runs were committed (hashed only when set, so those keep their names):
    update_freq: int = field(default=1, metadata={"hash": UNLESS_DEFAULT})  # sub-batches of max_tokens per update
    # processes (GPUs) training one ticket side by side (lthlib.data_parallel); they split each update's
    # update_freq sub-batches, so the effective batch stays max_tokens x update_freq
    ranks: int = field(default=1, metadata={"hash": UNLESS_DEFAULT})
    xavier_init: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})  # Xavier-uniform linear layers
    precision: str = field(default="fp32", metadata={"hash": UNLESS_DEFAULT})  # fp32 | bf16 | fp16 (lthlib.precision)
    # Adam in one fused kernel per step (CPU and CUDA): ~2x the LSTM cpu preset's training speed; other rounding
    # than the per-tensor loop, so hashed (set by every preset; runs before it keep their names)
    fused_adam: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})
    # a dense-only control (levels 0): train as many updates as a late-rewound ticket has had in all
    longer_by_rewind: bool = field(default=False, metadata={"hash": UNLESS_DEFAULT})
    # a dense-only control (levels 0): train `lineage_budgets` budgets in one run, as many updates as an
    # iterative ticket at level lineage_budgets - 1 and the tickets its mask was pruned from have had in all
    lineage_budgets: int = field(default=1, metadata={"hash": UNLESS_DEFAULT})
    # resuming inside a ticket (lthlib.resume): the training state is saved every N minutes, or every N updates
    resume_every_minutes: float = field(default=10.0, metadata={"hash": False})
    resume_every_updates: int | None = field(default=None, metadata={"hash": False})
    data_dir: str = field(default="", metadata={"hash": False})  # "" -> $LTH_<DATASET>_DIR or data/<dataset>
    @property
    def budget(self) -> int:
        return self.updates

    @property
    def updates_trained(self) -> int:  # the budget (x lineage_budgets), plus the rewind point's with `longer_by_rewind`
        return self.updates * self.lineage_budgets + (self.rewind_updates if self.longer_by_rewind else 0)


REWIND_DEVIATIONS = {"smoke": "6 updates in all: the rewind point, rounded to 1 update, is 1/6 of them"}

_PRESETS = {
    "paper": {"dataset": "WMT14", "arch": "base", "xavier_init": True, "fused_adam": True},
    # ~6.3 minutes per ticket on one core (measured, 2 tickets side by side: 320 s for 600 updates of ~1.9k
    # source + target tokens, ~1.1M tokens, ~1.4 passes over Multi30k; 56 s to decode the first 500 test
    # sentences), rewound at update 12 (the paper's 2%), the last 3 checkpoints 30 updates apart averaged.
    # Dense BLEU 23.4, 25.0, 25.3 (seeds 0-2). The former preset ("small", 1,000 updates, all 1,000 test
    # sentences) took ~17 minutes: its grid of 4 variants x 3 seeds x 10 levels would not fit in a day.
    "cpu": {"dataset": "Multi30k", "arch": "mini", "vocab_size": 8000, "max_tokens": 1000, "updates": 600,
            "lr": 2e-3, "warmup_updates": 150, "average_last": 3, "checkpoint_every": 30, "test_sentences": 500,
            "max_len_ratio": None, "xavier_init": True, "fused_adam": True},
    "smoke": {"dataset": "Multi30k", "arch": "tiny", "vocab_size": 1000, "max_tokens": 400, "updates": 6,
              "warmup_updates": 2, "average_last": 2, "checkpoint_every": 2,
              "beam": 2, "test_sentences": 4, "max_len_ratio": None, "xavier_init": True,
              "fused_adam": True},
}


def config(task: str = "", preset: str = "cpu", arch: str = "", **overrides) -> TransformerConfig:
    """The `preset` config (task "" -> the preset's dataset; arch "" -> the preset's), with overrides."""
    check_preset(preset)
    fields = dict(_PRESETS[preset])
    if task:
        fields["dataset"] = task
    if arch:
        fields["arch"] = arch
    if fields["dataset"] not in DATASETS:
        raise ValueError(f"unknown dataset {fields['dataset']!r}; choose one of {list(DATASETS)}")
    if fields["arch"] not in ARCHS:
        raise ValueError(f"unknown arch {fields['arch']!r}; choose one of {list(ARCHS)}")
    d_model, ffn_dim, heads, layers, dropout = ARCHS[fields["arch"]]
    fields["precision"] = overrides.pop("precision", default_precision(preset, overrides.get("device", "cpu")))
    fields = {"d_model": d_model, "ffn_dim": ffn_dim, "heads": heads, "layers": layers, "dropout": dropout} | fields
    cfg = make_config(TransformerConfig, **fields | overrides)
    if cfg.update_freq % cfg.ranks:
        raise ValueError(f"ranks ({cfg.ranks}) must divide update_freq ({cfg.update_freq}): the ranks split each update's "
                         f"sub-batches (e.g. overrides {{update_freq: {cfg.ranks}, ranks: {cfg.ranks}}})")
    if cfg.max_len_ratio is not None and not cfg.max_len_ratio >= 1:
        raise ValueError(f"max_len_ratio must be at least 1, got {cfg.max_len_ratio!r}")
    check_precision(cfg.precision, cfg.device)
    if cfg.d_model % cfg.heads:
        raise ValueError(f"d_model ({cfg.d_model}) must be a multiple of heads ({cfg.heads})")
    if not 1 <= cfg.rewind_updates < cfg.updates:
        raise ValueError(f"rewind_updates must lie in [1, updates={cfg.updates}), got {cfg.rewind_updates}")
    if not 1 <= cfg.average_last <= cfg.updates // cfg.checkpoint_every:
        raise ValueError(f"average_last must lie in [1, updates // checkpoint_every], got {cfg.average_last}")
    data_files(cfg)  # a missing dataset is an error before any training
    return cfg


def build_model(cfg: TransformerConfig, seed: int) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(cfg.vocab_size, cfg.d_model, cfg.ffn_dim, cfg.heads, cfg.layers, cfg.dropout,
                        cfg.attention_dropout, cfg.activation_dropout, xavier_init=cfg.xavier_init)
    return model.to(cfg.device)


# --- training and evaluation ---------------------------------------------------------------------

def inverse_sqrt(update: int, cfg: TransformerConfig) -> float:
    """Learning rate at `update`: linear warm-up from warmup_init_lr, then lr * sqrt(warmup / update)."""
    if update < cfg.warmup_updates:
        return cfg.warmup_init_lr + (cfg.lr - cfg.warmup_init_lr) * update / cfg.warmup_updates
    return cfg.lr * math.sqrt(cfg.warmup_updates / max(update, 1))


def average_state_dicts(state_dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of checkpoints (fairseq's average_checkpoints.py); masked entries stay 0."""
    return {name: torch.stack([sd[name].float() for sd in state_dicts]).mean(0).to(state_dicts[0][name].dtype)
            for name in state_dicts[0]}


def accumulate_gradients(model: nn.Module, sub_batches: list, cfg: TransformerConfig, stepper: Stepper) -> float:
    """One update's gradients over its sub-batches (fairseq's update_freq): each sub-batch's summed,
    label-smoothed token loss divided by the update's number of target tokens, so that the accumulated
    gradient is the gradient of the sub-batches' union. With several ranks each takes its share of the
    sub-batches and DDP sums the gradients (it averages them: hence x ranks). Returns the update's loss
    per target token."""
    target_tokens = sum(int(target.ne(PAD).sum()) for _, _, target in sub_batches)
    share = sub_batches[data_parallel.rank()::data_parallel.world_size()]
    total = 0.0
    for i, (source, decoder_input, target) in enumerate(share):
        with data_parallel.no_sync(model, last=i == len(share) - 1), autocast(cfg.precision, cfg.device):
            logits = model(source, decoder_input)
            loss = F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), ignore_index=PAD,
                                   label_smoothing=cfg.label_smoothing, reduction="sum") / target_tokens
            stepper.backward(loss * data_parallel.world_size())
        total += loss.item()
    return data_parallel.sum_over_ranks(total)


def _train_rank(state: dict, mask: Mask, cfg: TransformerConfig, seed: int, checkpoint_path) -> None:
    """A data-parallel rank above 0: trains the same ticket on its share of the sub-batches, writes nothing."""
    cfg = dataclasses.replace(cfg, device=data_parallel.device_of_rank(cfg.device, data_parallel.rank()))
    model = build_model(cfg, 0)
    model.load_state_dict(state)
    train(model, mask, cfg, seed, checkpoint=TicketCheckpoint(checkpoint_path, math.inf) if checkpoint_path else None)


def train(model: Transformer, mask: Mask, cfg: TransformerConfig, seed: int, rewind_hook=None,
          checkpoint: TicketCheckpoint | None = None) -> dict:
    """Adam under the inverse-sqrt schedule for cfg.updates token batches; averages the last
    checkpoints; returns test BLEU (sacrebleu and tokenized) and validation NLL. With `checkpoint`, the
    training state is saved as it goes and a rerun resumes from it exactly."""
    if cfg.ranks > 1 and not data_parallel.world_size() > 1:  # this process becomes rank 0 of cfg.ranks
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        payload = (state, mask, cfg, seed, checkpoint.path if checkpoint else None)
        with data_parallel.ranks(cfg.ranks, cfg.device, _train_rank, payload):
            return train(model, mask, cfg, seed, rewind_hook, checkpoint)
    rank = data_parallel.rank()
    torch.manual_seed(seed if rank == 0 else derived_seed(seed, rank, "rank"))  # ranks draw their own dropout
    generator = torch.Generator().manual_seed(seed)  # every rank draws the same batches
    data = corpus(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=cfg.betas, eps=cfg.adam_eps, fused=cfg.fused_adam)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda update: inverse_sqrt(update, cfg))
    masking, stepper = MaskedTraining(model, mask, optimizer), Stepper(optimizer, cfg.precision)
    last = cfg.updates_trained
    averaged_from = last - (cfg.average_last - 1) * cfg.checkpoint_every
    # batches: what is left of this epoch's token batches (the data position)
    run = {"update": 0, "checkpoints": [], "history": {"train_loss": []}, "batches": [], "window": [], "tokens": 0,
           "train_seconds": 0.0}
    saved = checkpoint.restore() if checkpoint else None
    if saved:
        run = load_common_state(saved, model, optimizer, stepper, cfg.device)
        schedule.load_state_dict(run.pop("schedule"))
        generator.set_state(run.pop("generator"))
    checkpoints, history, batches, window = run["checkpoints"], run["history"], run["batches"], run["window"]
    learner = data_parallel.wrap(model, cfg.device)  # DDP broadcasts rank 0's weights: every rank starts alike

    def training_state() -> dict:
        return {**run, "train_seconds": run["train_seconds"] + time.perf_counter() - start,
                "schedule": schedule.state_dict(), "generator": generator.get_state(),
                **common_state(model, optimizer, stepper, cfg.device)}

    start = time.perf_counter()
    model.train()
    for update in range(run["update"] + 1, last + 1):
        sub_batches = []
        for _ in range(cfg.update_freq):
            if not batches:  # a new epoch
                batches.extend(token_batches(data.train, cfg.max_tokens, generator))
            sub_batches.append(make_batch(data.train, batches.pop(), cfg.device))
        optimizer.zero_grad(set_to_none=True)
        loss = accumulate_gradients(learner, sub_batches, cfg, stepper)
        stepper.step(model.parameters())
        schedule.step()
        run["tokens"] += sum(source.ne(PAD).sum().item() + target.ne(PAD).sum().item() for source, _, target in sub_batches)
        window.append(loss)
        if update % cfg.checkpoint_every == 0 or update == last:
            history["train_loss"].append(sum(window) / len(window))
            window.clear()
        if rewind_hook is not None and update == cfg.rewind_updates:  # rank 0's (the others get none)
            rewind_hook(model)
        if update >= averaged_from and (last - update) % cfg.checkpoint_every == 0:
            checkpoints.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        run["update"] = update
        if checkpoint and rank == 0:
            checkpoint.save_if_due(update, training_state)
    train_seconds = run["train_seconds"] + time.perf_counter() - start
    tokens = run["tokens"]
    masking.remove()
    if rank > 0:  # rank 0 averages, evaluates and reports
        return {}
    model.load_state_dict(average_state_dicts(checkpoints))
    # sources cut to MAX_POSITIONS // 2 subwords, so that beam search's 1.2 x source + 10 positions fit
    result = evaluate(model, data, cfg, MAX_POSITIONS // 2)
    result["history"] = history
    result["stats"] = {"updates": last, "samples": tokens, "tokens_per_s": tokens / train_seconds,
                       "checkpoints_averaged": len(checkpoints), "ranks": data_parallel.world_size()}
    return result


def ticket_cost(config: dict) -> float:
    """A compute proxy for one ticket, to scale measured times between presets: updates x tokens x width^2."""
    updates = config["updates"] * config.get("lineage_budgets", 1) + (config["rewind_updates"] if config.get("longer_by_rewind") else 0)
    return updates * config["max_tokens"] * config["layers"] * config["d_model"] * config["ffn_dim"]


class TransformerTranslation(Family):
    name, metric, higher_is_better = "transformer_mt", "bleu", True
    rewind_share = REWIND_SHARE
    margin, margin_of = 0.02, "BLEU"
    samples_unit, domain = "source and target tokens", "Transformer"
    paper_dense = {"WMT14": "tokenized BLEU: Base 27.6, Big 29.3 (newstest2014)",
                   "Multi30k": "not run by the paper (a stand-in): its WMT'14 Base 27.6, Big 29.3 tokenized BLEU"}
    output_layers = ("embedding.weight",)  # the decoder's output projection is the shared embedding
    paper_tasks = ("Multi30k",)  # the stand-in this machine runs; WMT'14 needs the paper preset's GPUs
    notebook, task_parameter = "notebooks/transformer_mt.ipynb", "dataset"
    one_run_per_notebook = {"both_scopes": False}
    not_dense = ("rewind_updates",)
    paper_needs_gpu = True  # its paper preset takes many hours per ticket on a CPU
    resumes_inside_ticket = True  # exactly: a resumed ticket ends with an uninterrupted one's weights

    config = staticmethod(config)
    build_model = staticmethod(build_model)
    train = staticmethod(train)
    ticket_cost = staticmethod(ticket_cost)

    rewind_deviations = REWIND_DEVIATIONS
    fingerprint_tickets = {"Multi30k": ("Multi30k", {}, "mkl+aten")}
    rewind_tasks = (("Multi30k (cpu, smoke) / WMT'14 (paper)", "Multi30k"),)
    gpu_tflops = 200.0  # large matmuls over 25k-token batches (~20% of an H100's bf16 peak)

    @staticmethod
    def gpu_macs(c: dict) -> float:
        d, f, n = c["d_model"], c["ffn_dim"], c["layers"]
        encoder, decoder = n * (4 * d * d + 2 * d * f), n * (8 * d * d + 2 * d * f)
        tokens = c["updates"] * c["update_freq"] * c["max_tokens"]  # per side
        return tokens * (encoder + decoder + c["vocab_size"] * d)  # the output projection, per target token

    @staticmethod
    def paper_grids() -> list[tuple[str, dict, int, int, str]]:
        def arch(name: str) -> dict:
            d, f, heads, layers, dropout = ARCHS[name]
            return dataclasses.asdict(TransformerConfig(dataset="WMT14", arch=name, d_model=d, ffn_dim=f, heads=heads,
                                                        layers=layers, dropout=dropout))
        return [("Transformer Base, WMT'14", arch("base"), 2, 2,
                 "iterative-late x 2 scopes; iterative-reset, oneshot-late (WTs only)"),
                ("Transformer Big, WMT'14", arch("big"), 2, 2, "as Base")]

    @staticmethod
    def run_inputs(p: dict) -> tuple[str, dict, tuple[str, ...]]:
        """The notebook's parameters -> (task, config overrides, parameters never pruned): `prune_embeddings`
        sets the pruning scope (the notebook's `both_scopes` runs this once per scope)."""
        return (p["dataset"], {"arch": p["arch"], "data_dir": p["data_dir"], "device": p["device"], **p["overrides"]},
                pruning_scope(p["prune_embeddings"]))


FAMILY = TransformerTranslation()
