"""Where things live, whether a notebook runs from the repository root (papermill) or notebooks/ (JupyterLab)."""

from __future__ import annotations

from pathlib import Path


def project_root(start: str | Path = ".") -> Path:
    """The nearest directory at or above `start` holding this project (pyproject.toml and lthlib/); from
    elsewhere (a notebook copied out of the repository, e.g. by nbval's tests) the checkout this lthlib
    was imported from, else `start` itself."""
    here = Path(start).resolve()
    checkout = Path(__file__).resolve().parents[1]
    for candidate in (here, *here.parents, checkout):
        if (candidate / "pyproject.toml").exists() and (candidate / "lthlib").is_dir():
            return candidate
    return here


def resolve(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the project root, not the current directory."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def check_directory(field: str, path: str | Path) -> None:
    """A directory parameter (runs_dir, publish_to) that is, or lies under, a file: said so, before a raw
    NotADirectoryError."""
    path = Path(path).expanduser()
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ValueError(f"{field} must be a directory (it is created where missing), got {str(path)!r}: "
                                 f"{str(candidate)!r} is a file")
            return


def empty_files(paths) -> list[Path]:
    """The files among `paths` with no text in them (empty, or only whitespace in their first 64 KiB)."""
    def empty(path: Path) -> bool:
        with open(path, "rb") as f:
            return not f.read(1 << 16).strip()

    return [Path(p) for p in paths if empty(Path(p))]
