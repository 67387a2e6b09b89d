"""Each family's presets side by side: where they rewind, in the trainer's own unit, against the paper's share."""

from __future__ import annotations

import pandas as pd

from lthlib.configs import PRESETS, keeps_share
from lthlib.families import atari, classic_control, lstm_lm, transformer_mt

# family module -> (its tasks, a config of task and preset, the rewind point and budget in the trainer's unit, unit)
FAMILIES = {
    classic_control: (classic_control.PAPER_ENVS, classic_control.config,
                      lambda c: (c.rewind_episodes, c.total_episodes), "episodes"),
    atari: (("any game",), lambda task, preset: atari.config("Krull", preset),
            lambda c: (c.rewind_batches, c.total_batches), "batches"),
    lstm_lm: (("WikiText-2",), lambda task, preset: lstm_lm.config(preset),
              lambda c: (c.rewind_batches, lstm_lm.total_batches(c)), "batches"),
    transformer_mt: (("Multi30k (cpu, smoke) / WMT'14 (paper)",), lambda task, preset: transformer_mt.config("Multi30k", preset),
                     lambda c: (c.rewind_updates, c.updates), "updates"),
}


def rewind_table() -> pd.DataFrame:
    """One row per family, task and preset: the rewind point, the budget, their ratio, the paper's share,
    and the reason where a preset cannot keep it (`REWIND_DEVIATIONS`)."""
    rows = []
    for module, (tasks, make, point, unit) in FAMILIES.items():
        for task in tasks:
            for preset in PRESETS:
                row = {"family": module.FAMILY.name, "task": task, "preset": preset,
                       "paper's share": f"{module.REWIND_SHARE:.1%}"}
                try:
                    at, budget = point(make(task, preset))
                except FileNotFoundError as e:  # the LSTM counts its batches on the data
                    rows.append(row | {"rewind point": f"needs the data to count ({str(e).split('.')[0]})"})
                    continue
                rows.append(row | {"rewind point": f"{at:,} of {budget:,} {unit}", "share": f"{at / budget:.1%}",
                                   "keeps the paper's share": "yes" if keeps_share(at / budget, module.REWIND_SHARE)
                                   else f"no: {module.REWIND_DEVIATIONS[preset]}"})
    return pd.DataFrame(rows, columns=["family", "task", "preset", "rewind point", "share", "paper's share",
                                       "keeps the paper's share"])


def gpu_table(levels: int = 20, seeds: int = 3) -> str:
    """The paper's grids on GPUs, as a Markdown table: estimated H100-hours per ticket
    (`lthlib.gpu_estimate`) and for each grid on one GPU, one 8-GPU node and four such nodes."""
    import dataclasses

    from lthlib.gpu_estimate import gpu_hours_per_ticket
    from lthlib.runs import tickets_per_seed

    def transformer(arch: str) -> dict:
        d, f, heads, layers, dropout = transformer_mt.ARCHS[arch]
        return dataclasses.asdict(transformer_mt.TransformerConfig(dataset="WMT14", arch=arch, d_model=d, ffn_dim=f,
                                                                   heads=heads, layers=layers, dropout=dropout))
    lstm = {f.name: f.default for f in dataclasses.fields(lstm_lm.LSTMConfig)}  # the paper's are the defaults
    grids = [  # (model, family, config, runs with random tickets, runs without (ablations), what)
        ("LSTM-650, WikiText-2", "lstm_lm", lstm, 2, 1, "iterative-late, oneshot-reset; iterative-reset (WTs only)"),
        ("Transformer Base, WMT'14", "transformer_mt", transformer("base"), 2, 2,
         "iterative-late x 2 scopes; iterative-reset, oneshot-late (WTs only)"),
        ("Transformer Big, WMT'14", "transformer_mt", transformer("big"), 2, 2, "as Base"),
        ("Atari conv net, 9 games", "atari", dataclasses.asdict(atari.AtariConfig(game="Krull")), 9, 0,
         "iterative-late x 9 games"),
    ]
    lines = ["| model | runs | H100-h per ticket | tickets | one GPU | one 8-GPU node | four 8-GPU nodes |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for model, family, config, full, winning_only, what in grids:
        per_ticket = gpu_hours_per_ticket(family, config)
        tickets = seeds * (full * tickets_per_seed(levels) + winning_only * tickets_per_seed(levels, False))
        hours = tickets * per_ticket
        lines.append(f"| {model} | {what} | {per_ticket:.2f} | {tickets:,} | {hours:,.0f} h "
                     f"| {hours / 8:,.0f} h | {hours / 32:,.1f} h |")
    lines.append(f"\n{seeds} seeds x {levels} levels ({tickets_per_seed(levels)} tickets per seed, "
                 f"{tickets_per_seed(levels, False)} without random tickets: the ablations, whose claims compare "
                 "winning tickets); runs that copy a sibling's dense net need one ticket fewer per seed, and "
                 "evaluation (decoding the test set) is not counted. The node columns assume one ticket per GPU "
                 "and perfect packing.")
    return "\n".join(lines)
