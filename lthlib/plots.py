"""Pruning curves in the paper's style: WT blue, RT red, mean ± std bands, the dense net a gray line."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go

COLORS = {"winning": "#1f5fbf", "random": "#d62728", "dense": "#7f7f7f"}
NAMES = {"winning": "winning ticket", "random": "random ticket", "dense": "dense (unpruned)"}
_BANDS = {"winning": "rgba(31,95,191,0.18)", "random": "rgba(214,39,40,0.18)"}


def summarize(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, std and seed count per (ticket, level) of one metric."""
    rows = df[df.metric == metric]
    return (
        rows.groupby(["ticket", "level"])
        .agg(fraction_pruned=("fraction_pruned", "mean"), mean=("value", "mean"),
             std=("value", "std"), seeds=("seed", "nunique"))
        .fillna({"std": 0.0})
        .reset_index()
    )


def level_table(df: pd.DataFrame, metric: str, spread: bool = False) -> pd.DataFrame:
    """Mean `metric` per level (rows: level, % pruned) and ticket (columns); with `spread`, each ticket's mean and
    std over seeds, and WT - RT where the run has both.

    The fraction is rounded to 0.1%: runs that prune slightly different pools (other games' action
    heads, another pruning scope) then share their rows when their tables are put side by side.
    """
    stats = summarize(df, metric).assign(pruned=lambda t: (100 * t.fraction_pruned).round(1))
    if not spread:
        return stats.pivot_table(index=["level", "pruned"], columns="ticket", values="mean")
    table = stats.pivot_table(index=["level", "pruned"], columns="ticket", values=["mean", "std"])
    table.columns = [f"{ticket} {value}" for value, ticket in table.columns]
    table = table[sorted(table.columns, key=lambda c: (c.split()[0], c.split()[1] != "mean"))]
    if {"winning mean", "random mean"} <= set(table.columns):
        table["WT - RT"] = table["winning mean"] - table["random mean"]
    return table


def pruning_curve(df: pd.DataFrame, metric: str, title: str = "", y_title: str | None = None) -> go.Figure:
    """The paper's figure for one task and variant: x = fraction pruned (ticks at r_k)."""
    stats = summarize(df, metric)
    levels = sorted(stats.level.unique())
    fraction_at = stats.groupby("level").fraction_pruned.mean()
    hover = ("%{customdata[0]}<br>level %{customdata[1]} · %{customdata[2]:.1%} pruned<br>"
             f"{metric} %{{y:.4g}} ± %{{customdata[3]:.3g}} (%{{customdata[4]}} seeds)<extra></extra>")
    fig = go.Figure()
    mark_output_pruned(fig, df)
    dense = stats[stats.ticket == "dense"]
    if len(dense):
        d = dense.iloc[0]
        fig.add_trace(go.Scatter(
            x=levels, y=[d["mean"]] * len(levels), mode="lines", name=NAMES["dense"],
            line=dict(color=COLORS["dense"], dash="dash"), hovertemplate=hover,
            customdata=[[NAMES["dense"], 0, 0.0, d["std"], d["seeds"]]] * len(levels),
        ))
    for ticket in ("random", "winning"):
        s = stats[stats.ticket == ticket]
        if not len(s):  # e.g. an ablation run without random tickets
            continue
        if len(dense):
            s = pd.concat([dense.assign(ticket=ticket), s])  # both curves start at the dense net
        x, mean, std = s.level.tolist(), s["mean"].to_numpy(), s["std"].to_numpy()
        spread = s[s.seeds >= 2]  # a band only where there is a spread to show: no "± 0" for one seed
        if len(spread):
            bx, upper, lower = spread.level.tolist(), spread["mean"] + spread["std"], spread["mean"] - spread["std"]
            fig.add_trace(go.Scatter(
                x=bx + bx[::-1], y=list(upper) + list(lower[::-1]), fill="toself",
                fillcolor=_BANDS[ticket], line=dict(width=0), hoverinfo="skip", showlegend=False,
                name=f"{NAMES[ticket]} ± std",
            ))
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=NAMES[ticket],
            line=dict(color=COLORS[ticket], width=2), marker=dict(size=5), hovertemplate=hover,
            customdata=[[NAMES[ticket], lv, fr, sd, n] for lv, fr, sd, n in
                        zip(x, s.fraction_pruned, std, s.seeds)],
        ))
    fig.update_layout(
        title=title, template="plotly_white", hovermode="closest",
        xaxis=pruned_axis(levels, fraction_at),
        yaxis=dict(title=y_title or metric),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        margin=dict(l=60, r=20, t=70, b=60),
    )
    return fig


