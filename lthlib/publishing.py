"""Publishing a run: its summary (settings and ticket records, no weights) under data/results/, merged seed by
seed, and its executed notebook made fit for the offline book."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filelock import FileLock

from lthlib.atomic import atomic_write, atomic_write_json, read_json
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

    Its title gets the parameters it ran with (the book lists many runs of one notebook; paths, which
    name a machine's directories, not the experiment, are left out), and
    ipywidgets outputs (tqdm bars) are dropped: widget views need JavaScript from a CDN, and their
    text fallback shows the bar as it started, not as it ended.
    """
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    parameters = papermill_parameters(notebook)
    shown = ", ".join(f"{k}={v}" for k, v in parameters.items() if k not in PLACEMENT_PARAMETERS)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# ") and shown:
            title, _, rest = cell.source.partition("\n")
            cell.source = f"{title}: {shown}\n{rest}"
            break
    widget = "application/vnd.jupyter.widget-view+json"
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if widget not in o.get("data", {})]
    notebook.metadata.pop("widgets", None)
    atomic_write(notebook_path, lambda f: f.write(nbformat.writes(notebook).encode()))
