"""Each family's presets side by side: where they rewind, in the trainer's own unit, against the paper's share."""

from __future__ import annotations

import pandas as pd

from lthlib import families
from lthlib.configs import PRESETS, hashed_fields, keeps_share
from lthlib.data_needed import planning


def rewind_table() -> pd.DataFrame:
    """One row per family, task and preset: the rewind point, the budget, their ratio, the paper's share,
    and the reason where a preset cannot keep it (each family's `rewind_deviations`)."""
    rows = []
    for name in families.MODULES:
        family = families.get(name)
        for label, task in family.rewind_tasks or tuple((t, t) for t in family.paper_tasks):
            for preset in PRESETS:
                row = {"family": name, "task": label, "preset": preset, "paper's share": f"{family.rewind_share:.1%}"}
                try:
                    at, budget, unit = family.rewind_point(family.config(task, preset))
                except FileNotFoundError as e:  # the LSTM counts its batches on the data
                    rows.append(row | {"rewind point": f"needs the data to count ({str(e).split('.')[0]})"})
                    continue
                rows.append(row | {"rewind point": f"{at:,} of {budget:,} {unit}", "share": f"{at / budget:.1%}",
                                   "keeps the paper's share": "yes" if keeps_share(at / budget, family.rewind_share)
                                   else f"no: {family.rewind_deviations[preset]}"})
    return pd.DataFrame(rows, columns=["family", "task", "preset", "rewind point", "share", "paper's share",
                                       "keeps the paper's share"])


def gpu_table(levels: int = 20, seeds: int = 3) -> str:
    """The paper's grids on GPUs, as a Markdown table: estimated H100-hours per ticket
    (`lthlib.gpu_estimate`) and for each grid on one GPU, one 8-GPU node and four such nodes."""
    from lthlib.gpu_estimate import gpu_hours_per_ticket
    from lthlib.runs import tickets_per_seed

    grids = [(model, name, config, full, winning_only, what) for name in families.MODULES
             for model, config, full, winning_only, what in families.get(name).paper_grids()]
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


def fields_table() -> pd.DataFrame:
    """One row per config field whose value differs between a family's presets: its value at each preset, for
    each family and task (`rewind_tasks`, else the paper's). Built without the data (`data_needed.planning`):
    a field's value never depends on it, only the LSTM's rewind point, which it counts from the published size."""
    rows = []
    for name in families.MODULES:
        family = families.get(name)
        for label, task in family.rewind_tasks or tuple((t, t) for t in family.paper_tasks):
            with planning():
                values = {preset: hashed_fields(family.config(task, preset)) for preset in PRESETS}
            for field in sorted(set().union(*values.values())):
                at = [values[preset].get(field, "–") for preset in PRESETS]
                if len({repr(v) for v in at}) > 1:
                    rows.append({"family": name, "task": label, "field": field,
                                 **{preset: _shown(v) for preset, v in zip(PRESETS, at)}})
    return pd.DataFrame(rows, columns=["family", "task", "field", *PRESETS])


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return " × ".join(map(str, value)) if value and all(isinstance(v, int) for v in value) else str(list(value))
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
