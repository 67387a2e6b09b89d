"""Benchmarks of the cost of masking: masked / dense training speed at the presets."""

from __future__ import annotations


import torch
import torch.nn.functional as F

from lthlib import Mask, MaskedTraining, prune_global

from timing import timed


# --- 2. the cost of masking --------------------------------------------------------------------------

def _trainer(model, batches, step, mask=None, lr=1e-3, fused=False):
    """A function that trains `model` (under `mask`, if given) on `batches` once."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-3, fused=fused)
    if mask is not None:
        MaskedTraining(model, mask, optimizer)

    def run():
        for batch in batches:
            loss = step(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


def _dense_vs_masked(make, batches, step, rounds: int = 3, fused: bool = False) -> tuple[float, float]:
    """Best seconds per pass of a dense model and an 80%-pruned one, timed alternately (ABAB...) so that
    other work on the machine disturbs both sides alike. fused: Adam's fused kernel (the LSTM's and the
    Transformer's presets use it)."""
    masked_model = make()
    mask = prune_global(dict(masked_model.named_parameters()), Mask.ones(masked_model), 0.8)
    dense = _trainer(make(), batches, step, fused=fused)
    masked = _trainer(masked_model, batches, step, mask, fused=fused)
    dense(), masked()  # warm-up, so both sides are timed in the same state
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        best = [min(best[0], timed(dense)), min(best[1], timed(masked))]
    return best[0], best[1]


def _masking_lstm(name: str, width: int, cutoffs: tuple[int, ...], bptt: int, batch: int, target: float | None,
                  fused: bool = False) -> dict:
    """Dense vs 80%-pruned training tokens/s of the LSTM language model, side by side in one process."""
    from lthlib.families.lstm_lm import LSTMLanguageModel

    torch.manual_seed(0)
    vocab = 33_278
    zipf = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float)  # word frequencies, roughly: the adaptive
    batches = [torch.multinomial(zipf, (bptt + 1) * batch, replacement=True).view(bptt + 1, batch)  # softmax's
               for _ in range(3)]  # tails cost what real text makes them cost

    def step(model, tokens):
        return model(tokens[:-1], tokens[1:])[0].mean()

    dense, masked = _dense_vs_masked(lambda: LSTMLanguageModel(vocab, width, width, 2, 0.5, cutoffs), batches, step,
                                     rounds=5, fused=fused)
    tokens = 3 * bptt * batch
    return {"name": name, "dense_tokens_per_s": tokens / dense, "masked_tokens_per_s": tokens / masked,
            "ratio": dense / masked, "target": f">= {target}" if target else "reported",
            "met": dense / masked >= target if target else None}


def bench_masking_lstm() -> dict:
    """The paper's LSTM (650 units, full softmax, 30 x 50 batches)."""
    return _masking_lstm("masking_cost_lstm650", 650, (), bptt=50, batch=30, target=0.97)


def bench_masking_lstm_cpu() -> dict:
    """The cpu preset's LSTM (200 units, adaptive softmax, 20 x 35 batches, fused Adam). Its step is
    dominated by Adam over the 6.7M-entry embedding: masking's pass over every gradient shows here."""
    return _masking_lstm("masking_cost_lstm200_cpu", 200, (2_000, 10_000), bptt=35, batch=20, target=0.97, fused=True)


def bench_masking_transformer_cpu() -> dict:
    """The cpu preset's Transformer (d_model 256, 3 + 3 layers, 8,000 shared BPE embeddings, fused Adam) on
    batches of ~1,000 tokens (the preset's max_tokens: 32 sentence pairs of 16 + 16 tokens)."""
    from lthlib.families import transformer_mt as T

    cfg = T.config("", "cpu")
    torch.manual_seed(0)
    batches = [(torch.randint(4, cfg.vocab_size, (32, 16)), torch.randint(4, cfg.vocab_size, (32, 17)))
               for _ in range(3)]

    def step(model, batch):
        source, target = batch
        logits = model(source, target[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), target[:, 1:].flatten(), label_smoothing=0.1)

    dense, masked = _dense_vs_masked(lambda: T.build_model(cfg, 0), batches, step, rounds=5, fused=True)
    return {"name": "masking_cost_transformer_cpu", "dense_tokens_per_s": 3 * 32 * 32 / dense,
            "masked_tokens_per_s": 3 * 32 * 32 / masked, "ratio": dense / masked, "target": ">= 0.97",
            "met": dense / masked >= 0.97}


def bench_masking_atari() -> dict:
    from lthlib.families.atari import AtariNet

    torch.manual_seed(0)
    batches = [torch.randint(0, 255, (128, 4, 105, 80), dtype=torch.uint8) for _ in range(3)]

    def step(model, frames):
        logits, value = model(frames.contiguous(memory_format=torch.channels_last))
        return logits.logsumexp(-1).mean() + value.pow(2).mean()

    dense, masked = _dense_vs_masked(lambda: AtariNet(18).to(memory_format=torch.channels_last), batches, step)
    return {"name": "masking_cost_atari_convnet", "dense_samples_per_s": 384 / dense,
            "masked_samples_per_s": 384 / masked, "ratio": dense / masked, "target": ">= 0.97",
            "met": dense / masked >= 0.97}
