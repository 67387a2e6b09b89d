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