def pruned_axis(levels, fraction_at) -> dict:
    """The x axis of every pruning curve: one tick per level, labelled with its fraction pruned."""
    return dict(title="fraction of weights pruned (%)", tickmode="array", tickvals=levels,
                ticktext=[f"{100 * fraction_at[lv]:.1f}" for lv in levels], tickangle=-60)


def mark_output_pruned(fig: go.Figure, df: pd.DataFrame) -> None:
    """Shade the levels where an output layer is entirely pruned: both tickets are then a constant
    function, and the verdicts leave those levels out."""
    if "output_pruned" not in df:
        return
    levels = sorted(df[df.output_pruned & (df.level > 0)].level.unique())
    for i, level in enumerate(levels):
        fig.add_vrect(x0=level - 0.5, x1=level + 0.5, fillcolor="#bbbbbb", opacity=0.35, line_width=0, layer="below",
                      annotation_text="output layer pruned: not judged" if i == 0 else None,
                      annotation_position="top left", annotation_font_size=10)


class _Figure:
    """Displays a figure both ways: plotly's JSON for JupyterLab, and an HTML div for the book.

    The HTML carries no plotly.js (the book loads it once, for every page), so an executed
    notebook stays small and renders with no network.
    """

    def __init__(self, fig: go.Figure):
        self.fig = fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        div = self.fig.to_html(full_html=False, include_plotlyjs=False, default_height="480px",
                               config={"responsive": True})
        return {"application/vnd.plotly.v1+json": json.loads(self.fig.to_json()), "text/html": div}


def random_policy_line(fig: go.Figure, reward: float, digits: int = 1) -> go.Figure:
    """A dotted line at a random policy's score: the bar an Atari agent must clear to have learned."""
    fig.add_hline(y=reward, line=dict(color="black", dash="dot"), annotation_text=f"random policy {reward:.{digits}f}",
                  annotation_position="bottom right")
    return fig


def show(fig: go.Figure) -> None:
    """Display `fig` in a notebook so it renders in JupyterLab and in the offline book alike."""
    from IPython.display import display

    display(_Figure(fig))


def layer_sparsity(layers: pd.DataFrame, overall: pd.DataFrame | None = None, title: str = "") -> go.Figure:
    """Fraction pruned in each layer at each level (mean over seeds), from `load_layer_sparsity`.

    `overall`, a `summarize` table, adds the global fraction as a dashed line for reference.
    """
    mean = layers.groupby(["layer", "level"]).fraction_pruned.mean().reset_index()
    fig = go.Figure()
    for layer in layers.layer.unique():  # in the model's parameter order
        rows = mean[mean.layer == layer]
        fig.add_trace(go.Scatter(
            x=rows.level, y=rows.fraction_pruned, mode="lines+markers", name=layer, marker=dict(size=4),
            hovertemplate=f"{layer}<br>level %{{x}}: %{{y:.1%}} pruned<extra></extra>",
        ))
    if overall is not None:
        rows = overall.groupby("level").fraction_pruned.mean()
        fig.add_trace(go.Scatter(x=rows.index, y=rows.values, mode="lines", name="whole network",
                                 line=dict(color="black", dash="dash"),
                                 hovertemplate="whole network<br>level %{x}: %{y:.1%} pruned<extra></extra>"))
    fig.update_layout(title=title, template="plotly_white", xaxis_title="pruning level k",
                      yaxis=dict(title="fraction pruned in the layer", tickformat=".0%"),
                      margin=dict(l=60, r=20, t=60, b=50))
    return fig


