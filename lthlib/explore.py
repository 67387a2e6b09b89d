"""An ipywidgets explorer over `load_results()` for JupyterLab (the book uses plotly menus instead)."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from lthlib.plots import pruning_curve, show


def explorer(df: pd.DataFrame) -> widgets.Widget:
    """Dropdowns for family, task, run (variant-hash) and metric, toggles for WT / RT / dense, and the curve."""
    family = widgets.Dropdown(description="family")
    task = widgets.Dropdown(description="task")
    variant = widgets.Dropdown(description="run")
    metric = widgets.Dropdown(description="metric")
    tickets = {t: widgets.ToggleButton(value=True, description=t) for t in ("winning", "random", "dense")}
    out = widgets.Output()

    def options(column, **fixed):
        rows = df
        for key, value in fixed.items():
            rows = rows[rows[key] == value]
        return sorted(rows[column].unique())

    updating = []  # non-empty while the dropdowns are being refilled: their own events are ignored

    def offer(dropdown, choices):
        """New options, keeping the current choice where it is still offered, else the first
        (ipywidgets 8.1 leaves `value` at None when only `options` is set)."""
        keep = dropdown.value if dropdown.value in choices else (choices[0] if choices else None)
        dropdown.options = choices
        dropdown.value = keep

    def draw(*_):
        if updating:
            return
        chosen = df[(df.family == family.value) & (df.task == task.value) & (df.run == variant.value)
                    & (df.metric == metric.value) & df.ticket.isin([t for t, button in tickets.items() if button.value])]
        out.clear_output(wait=True)
        with out:
            if chosen.empty:
                print("nothing to show for this choice: switch a ticket kind back on")
            else:
                show(pruning_curve(chosen, metric.value, title=f"{task.value} · {variant.value} · {metric.value}"))

    def update_choices(*_):
        if updating:
            return
        updating.append(True)
        try:
            offer(task, options("task", family=family.value))
            offer(variant, options("run", family=family.value, task=task.value))
            offer(metric, options("metric", family=family.value, task=task.value, run=variant.value))
        finally:
            updating.clear()
        draw()

    updating.append(True)
    offer(family, options("family"))
    updating.clear()
    update_choices()
    for control in (family, task, variant):
        control.observe(update_choices, "value")
    for control in (metric, *tickets.values()):
        control.observe(draw, "value")
    return widgets.VBox([widgets.HBox([family, task]), widgets.HBox([variant, metric]),
                         widgets.HBox(list(tickets.values())), out])
