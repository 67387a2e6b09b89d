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


def pruning_curve(df: pd.DataFrame, metric: str, title: str = "", y_title: str | None = None) -> go.Figure:
    """The paper's figure for one task and variant: x = fraction pruned (ticks at r_k)."""
    stats = summarize(df, metric)
    levels = sorted(stats.level.unique())
    fraction_at = stats.groupby("level").fraction_pruned.mean()
    hover = ("%{customdata[0]}<br>level %{customdata[1]} · %{customdata[2]:.1%} pruned<br>"
             f"{metric} %{{y:.4g}} ± %{{customdata[3]:.3g}} (%{{customdata[4]}} seeds)<extra></extra>")
    fig = go.Figure()
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
        if len(dense):
            s = pd.concat([dense.assign(ticket=ticket), s])  # both curves start at the dense net
        if not len(s):
            continue
        x, mean, std = s.level.tolist(), s["mean"].to_numpy(), s["std"].to_numpy()
        fig.add_trace(go.Scatter(
            x=x + x[::-1], y=list(mean + std) + list((mean - std)[::-1]), fill="toself",
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
        xaxis=dict(title="fraction of weights pruned (%)", tickmode="array", tickvals=levels,
                   ticktext=[f"{100 * fraction_at[lv]:.1f}" for lv in levels], tickangle=-60),
        yaxis=dict(title=y_title or metric),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        margin=dict(l=60, r=20, t=70, b=60),
    )
    return fig


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


def show(fig: go.Figure) -> None:
    """Display `fig` in a notebook so it renders in JupyterLab and in the offline book alike."""
    from IPython.display import display

    display(_Figure(fig))