def explorer_figure(df: pd.DataFrame, y_titles: dict[str, str] | None = None) -> go.Figure:
    """Every (task, run, metric) pruning curve of `df` in one figure, chosen with a dropdown.

    The static-book counterpart of the JupyterLab explorer; clicking a legend entry hides or shows
    the winning tickets, random tickets or the dense line.
    """
    fig, buttons, choices = go.Figure(), [], []
    keys = df[["task", "run", "metric"]].drop_duplicates().sort_values(["task", "run", "metric"])
    several = df.groupby(["task", "variant"]).run.nunique().to_dict()
    for task, run, metric in keys.itertuples(index=False):
        rows = df[(df.task == task) & (df.run == run)]
        variant = rows.variant.iloc[0]
        label = run if several[(task, variant)] > 1 else variant
        curve = pruning_curve(rows, metric, y_title=(y_titles or {}).get(metric, metric))
        first = len(fig.data)
        for trace in curve.data:
            trace.visible = not choices
            fig.add_trace(trace)
        choices.append((f"{task} · {label} · {metric}", first, len(fig.data), curve.layout))
    for label, start, stop, layout in choices:
        visible = [start <= i < stop for i in range(len(fig.data))]
        buttons.append(dict(label=label, method="update", args=[
            {"visible": visible},
            {"xaxis.tickvals": layout.xaxis.tickvals, "xaxis.ticktext": layout.xaxis.ticktext,
             "yaxis.title.text": layout.yaxis.title.text, "shapes": layout.shapes, "annotations": layout.annotations},
        ]))
    first_layout = choices[0][3] if choices else go.Layout()
    fig.update_layout(first_layout)
    fig.update_layout(
        title=None, height=520, margin=dict(t=110),
        updatemenus=[dict(buttons=buttons, direction="down", x=0, xanchor="left", y=1.25, yanchor="top")],
        legend=dict(y=1.02, x=0.55),
    )
    return fig


VARIANT_COLORS = {"iterative-late": "#1f5fbf", "iterative-reset": "#2ca02c", "oneshot-late": "#9467bd",
                  "oneshot-reset": "#ff7f0e"}


def variants_curve(df: pd.DataFrame, metric: str, title: str = "", y_title: str | None = None) -> go.Figure:
    """Several variants of one task in one figure: a color per variant, WT solid, RT dashed."""
    fig = go.Figure()
    mark_output_pruned(fig, df)
    dense = summarize(df[df.ticket == "dense"], metric)
    levels = sorted(df.level.unique())
    fraction_at = df.groupby("level").fraction_pruned.mean()
    if len(dense):
        fig.add_trace(go.Scatter(x=levels, y=[dense["mean"].mean()] * len(levels), mode="lines",
                                 name=NAMES["dense"], line=dict(color=COLORS["dense"], dash="dash")))
    for variant in sorted(df.variant.unique(), key=list(VARIANT_COLORS).index):
        stats = summarize(df[df.variant == variant], metric)
        for ticket, dash in (("winning", "solid"), ("random", "dot")):
            s = stats[stats.ticket == ticket]
            if not len(s):  # e.g. an ablation run without random tickets
                continue
            fig.add_trace(go.Scatter(
                x=s.level, y=s["mean"], mode="lines+markers", name=f"{variant} {NAMES[ticket]}",
                line=dict(color=VARIANT_COLORS.get(variant), dash=dash), marker=dict(size=4),
                error_y=dict(type="data", array=s["std"].where(s.seeds >= 2), visible=True, thickness=1),
                hovertemplate=f"{variant} {NAMES[ticket]}<br>level %{{x}}: {metric} %{{y:.4g}}<extra></extra>",
            ))
    fig.update_layout(
        title=title, template="plotly_white",
        xaxis=pruned_axis(levels, fraction_at),
        yaxis=dict(title=y_title or metric), margin=dict(l=60, r=20, t=60, b=60),
    )
    return fig


