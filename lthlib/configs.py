"""Presets as frozen dataclasses: one way to build and check them for every family."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

PRESETS = ("smoke", "cpu", "paper")
# Field metadata {"hash": UNLESS_DEFAULT}: a field added after runs were committed enters the run's hash
# only when it differs from its default, so those runs keep their names (OpenLTH does the same).
UNLESS_DEFAULT = "unless default"


def check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")


def make_config(cls: type, **fields: Any):
    """`cls(**fields)`, refusing unknown fields by name and values of the wrong type or range (`check_field`);
    lists become tuples (JSON and papermill give lists)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(fields) - names
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}; valid: {sorted(names)}")
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    hints, ranges = typing.get_type_hints(cls), getattr(cls, "RANGES", {})
    for name, value in fields.items():
        check_field(cls.__name__, name, value, hints[name], ranges.get(name))
    return cls(**fields)


def _matches(value: Any, annotation: Any) -> bool:
    """Whether `value` has the type `annotation` names: int (not bool), float (an int too), bool, str, None,
    unions, tuple[X, ...] and tuple[X, Y]."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _type_name(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "None"}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0]).removeprefix('an ').removeprefix('a ')}s"
        return f"a list of {len(args)} numbers"
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def check_field(owner: str, name: str, value: Any, annotation: Any, allowed: tuple | None) -> None:
    """Refuse a config value of the wrong type, or out of its range, naming the field, the value and what
    is allowed. Numbers (and the numbers in a list) must lie in `allowed` = (low, high), either None for
    no bound; without one an integer field (a count) must be at least 1 and any other number at least 0."""
    if not _matches(value, annotation):
        hint = ""
        if isinstance(value, str) and _matches(1.0, annotation):
            try:
                float(value)
                hint = f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)"
            except ValueError:
                pass
        raise ValueError(f"{owner} field {name!r} must be {_type_name(annotation)}, got {value!r} "
                         f"({type(value).__name__}){hint}")
    counts = not _matches(0.5, annotation) and not _matches((0.5,), annotation)  # an integer field: a count
    numbers = [v for v in (value if isinstance(value, tuple) else (value,))
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for v in numbers:
        low, high = allowed or ((1 if counts else 0), None)
        if (low is not None and v < low) or (high is not None and v > high):
            bounds = (f"at least {low}" if high is None else f"at most {high}" if low is None
                      else f"between {low} and {high}")
            raise ValueError(f"{owner} field {name!r} must be {bounds}, got {value!r}")


def hashed_fields(config) -> dict[str, Any]:
    """The config's fields that define a run (not where data lives or which device runs it)."""
    values = dataclasses.asdict(config)
    hashed = {}
    for f in dataclasses.fields(config):
        rule = f.metadata.get("hash", True)
        if rule is True or (rule == UNLESS_DEFAULT and values[f.name] != f.default):
            hashed[f.name] = values[f.name]
    return hashed


def rewind_point(budget: int, share: float) -> int:
    """The late-rewinding point that takes `share` of a `budget` counted in the trainer's own unit
    (episodes, batches, updates): at least 1, so that a tiny preset still rewinds after training began."""
    return max(1, round(budget * share))


@dataclass(frozen=True)
class TicketConfig:
    """The base of every family's config: what the lottery loop reads of one, written once.

    A subclass names the field holding its task (`TASK_FIELD`) and the one holding its late-rewinding point
    (`REWIND_FIELD`), gives the paper's share of the budget there (`REWIND_SHARE`) and the trainer's own unit
    (`UNIT`: "episodes", "batches", ...), and defines `budget`, its training budget in that unit. A rewind
    point left None becomes the paper's share of the budget. `device` says where it trains, not what: out of
    the run's hash.
    """

    TASK_FIELD: ClassVar[str]
    REWIND_FIELD: ClassVar[str]
    REWIND_SHARE: ClassVar[float]
    UNIT: ClassVar[str]

    device: str = field(default="cpu", kw_only=True, metadata={"hash": False})

    def __post_init__(self):
        if getattr(self, self.REWIND_FIELD) is None:
            object.__setattr__(self, self.REWIND_FIELD, rewind_point(self.budget, self.REWIND_SHARE))

    @property
    def task(self) -> str:
        """The run's task: the directory under its family's."""
        return getattr(self, self.TASK_FIELD)

    @property
    def budget(self) -> int:
        """The training budget in the trainer's own unit (episodes, batches, updates)."""
        raise NotImplementedError

    @property
    def rewind_fraction(self) -> float:
        """The late-rewinding point's share of the training budget (the paper's: `REWIND_SHARE`)."""
        return getattr(self, self.REWIND_FIELD) / self.budget


def keeps_share(fraction: float, share: float, tolerance: float = 0.1) -> bool:
    """Whether a preset's rewind point `fraction` of its budget is the paper's `share`, up to rounding."""
    return abs(fraction - share) <= tolerance * share


def paper_differences(family, config) -> dict[str, tuple[Any, Any]]:
    """{field: (ours, the paper preset's)} for the same task, placement fields (data_dir, device) aside."""
    placement = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.metadata.get("hash", True) is False}
    paper = dataclasses.asdict(family.config(config.task, "paper", **placement))
    ours = dataclasses.asdict(config)
    return {k: (ours[k], paper[k]) for k in hashed_fields(config) | hashed_fields(family.config(config.task, "paper", **placement))
            if ours[k] != paper[k]}
