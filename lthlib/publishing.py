"""Publishing a run: its summary (settings and ticket records, no weights) under data/results/, merged seed by
seed, and its executed notebook made fit for the offline book."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from filelock import FileLock

from lthlib.atomic import atomic_write, atomic_write_json, read_json
from lthlib.spans import describe_levels
from lthlib.store import SUMMARY_SUFFIX, finished_tickets


def summary_path(run_root: str | Path, results_dir: str | Path) -> Path:
    """Where `publish` writes a run's summary: <results_dir>/<family>/<task>/<variant>-<hash>.summary.json."""
    run_root = Path(run_root)
    return Path(results_dir) / run_root.parent.parent.name / run_root.parent.name / f"{run_root.name}{SUMMARY_SUFFIX}"


def publish(run_root: str | Path, results_dir: str | Path) -> Path:
    """Write a run's settings and every finished ticket's record (no weights) as one small JSON file,
    at `summary_path`, where `load_results(results_dir)` reads it like the run itself. This is what
    gets committed.

    Publishing again merges seed by seed: a seed comes from the run directory unless the summary
    already holds more of its tickets. So a fresh checkout, whose run directories hold only the seeds
    it reran, never drops the seeds published before it, and each seed's records still come from one
    execution of it. A lock file beside the summary makes the read-merge-write one step, so that seeds
    of one run publishing at once from several processes (a sweep) never drop each other's tickets.
    """
    run_root = Path(run_root)
    settings = read_json(run_root / "settings.json")
    out = summary_path(run_root, results_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{out}.lock"):
        by_seed = _by_seed(record for _, record in finished_tickets(run_root))
        if out.exists():
            for seed, records in _by_seed(read_json(out)["tickets"]).items():
                if len(records) > len(by_seed.get(seed, [])):
                    by_seed[seed] = records
        tickets = [record for seed in sorted(by_seed) for record in by_seed[seed]]
        atomic_write_json({"settings": settings, "tickets": tickets}, out)
    return out


def _by_seed(records) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = {}
    for record in records:
        grouped.setdefault(record["seed"], []).append(record)
    return grouped


def published_tickets(run_root: str | Path, results_dir: str | Path, seed: int) -> list[dict]:
    """The records of `seed` in the run's published summary (none if it was never published)."""
    path = summary_path(run_root, results_dir)
    return [r for r in read_json(path)["tickets"] if r["seed"] == seed] if path.exists() else []


PLACEMENT_PARAMETERS = ("publish_to", "runs_dir", "data_dir")  # where things live, not what ran: kept out of titles
HOW_PARAMETERS = ("workers", "progress")  # how it ran, not what: kept out of titles too
# an absolute path to a project or data directory, as a machine prints it: shown from its data/ (or notebooks/) on
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.+-]+/)+?((?:data|notebooks)/[\w./+-]*)")


def book_title(parameters: dict[str, Any]) -> str:
    """What ran, as a person would title it: the task, the variant, the preset, the seeds and anything else
    set (e.g. "Assault · iterative-late · cpu · seeds 1–2 · 10 levels · precision bf16")."""
    p = {k: v for k, v in parameters.items() if k not in PLACEMENT_PARAMETERS + HOW_PARAMETERS}
    seeds = p.pop("seeds", None)
    words = [str(p.pop(k)) for k in ("env", "game", "dataset", "variant", "preset") if k in p and p[k] not in ("", None)]
    if seeds:
        words.append(f"seed{'s' if len(seeds) > 1 else ''} {describe_levels(seeds)}")
    if "levels" in p:
        words.append(f"{p.pop('levels')} levels")
    if p.pop("random_tickets", True) is False:
        words.append("no random tickets")
    words += [f"{k.replace('_', ' ')} {v}" for k, v in p.pop("overrides", {}).items()]
    words += [f"{k.replace('_', ' ')} {v}" for k, v in p.items() if v not in (None, "", {}, [])]
    return " · ".join(words)


EMPTY_CELL = re.compile(r"(<td[^>]*>)\s*NaN\s*(</td>)")


def without_machine_paths(text: str) -> str:
    """`text` with every absolute path to a data or notebooks directory shown from that directory on."""
    return MACHINE_PATH.sub(r"\1", text)


def papermill_parameters(notebook) -> dict[str, Any]:
    """The parameters papermill executed `notebook` (an nbformat node) with."""
    return notebook.metadata.get("papermill", {}).get("parameters", {})


def executed_seeds(notebook_path: str | Path) -> list[int]:
    """The seeds the executed notebook at `notebook_path` ran with; [] where there is none."""
    import nbformat

    path = Path(notebook_path)
    return papermill_parameters(nbformat.read(path, as_version=4)).get("seeds", []) if path.exists() else []


def prepare_for_book(notebook_path: str | Path) -> None:
    """Make an executed notebook fit for the offline book.

    Its title says what ran (`book_title`: the book lists many runs of one notebook); absolute paths of the
    machine that ran it are shown from their data/ directory on, in cells and outputs alike; ipywidgets
    outputs (tqdm bars) are dropped: widget views need JavaScript from a CDN, and their text fallback shows
    the bar as it started, not as it ended; a table's empty (NaN) cells read "–". Preparing it again changes
    nothing more.
    """
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    shown = book_title(papermill_parameters(notebook))
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# ") and shown:
            title, _, rest = cell.source.partition("\n")
            cell.source = f"{title.partition(': ')[0]}: {shown}\n{rest}"
            break
    widget = "application/vnd.jupyter.widget-view+json"
    for cell in notebook.cells:
        cell.source = without_machine_paths(cell.source)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if widget not in o.get("data", {})]
            for output in cell.outputs:
                if "text" in output:
                    output["text"] = without_machine_paths(output["text"])
                for kind in ("text/plain", "text/markdown"):  # not html: a URL is no machine path
                    if kind in output.get("data", {}):
                        output["data"][kind] = without_machine_paths(output["data"][kind])
                if "text/html" in output.get("data", {}):  # a table's empty cell (no RT at level 0) reads "–"
                    output["data"]["text/html"] = EMPTY_CELL.sub(r"\1–\2", output["data"]["text/html"])
    notebook.metadata.pop("widgets", None)
    atomic_write(notebook_path, lambda f: f.write(nbformat.writes(notebook).encode()))
