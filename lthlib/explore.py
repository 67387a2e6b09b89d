"""An ipywidgets explorer over `load_results()` for JupyterLab (the book uses plotly menus instead)."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from lthlib.plots import pruning_curve, show


def explorer(df: pd.DataFrame) -> widgets.Widget:
    """Dropdowns for family, task, run (variant-hash) and metric, toggles for WT / RT / dense, and the curve."""
    family = widgets.Dropdown(options=sorted(df.family.unique()), description="family")
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

    def update_choices(*_):
        task.options = options("task", family=family.value)
        variant.options = options("run", family=family.value, task=task.value)
        metric.options = options("metric", family=family.value, task=task.value, run=variant.value)

    def draw(*_):
        chosen = df[(df.family == family.value) & (df.task == task.value) & (df.run == variant.value)
                    & df.ticket.isin([t for t, button in tickets.items() if button.value])]
        out.clear_output(wait=True)
        with out:
            if chosen.empty:
                print("nothing to show for this choice")
            else:
                show(pruning_curve(chosen, metric.value, title=f"{task.value} · {variant.value}"))

    family.observe(update_choices, "value")
    task.observe(update_choices, "value")
    variant.observe(update_choices, "value")
    update_choices()
    for control in (family, task, variant, metric, *tickets.values()):
        control.observe(draw, "value")
    draw()
    return widgets.VBox([widgets.HBox([family, task]), widgets.HBox([variant, metric]),
                         widgets.HBox(list(tickets.values())), out])
