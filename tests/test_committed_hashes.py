"""Every committed run keeps its name: the code today rebuilds each summary's config from its recorded fields,
hashes what it would hash now, and finds the run directory the summary was published under.

A change that renamed runs (a new field hashed even at its default, a field no longer hashed, a renamed one)
would orphan the committed results from the runs that resume them; this test names the first one it breaks."""

import json
from pathlib import Path

import pytest

from lthlib import families
from lthlib.configs import hashed_fields, make_config
from lthlib.store import SUMMARY_SUFFIX, hashed_settings, run_name

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "data" / "results"
SUMMARIES = sorted(RESULTS.rglob(f"*{SUMMARY_SUFFIX}"))
SHARED = ROOT.parent / "shared" / "data"  # the datasets a config of the NLP families checks for
# the field that held the rewind point, in epochs, before each trainer counted it in its own unit: the runs
# named with it are history (out of the scorecard), named by the code of their day
RETIRED = {"rewind_epochs"}


@pytest.fixture(autouse=True)
def datasets(monkeypatch):
    monkeypatch.setenv("LTH_WIKITEXT2_DIR", str(SHARED / "wikitext-2"))
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(SHARED / "multi30k"))


def _config_class(family: str, task: str) -> type:
    return type(families.get(family).config(task, "smoke"))


def test_there_are_committed_summaries_of_every_family():
    assert len(SUMMARIES) >= 50
    assert {p.relative_to(RESULTS).parts[0] for p in SUMMARIES} == set(families.MODULES)  # the families shipped


@pytest.mark.parametrize("family", sorted(families.MODULES))
def test_each_committed_summary_hashes_to_its_own_name_under_the_code_of_today(family):
    summaries = [p for p in SUMMARIES if p.relative_to(RESULTS).parts[0] == family]
    classes: dict[str, type] = {}
    rebuilt_runs = 0
    for path in summaries:
        settings = json.loads(path.read_text())["settings"]
        assert f"{run_name(settings)}{SUMMARY_SUFFIX}" == path.name, path.relative_to(RESULTS)  # as recorded
        if RETIRED & set(settings["config"]):
            continue
        cls = classes.setdefault(settings["task"], _config_class(family, settings["task"]))
        rebuilt = hashed_fields(make_config(cls, **settings["config"]))
        now = hashed_settings(settings) | {"config": json.loads(json.dumps(rebuilt))}  # tuples as JSON lists
        assert now["config"] == settings["config"], path.relative_to(RESULTS)
        assert f"{run_name(now)}{SUMMARY_SUFFIX}" == path.name, path.relative_to(RESULTS)
        rebuilt_runs += 1
    assert rebuilt_runs >= 3, f"only {rebuilt_runs} of {family}'s summaries are named by today's fields"
