"""Every registered family declares what the core reads of it, and what it declares holds of its own model."""

import os
from pathlib import Path

import pytest

from lthlib import families
from lthlib.configs import keeps_share
from lthlib.family import Family
from lthlib.parameters import notebook_defaults

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATA = {"lstm_lm": ("LTH_WIKITEXT2_DIR", SHARED / "wikitext-2"), "transformer_mt": ("LTH_MULTI30K_DIR", SHARED / "multi30k")}


@pytest.fixture(params=list(families.MODULES))
def family(request, monkeypatch):
    if request.param in DATA:
        variable, path = DATA[request.param]
        if not path.exists() and not os.environ.get("CI"):
            pytest.skip(f"needs {path}")
        monkeypatch.setenv(variable, str(path))
    return families.get(request.param)


def test_a_family_declares_its_facts(family):
    assert isinstance(family, Family) and family.name in families.names()
    assert isinstance(family.metric, str) and isinstance(family.higher_is_better, bool)
    assert 0 < family.rewind_share < 1 and 0 < family.margin < 1 and family.margin_of
    assert family.paper_tasks and family.output_layers
    assert (ROOT / family.notebook).exists()
    defaults = notebook_defaults(Path(family.notebook).stem)
    assert family.task_parameter is None or family.task_parameter in defaults
    assert set(family.one_run_per_notebook) <= set(defaults)
    task, overrides, never_pruned = family.run_inputs(defaults | {family.task_parameter or "": family.paper_tasks[0]})
    assert task == family.paper_tasks[0] and overrides.get("device") == defaults["device"]


def test_its_smoke_config_names_its_task_and_keeps_its_rewinding_share_or_says_why(family):
    task = family.paper_tasks[0]
    config = family.config(task, "smoke")
    assert config.task == task
    at, budget, unit = family.rewind_point(config)
    assert at / budget == pytest.approx(config.rewind_fraction) and unit
    assert keeps_share(at / budget, family.rewind_share) or family.rewind_deviations["smoke"]
    assert set(family.not_dense) & {f for f in vars(config)}  # it names the fields where its rewind point lives


def test_its_output_layers_and_cost_are_its_models(family):
    config = family.config(family.paper_tasks[0], "smoke")
    names = dict(family.build_model(config, 0).named_parameters())
    assert set(family.output_layers) & set(names), sorted(names)
    import dataclasses

    assert family.ticket_cost(dataclasses.asdict(config)) > 0