def overlay_curves(runs: dict[str, pd.DataFrame], metric: str, title: str = "", y_title: str | None = None) -> go.Figure:
    """Several runs of one task in one figure, e.g. the episode budget against the equal-updates control:
    WT blue and RT red as always, one line style per run, error bars where there are 2 seeds or more."""
    fig = go.Figure()
    mark_output_pruned(fig, pd.concat(runs.values()))
    dashes = ("solid", "dash", "dot", "dashdot")
    levels = sorted({lv for df in runs.values() for lv in df.level.unique()})
    fraction_at = pd.concat(runs.values()).groupby("level").fraction_pruned.mean()
    for (label, df), dash in zip(runs.items(), dashes):
        stats = summarize(df, metric)
        dense = stats[stats.ticket == "dense"]
        for ticket in ("winning", "random"):
            if not (stats.ticket == ticket).any():
                continue
            s = pd.concat([dense.assign(ticket=ticket), stats[stats.ticket == ticket]])
            fig.add_trace(go.Scatter(
                x=s.level, y=s["mean"], mode="lines+markers", name=f"{NAMES[ticket]}, {label}",
                line=dict(color=COLORS[ticket], dash=dash), marker=dict(size=4),
                error_y=dict(type="data", array=s["std"].where(s.seeds >= 2), visible=True, thickness=1),
                hovertemplate=f"{NAMES[ticket]}, {label}<br>level %{{x}}: {metric} %{{y:.4g}}<extra></extra>",
            ))
    fig.update_layout(
        title=title, template="plotly_white",
        xaxis=pruned_axis(levels, fraction_at),
        yaxis=dict(title=y_title or metric), margin=dict(l=60, r=20, t=60, b=60),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return fig


def forest(estimates: pd.DataFrame, title: str = "", y_title: str = "WT − RT", per_row: int = 6) -> go.Figure:
    """Per-level estimates (`analysis.wt_rt_estimates`), one panel per task: each level's mean paired gain with its
    90% interval against the fraction pruned, 0 and ± the practical margin as lines. A level is shown where its
    interval clears the margin, unresolved where it straddles it."""
    from plotly.subplots import make_subplots

    tasks = list(dict.fromkeys(estimates.task))
    cols = max(min(len(tasks), per_row), 1)
    rows = -(-max(len(tasks), 1) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=tasks, shared_yaxes=False, vertical_spacing=0.3 / rows)
    for k, task in enumerate(tasks):
        row, i = k // cols + 1, k % cols + 1
        t = estimates[estimates.task == task].sort_values("fraction_pruned")
        shown = t.low > t.margin
        fig.add_trace(go.Scatter(
            x=t.fraction_pruned, y=t.gain, mode="markers", showlegend=False,
            marker=dict(color=[COLORS["winning"] if s else "#9aa7b8" for s in shown], size=7),
            error_y=dict(type="data", symmetric=False, array=t.high - t.gain, arrayminus=t.gain - t.low),
            customdata=t[["level", "seeds", "low", "high", "outcome"]].to_numpy(),
            hovertemplate="level %{customdata[0]} (%{x:.1%} pruned), %{customdata[1]} seeds<br>"
                          "%{y:.3g} [%{customdata[2]:.3g}, %{customdata[3]:.3g}]: %{customdata[4]}<extra></extra>"),
            row=row, col=i)
        margin = float(t.margin.iloc[0]) if len(t) else 0.0
        for y, dash in ((0.0, "solid"), (margin, "dash"), (-margin, "dash")):
            fig.add_hline(y=y, line=dict(color=COLORS["dense"], dash=dash, width=1), row=row, col=i)
        fig.update_xaxes(title_text="fraction pruned" if row == rows else None, tickformat=".0%", row=row, col=i)
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text=y_title, row=row, col=1)
    fig.update_layout(title=title, template="plotly_white", height=100 + 260 * rows, margin=dict(t=100, b=50))
    return fig


def budget_scaling(effects: pd.DataFrame, title: str = "", unit: str = "episodes") -> go.Figure:
    """`budgets.budget_effects`: each effect against the training budget, one panel per effect, with its 90%
    interval, 0 and the budget's margin (dashed). Blue: the interval clears the margin."""
    from plotly.subplots import make_subplots

    labels = dict(zip(effects.effect, effects.label))
    names = list(labels)
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=[labels[n] for n in names])
    for i, name in enumerate(names, start=1):
        e = effects[effects.effect == name].sort_values("budget")
        fig.add_trace(go.Scatter(
            x=e.budget, y=e.gain, mode="markers+lines", showlegend=False, line=dict(color="#9aa7b8", width=1),
            marker=dict(color=[COLORS["winning"] if low > m else "#9aa7b8" for low, m in zip(e.low, e.margin)], size=8),
            error_y=dict(type="data", symmetric=False, array=e.high - e.gain, arrayminus=e.gain - e.low),
            customdata=e[["seeds", "low", "high", "outcome"]].to_numpy(),
            hovertemplate="%{x:,} " + unit + ", %{customdata[0]} seeds<br>%{y:.3g} [%{customdata[1]:.3g}, "
                          "%{customdata[2]:.3g}]: %{customdata[3]}<extra></extra>"), row=1, col=i)
        fig.add_trace(go.Scatter(x=e.budget, y=e.margin, mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color=COLORS["dense"], dash="dash", width=1)), row=1, col=i)
        fig.add_hline(y=0.0, line=dict(color=COLORS["dense"], width=1), row=1, col=i)
        fig.update_xaxes(title_text=f"training budget ({unit})", type="log", row=1, col=i)
    fig.update_layout(title=title, template="plotly_white", height=360, margin=dict(t=90, b=50))
    return fig
