"""A dataset that is not on this machine: an error that says where to put it, or, while a sweep only plans
its grid (`lth sweep --dry-run`), a note of what the run will need, so that a grid is planned (its run
directories, tickets and cost) on a machine that will never train it."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_noted: ContextVar[list[str] | None] = ContextVar("noted", default=None)


class MissingData(FileNotFoundError):
    """A dataset's files are not where the run looks for them."""


def missing_data(message: str) -> None:
    """Raise MissingData(message) or, inside `planning()`, note the message and go on."""
    noted = _noted.get()
    if noted is None:
        raise MissingData(message)
    if message not in noted:
        noted.append(message)


def planning_only() -> bool:
    """Whether a grid is being planned (`planning()`), not run: a family may then count on its dataset's
    published size instead of reading it."""
    return _noted.get() is not None


@contextmanager
def planning() -> Iterator[list[str]]:
    """Within it, a missing dataset is noted in the list it yields instead of raised."""
    token = _noted.set([])
    try:
        yield _noted.get()
    finally:
        _noted.reset(token)
