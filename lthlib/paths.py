"""Where things live, whether a notebook runs from the repository root (papermill) or notebooks/ (JupyterLab)."""

from __future__ import annotations

from pathlib import Path


def project_root(start: str | Path = ".") -> Path:
    """The nearest directory at or above `start` holding this project (pyproject.toml and lthlib/)."""
    here = Path(start).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").exists() and (candidate / "lthlib").is_dir():
            return candidate
    return here


def resolve(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the project root, not the current directory."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def empty_files(paths) -> list[Path]:
    """The files among `paths` with no text in them (empty, or only whitespace in their first 64 KiB)."""
    def empty(path: Path) -> bool:
        with open(path, "rb") as f:
            return not f.read(1 << 16).strip()

    return [Path(p) for p in paths if empty(Path(p))]
