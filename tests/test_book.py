"""The book builds offline from committed results, and a real browser draws every figure.

The build runs in a network namespace of its own (no route anywhere but loopback, which the
notebook kernels need); the browser test opens the built pages from disk in headless Chromium,
counts the plotly traces drawn, and fails on any console error or any request that leaves the
local files.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def offline(command: list[str]) -> list[str]:
    """`command` in a fresh network namespace with only loopback up, where unshare is allowed."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"]).returncode == 0:
        script = 'ip link set lo up 2>/dev/null || true; exec "$@"'
        return ["unshare", "-rn", "sh", "-c", script, "sh", *command]
    pytest.skip("cannot make a network namespace here to prove the build is offline")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    static = ROOT / "book" / "_static"
    static.mkdir(exist_ok=True)
    import plotly

    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")
    committed = {p: p.read_bytes() for p in (ROOT / "data" / "results").rglob("*.*")}
    build = subprocess.run(offline([str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out)]),
                           capture_output=True, text=True, timeout=600)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-3000:]
    assert "Executing notebook failed" not in log, log[-3000:]
    # building reads results and never re-executes a run's notebook (which could retrain)
    assert {p: p.read_bytes() for p in committed} == committed
    return out / "_build" / "html"


def test_book_has_every_chapter(book):
    for page in ("index", "book/method", "book/classic_control", "book/lstm_wikitext2", "book/atari", "book/transformer_mt",
                 "book/scorecard", "book/why_tickets_win", "book/performance", "book/running", "book/adding_a_family"):
        assert (book / f"{page}.html").exists(), page
    # plotly.js is shipped once, not inside every page
    assert (book / "_static" / "plotly.min.js").exists()
    assert all(p.stat().st_size < 3_000_000 for p in book.rglob("*.html"))


def test_no_page_shows_a_machine_path(book):
    """A reader sees data/runs, not the machine's /home/.../data/runs (`publishing.without_machine_paths`)."""
    machine_paths = (str(ROOT), str(ROOT.parent / "shared"))
    for page in book.rglob("*.html"):
        text = page.read_text()
        assert not any(path in text for path in machine_paths), page


def test_no_page_shows_nan(book):
    """Every table cell without a value reads "–" (chapters: `to_html(na_rep=...)`; executed notebooks:
    `publishing.prepare_for_book`); scripts (plotly's data) and styles are not what a reader sees."""
    for page in book.rglob("*.html"):
        text = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(), flags=re.S)
        shown = re.sub(r"<[^>]+>", " ", text)
        assert not re.search(r"\bnan\b", shown, flags=re.I), (page, re.search(r".{60}\bnan\b.{20}", shown, re.I | re.S))


def test_the_intro_opens_with_what_we_found(book):
    html = (book / "book" / "intro.html").read_text()
    assert html.index('id="what-we-found"') < html.index('id="the-question"')
    assert re.search(r"Of the paper.s \d+ claims, \d+ ", html)
    assert html.count('class="plotly-graph-div"') == 2  # the headline figures: WT - RT and WT - dense


def test_each_experiment_chapter_opens_with_its_own_findings(book):
    for page in ("classic_control", "atari", "lstm_wikitext2", "transformer_mt"):
        html = (book / "book" / f"{page}.html").read_text()
        found = html.index('id="what-this-chapter-found"')
        assert found < html.index('id="the-experiment"'), page  # before the method and its cost
        assert re.search(r"Of the paper.s \d+ claims? about this family, \d+ ", html), page
        assert html[found:].index('class="plotly-graph-div"') < html[found:].index('id="the-experiment"'), page


def test_scorecard_lists_every_claim(book):
    from lthlib.scorecard import CLAIMS

    html = (book / "book" / "scorecard.html").read_text()
    for _, claim, *_ in CLAIMS:
        first = claim.split(";")[0]
        assert first in html or first.replace("'", "&#39;") in html, claim
    for status in ("partly shown", "indicative", "not testable here"):  # today's statuses, and the rules
        assert f">{status}<" in html
    assert "one-sided paired t-test" in html and ">scale<" in html and ">leans<" in html
    assert ">levels, corrected<" in html  # how each claim's levels are corrected, beside its evidence
    assert html.count('class="plotly-graph-div"') >= 10  # a forest plot per claim with estimates on 3 seeds


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_every_figure_draws_in_a_real_browser_offline(book):
    from playwright.sync_api import sync_playwright

    figure_pages = [book / "book" / "classic_control.html", *sorted((book / "data" / "results").rglob("*.html"))]
    assert len(figure_pages) >= 2
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
        for path in [book / "index.html", book / "book" / "method.html", book / "book" / "scorecard.html",
                     book / "book" / "performance.html", *figure_pages]:
            page = browser.new_page()
            errors, remote = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: remote.append(r.url)
                    if not r.url.startswith(("file://", "data:", "blob:", "about:")) else None)
            page.goto(path.as_uri(), wait_until="load")
            if path in figure_pages:
                page.wait_for_selector(".plotly-graph-div .main-svg", timeout=20_000)
                traces = page.eval_on_selector_all(".plotly-graph-div", "divs => divs.map(d => d.data.length)")
                drawn = page.locator(".plotly-graph-div g.trace.scatter").count()
                assert traces and min(traces) >= 1, path
                winning_only = "random_tickets=False" in page.content()  # an ablation run trains no random tickets
                assert drawn >= (2 if winning_only else 3), (path, drawn)  # WT, RT (but there) and the dense line
                assert page.locator(".plotly-graph-div .legend").count() >= 1
            assert errors == [], (path, errors)
            assert remote == [], (path, remote)
            page.close()
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_screenshots_show_the_findings_above_the_fold(book):
    """The intro, the scorecard and a chapter, in a 1280 x 800 window: what a reader sees first holds the findings
    (the claims counted by status) and, on the intro and the chapter, a drawn headline figure starting in it.
    The screenshots are kept beside the built book (`screenshots/`) for a person to look at."""
    from playwright.sync_api import sync_playwright

    shots = book.parent.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    fold = 800
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, path, counts, figure in (
                ("intro", book / "book" / "intro.html", r"Of the paper.s \d+ claims, \d+", True),
                ("scorecard", book / "book" / "scorecard.html", r"\d+ claims: \d+", False),
                ("classic_control", book / "book" / "classic_control.html", r"Of the paper.s \d+ claims? about", True)):
            page = browser.new_page(viewport={"width": 1280, "height": fold})
            page.goto(path.as_uri(), wait_until="load")
            if figure:
                page.wait_for_selector(".plotly-graph-div .main-svg", timeout=20_000)
            page.screenshot(path=str(shots / f"{name}.png"))
            box = page.get_by_text(re.compile(counts)).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= fold, (name, box)
            if figure:
                graph = page.locator(".plotly-graph-div").first
                assert graph.locator("g.trace.scatter").count() >= 1, name  # drawn, not an empty div
                assert graph.bounding_box()["y"] < fold, (name, graph.bounding_box())
            page.close()
        browser.close()
