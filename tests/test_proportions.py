"""Every preset of every family rewinds at the paper's share of its training budget, or says why not."""

import os
from pathlib import Path

import pytest

from lthlib import Lottery, run_lottery
from lthlib.configs import PRESETS, keeps_share
from lthlib.families import atari, classic_control, lstm_lm, transformer_mt, wikitext2
from lthlib.atomic import read_json

SHARED = Path(__file__).parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "wikitext-2" / "train.txt").exists() and not os.environ.get("CI"),
                                reason=f"WikiText-2 and Multi30k not at {SHARED}")


def configs(preset):
    """One config per family and task of `preset` (the Transformer's paper arch and schedule on Multi30k)."""
    os.environ.setdefault(wikitext2.DATA_ENV_VAR, str(SHARED / "wikitext-2"))
    os.environ.setdefault("LTH_MULTI30K_DIR", str(SHARED / "multi30k"))
    yield from ((classic_control, classic_control.config(env, preset)) for env in classic_control.PAPER_ENVS)
    yield from ((atari, atari.config(game, preset)) for game in ("Krull", "Breakout"))
    yield lstm_lm, lstm_lm.config(preset)
    yield transformer_mt, transformer_mt.config("Multi30k", preset)


@needs_data
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_rewinds_at_the_papers_share_or_names_its_deviation(preset):
    for family, config in configs(preset):
        kept = keeps_share(config.rewind_fraction, family.REWIND_SHARE)
        assert kept != (preset in family.REWIND_DEVIATIONS), (family.__name__, preset, config.rewind_fraction)
    expected = {"classic_control": 1 / 20, "atari": 1 / 25, "lstm_lm": 1 / 10, "transformer_mt": 0.02}
    assert {f.FAMILY.name: f.REWIND_SHARE for f in (classic_control, atari, lstm_lm, transformer_mt)} == expected


def test_the_rewind_point_follows_a_shrunken_budget_in_the_trainers_unit():
    cfg = classic_control.config("LunarLander-v3", "cpu", epochs=4, episodes_per_epoch=50)
    assert cfg.rewind_episodes == 10 and cfg.rewind_fraction == pytest.approx(0.05)
    assert atari.config("Krull", "cpu", epochs=2, batches_per_epoch=100).rewind_batches == 8
    with pytest.raises(ValueError, match="rewind_episodes must lie in"):
        classic_control.config("CartPole-v0", "smoke", rewind_episodes=8)


def test_settings_record_the_rewind_fraction_and_the_differences_from_the_paper(tmp_path):
    cfg = classic_control.config("CartPole-v0", "smoke")
    late = run_lottery(classic_control.FAMILY, cfg, Lottery(levels=0), seeds=[0], runs_dir=tmp_path, progress=False)
    reset = run_lottery(classic_control.FAMILY, cfg, Lottery("iterative-reset", levels=0), seeds=[0], runs_dir=tmp_path,
                        progress=False)
    settings = read_json(late / "settings.json")
    assert settings["rewind_fraction"] == pytest.approx(1 / 8)  # smoke: 1 of 8 episodes
    assert settings["paper_differences"]["epochs"] == [2, 20]
    assert read_json(reset / "settings.json")["rewind_fraction"] == 0.0


def test_equal_updates_stops_every_ticket_at_the_dense_nets_updates(tmp_path):
    cfg = classic_control.config("CartPole-v0", "smoke", hidden=(64, 64), equal_updates=True)
    root = run_lottery(classic_control.FAMILY, cfg, Lottery(levels=2), seeds=[0], runs_dir=tmp_path, progress=False)
    dense = read_json(root / "seed_0" / "level_00" / "dense.json")["stats"]
    for level in (1, 2):
        for ticket in ("winning", "random"):
            stats = read_json(root / "seed_0" / f"level_{level:02d}" / f"{ticket}.json")["stats"]
            assert stats["updates"] == dense["updates"]
            assert stats["samples"] == dense["samples"]  # the same number of env steps per update
    plain = classic_control.config("CartPole-v0", "smoke", hidden=(64, 64))
    assert classic_control.ticket_config(plain, {"stats": {"updates": 3}}) is plain


def test_the_presets_field_table_lists_what_differs_with_its_value_at_each_preset(monkeypatch, tmp_path):
    """Built without the data, as the book may be: the LSTM counts its batches on WikiText-2's published size."""
    from lthlib.presets import fields_table

    monkeypatch.setenv("LTH_WIKITEXT2_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(tmp_path / "none"))
    table = fields_table().set_index(["family", "task", "field"])
    assert tuple(table.loc[("classic_control", "Acrobot-v1", "episodes_per_epoch")]) == ("4", "100", "320")
    assert tuple(table.loc[("lstm_lm", "WikiText-2", "rewind_batches")]) == ("4", "172", "1,393")  # 1/10 of the batches
    assert ("classic_control", "CartPole-v0", "lr") not in table.index  # the same at every preset: no row
    assert all(len({*row}) > 1 for row in table[["smoke", "cpu", "paper"]].itertuples(index=False))
