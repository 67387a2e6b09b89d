"""The findings first: what the intro and each experiment chapter open with, computed from the committed results.

Per task, the winning ticket's paired gain over its random ticket and over its dense net, level by level, with
intervals (`verdicts.estimate`), and the paper's claims counted by status. The scorecard behind the counts takes
~10 s to judge, and five pages show it, so `committed_scorecard` keeps it in a cache named by the results' and
lthlib's own bytes: a page judges again only when a result or the code that judges it changed.
"""

from __future__ import annotations

import hashlib
import html
import tempfile
from io import StringIO
from pathlib import Path

import pandas as pd

from lthlib import families
from lthlib.atomic import atomic_write
from lthlib.analysis import main_runs, wt_rt_estimates
from lthlib.scorecard import status_counts
from lthlib.verdicts import MIN_SEEDS

STAND_IN_TASKS = {"Multi30k": "Multi30k (stand-in)"}  # tasks that stand in for the paper's own (labelled)


def _key(results_dir: Path) -> str:
    digest = hashlib.sha256()
    for root, pattern in ((results_dir, "*.json"), (Path(__file__).parent, "*.py")):  # the results, and lthlib
        for path in sorted(root.rglob(pattern)):
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()[:20]


def committed_scorecard(results_dir: str | Path) -> pd.DataFrame:
    """`scorecard.scorecard` of every result under `results_dir`, with each Atari game's random-policy bar."""
    from lthlib.scorecard import scorecard
    from lthlib.store import load_results

    results_dir = Path(results_dir)
    cache = Path(tempfile.gettempdir()) / "lthlib-scorecard" / f"{_key(results_dir)}.json"
    if cache.exists():
        try:
            return pd.read_json(StringIO(cache.read_text()), orient="records", dtype=False)
        except ValueError:  # unreadable (a build killed while another wrote it): judge again
            pass
    to_beat = {task: bar for name in families.MODULES for task, bar in families.get(name).scores_to_beat(results_dir).items()}
    card = scorecard(load_results(results_dir), random_policy=to_beat)
    atomic_write(cache, lambda f: f.write(card.to_json(orient="records").encode()))
    return card


def estimates(results: pd.DataFrame, against: str = "random", family: str | None = None) -> pd.DataFrame:
    """The headline's estimates: each main iterative-late run (everything pruned) with 3 seeds or more at a level,
    WT - RT (`against="random"`) or WT - dense (`"dense"`), of every family or of one; stand-ins labelled."""
    main = main_runs(results)
    main = main[(main.variant == "iterative-late") & (main.exclude == "")]
    panels = []
    for name in [family] if family else families.MODULES:
        fam = families.get(name)
        e = wt_rt_estimates(main[main.family == name], fam.metric, fam.higher_is_better, against)
        panels.append(e[e.seeds >= MIN_SEEDS])
    out = pd.concat(panels, ignore_index=True)
    return out.assign(task=out.task.replace(STAND_IN_TASKS))


def chapter_findings(card: pd.DataFrame, family: str) -> str:
    """A chapter's opening, as HTML: its claims counted by status, then each claim with its status and the parts its
    evidence leans on; a link to the scorecard for the evidence."""
    rows = card[card.domain == families.get(family).domain]
    if rows.empty:
        return "<p>The paper makes no claim this chapter's runs are judged on.</p>"
    items = "".join(f"<li><b>{html.escape(r.status)}</b>: {html.escape(r.claim)}"
                    + (f" <i>(the evidence: {html.escape(r.leans.replace('for: ', 'for it, ').replace('against: ', 'against it, '))})</i>"
                       if r.leans and r.leans != "–" else "") + "</li>"
                    for r in rows.itertuples())
    return (f"<p>Of the paper's {len(rows)} claim{'s' if len(rows) != 1 else ''} about this family, "
            f"{status_counts(rows)} (judged from the committed results when this book was built; the "
            '<a href="scorecard.html">scorecard</a> gives each part with its interval):</p>'
            f"<ul>{items}</ul>")


def show_opening(family: str | None = None, results_dir: str | Path = "data/results") -> None:
    """Display the findings first (in a book page or a notebook): the claims by status, and the two headline
    figures, WT - RT and WT - dense across sparsity, for one family's chapter or (None) every family's, the intro's."""
    from IPython.display import HTML, Markdown, display

    from lthlib.paths import resolve
    from lthlib.plots import forest, show
    from lthlib.scorecard import findings
    from lthlib.store import load_results

    card, results = committed_scorecard(resolve(results_dir)), load_results(resolve(results_dir))
    lines = findings(card)
    display(Markdown(lines[0]) if family is None else HTML(chapter_findings(card, family)))
    up = "up: the WT is better (for a log perplexity, lower)"
    for against, what in (("random", "its random ticket (RT)"), ("dense", "its dense net")):
        e = estimates(results, against, family)
        if len(e):
            short = "RT" if against == "random" else "dense"
            show(forest(e, f"WT − {short} across sparsity", per_row=5, y_title=f"WT − {short}"))
            display(Markdown(f"The winning ticket (WT) against {what}, level by level, in every task with "
                             f"{MIN_SEEDS} seeds or more: each level's mean paired gain with its 90% interval, "
                             "against the fraction pruned; dashed, ± the practical margin; blue where the interval "
                             f"clears it ({up})."))
        if family is None and against == "random":
            display(Markdown("\n\n".join(lines[1:])))
