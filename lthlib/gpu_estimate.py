"""Hours per ticket on one GPU, estimated (not measured: this project's machines have no GPU).

Training FLOPs = 6 x multiply-adds per sample x samples (a multiply-add is 2 FLOPs; backward costs
twice the forward), divided by an *assumed* effective rate on one H100 in bf16 (989 dense TFLOP/s
peak). The rates are guesses at what each kind of net reaches there, stated so that they can be
checked: `bench/gpu_check.py` measures the real samples/s of every family's paper preset on the GPU
it runs on. Evaluation (decoding the test set, scoring) is left out; Atari adds its emulators, which
run on the node's CPU cores.
"""

from __future__ import annotations

from typing import Any

ASSUMED_TFLOPS = {  # effective bf16 TFLOP/s on one H100 (~20%, ~1% and ~3% of its peak)
    "transformer_mt": 200.0,  # large matmuls over 25k-token batches
    "lstm_lm": 10.0,  # a recurrence of 30 x 650 matmuls, step after step, and a 33k-word softmax
    "atari": 30.0,  # small convs on batches of 128 frames
}
ATARI_ENV_STEPS_PER_S = 30_000  # ALE with frame skip 4 on a 16-core node (this 2-core VM: ~3,650)


def _transformer_macs(c: dict) -> float:
    d, f, n = c["d_model"], c["ffn_dim"], c["layers"]
    encoder, decoder = n * (4 * d * d + 2 * d * f), n * (8 * d * d + 2 * d * f)
    tokens = c["updates"] * c["update_freq"] * c["max_tokens"]  # per side
    return tokens * (encoder + decoder + c["vocab_size"] * d)  # the output projection, per target token


def _lstm_macs(c: dict) -> float:
    from lthlib.families.lstm_lm import ticket_cost

    return ticket_cost(c)  # tokens x multiply-adds per token


def _atari_macs(c: dict) -> float:
    ch, h, w, frames = c["channels"], c["height"], c["width"], c["frame_stack"]
    convs = h * w * ch * frames * 25 + (h // 2) * (w // 2) * ch * ch * 25 + (h // 4) * (w // 4) * ch * ch * 9 \
        + (h // 8) * (w // 8) * ch * ch * 9
    per_sample = convs + ch * (h // 16) * (w // 16) * c["hidden"] + c["hidden"] ** 2
    return samples(c) * per_sample * 4 / 3  # the acting forward, besides the training pass


def samples(c: dict) -> int:
    return c["epochs"] * c["batches_per_epoch"] * c["batch_size"]


MACS = {"transformer_mt": _transformer_macs, "lstm_lm": _lstm_macs, "atari": _atari_macs}


def gpu_hours_per_ticket(family: str, config: dict[str, Any]) -> float | None:
    """Estimated hours of one H100 per ticket of `config` (a config as a dict); None for families a GPU
    does not help (classic control's small MLPs are bound by the Python loop)."""
    if family not in MACS:
        return None
    seconds = 6 * MACS[family](config) / (ASSUMED_TFLOPS[family] * 1e12)
    if family == "atari":
        seconds = max(seconds, samples(config) / ATARI_ENV_STEPS_PER_S)
    return seconds / 3600
