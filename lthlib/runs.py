"""What a lottery run is and where it lives: its settings (hashed into its directory's name), its seeds,
and the layout of its directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lthlib.configs import hashed_fields, paper_differences
from lthlib.family import Family
from lthlib.pruning import check_pruning_rate
from lthlib.atomic import read_json
from lthlib.store import finished_tickets, run_name

# variant -> (iterative pruning?, late rewinding?)
VARIANTS = {
    "iterative-late": (True, True),
    "iterative-reset": (True, False),
    "oneshot-late": (False, True),
    "oneshot-reset": (False, False),
}


@dataclass(frozen=True)
class Lottery:
    """How tickets are found; the family's config says how each is trained."""

    variant: str = "iterative-late"  # see VARIANTS: iterative or one-shot; late rewinding or reset to init
    pruning_rate: float = 0.2  # p: fraction of the alive weights each iteration removes
    levels: int = 20  # pruning iterations after the dense run (level 0)
    exclude: tuple[str, ...] = ()  # glob patterns of parameter names never pruned, e.g. ("embedding.*",)
    # False: the dense net and the winning tickets only, e.g. for an ablation variant, whose claims compare
    # winning tickets (a random ticket of the main run is the bar). Not hashed, like `levels`: random
    # tickets asked for later (True) extend the same run. None: as the run was started (`as_started`).
    random_tickets: bool | None = None

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {sorted(VARIANTS)}")
        check_pruning_rate(self.pruning_rate)
        if not isinstance(self.levels, int) or self.levels < 0:
            raise ValueError(f"levels must be a non-negative integer, got {self.levels!r}")
        if not isinstance(self.random_tickets, bool) and self.random_tickets is not None:
            raise ValueError(f"random_tickets must be True, False or None (as the run was started), "
                             f"got {self.random_tickets!r}")

    @property
    def tickets_per_seed(self) -> int:
        """The dense net and, at each level, a winning ticket (and a random one)."""
        if self.random_tickets is None:
            raise ValueError("random_tickets is None (as the run was started): resolve it first with as_started")
        return tickets_per_seed(self.levels, self.random_tickets)

    def as_started(self, root: Path, summary: Path | None = None) -> Lottery:
        """This lottery with `random_tickets` None resolved: as the run at `root` was started (its
        settings.json, else its published `summary`, records it), True for a new run. So resuming a run
        without naming random_tickets never trains random tickets into an ablation run that has none."""
        if self.random_tickets is not None:
            return self
        return replace(self, random_tickets=started_with_random_tickets(root, summary))

    @property
    def iterative(self) -> bool:
        return VARIANTS[self.variant][0]

    @property
    def late_rewinding(self) -> bool:
        return VARIANTS[self.variant][1]


def check_seeds(seeds) -> list[int]:
    """A list of non-negative ints; also accepts "0,1,2" or "[0, 1, 2]" (papermill's -p passes text) and one
    int (`-p seeds 0` passes 0)."""
    if isinstance(seeds, bool) or seeds is None or isinstance(seeds, dict):
        raise ValueError(f"seeds must be a list of non-negative integers, got {seeds!r}")
    if isinstance(seeds, int):
        seeds = [seeds]
    if isinstance(seeds, str):
        try:
            seeds = [int(s) for s in seeds.strip().strip("[]").split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"seeds must be a list of non-negative integers, got {seeds!r}") from None
    try:
        seeds = list(seeds)
    except TypeError:
        raise ValueError(f"seeds must be a list of non-negative integers, got {seeds!r}") from None
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run, it is no new "
                         f"evidence), got {seeds!r}: {repeated} more than once")
    return seeds


def derived_seed(seed: int, level: int, purpose: str) -> int:
    """A seed for one purpose at one level, independent of every other (stable across runs)."""
    digest = hashlib.sha256(f"{seed}/{level}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def run_settings(family: Family, config: Any, lottery: Lottery) -> dict[str, Any]:
    """Everything that changes a ticket's result; its hash names the run directory.

    `levels` is left out on purpose: asking for more levels extends the same run. So are config
    fields declared with `field(metadata={"hash": False})`, such as where the data lives.
    """
    return {
        "family": family.name,
        "task": config.task,
        "variant": lottery.variant,
        "pruning_rate": lottery.pruning_rate,
        "exclude": list(lottery.exclude),
        "config": hashed_fields(config),
    }


def recorded_settings(family: Family, config: Any, lottery: Lottery) -> dict[str, Any]:
    """What settings.json records beside the hashed settings, for readers of the results (not hashed):
    the rewind point's share of the training budget (0 when rewinding to the initial weights) and how
    the config differs from the paper's preset."""
    differences = paper_differences(family, config)
    return {"rewind_fraction": config.rewind_fraction if lottery.late_rewinding else 0.0,
            "paper_differences": {k: list(v) for k, v in differences.items()},
            "random_tickets": lottery.random_tickets}


def started_with_random_tickets(root: Path, summary: Path | None = None) -> bool:
    """Whether the run at `root` trains random tickets: as its settings.json, else its published
    `summary`, records it; for a run recorded before they did, False where a seed has winning tickets at
    levels 1 and 2 and the run no random ticket at all (a random ticket trains beside level 1's winning
    one); True for a new run (no settings.json, no summary)."""
    published = read_json(summary) if summary is not None and summary.exists() else None
    sources = ([read_json(root / "settings.json")] if (root / "settings.json").exists() else []) + (
        [published["settings"]] if published else [])
    if not sources:
        return True
    recorded = [settings["random_tickets"] for settings in sources if "random_tickets" in settings]
    if recorded:
        return recorded[0]
    records = [record for _, record in finished_tickets(root)] + (published["tickets"] if published else [])
    if any(r["ticket"] == "random" for r in records):
        return True
    levels = {(r["seed"], r["level"]) for r in records if r["ticket"] == "winning"}
    return not any((seed, 1) in levels and (seed, 2) in levels for seed, _ in levels)


def run_root(runs_dir: str | Path, family: Family, config: Any, lottery: Lottery) -> Path:
    task_dir = config.task.replace("/", "_")
    return Path(runs_dir) / family.name / task_dir / run_name(run_settings(family, config, lottery))


def level_dir(root: Path, seed: int, level: int) -> Path:
    return root / f"seed_{seed}" / f"level_{level:02d}"


def tickets_per_seed(levels: int, random_tickets: bool = True) -> int:
    return 1 + levels * (2 if random_tickets else 1)


def ticket_records(root: Path, seed: int, level: int, random_tickets: bool = True) -> list[Path]:
    """The record files a finished level holds: the dense net's at level 0, both tickets' after (the
    winning ticket's only, without `random_tickets`)."""
    names = ["dense.json"] if level == 0 else ["winning.json", "random.json"] if random_tickets else ["winning.json"]
    return [level_dir(root, seed, level) / n for n in names]


def tickets_done(root: Path, seeds: list[int], levels: int, random_tickets: bool = True) -> int:
    return sum(p.exists() for seed in seeds for level in range(levels + 1)
               for p in ticket_records(root, seed, level, random_tickets))


def levels_in_training(root: Path, seeds: list[int], levels: int, random_tickets: bool = True) -> dict[int, int]:
    """{seed: the first level it has not finished} for the seeds that have started and not finished."""
    found = {}
    for seed in seeds:
        level = next((k for k in range(levels + 1)
                      if not all(p.exists() for p in ticket_records(root, seed, k, random_tickets))), None)
        if level is not None and (root / f"seed_{seed}").exists():
            found[seed] = level
    return found
