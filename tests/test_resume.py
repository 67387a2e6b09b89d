"""Resuming inside a ticket: a killed ticket resumes from its last checkpoint and ends as if never stopped."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lthlib import Mask, prune_global
from lthlib.resume import TicketCheckpoint

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"
# skipped where the data is absent, but never in CI, where it must be there
needs_wikitext = pytest.mark.skipif(not (SHARED / "wikitext-2" / "train.txt").exists() and not os.environ.get("CI"),
                                    reason=f"WikiText-2 not at {SHARED}")
needs_multi30k = pytest.mark.skipif(not (SHARED / "multi30k" / "train.en").exists() and not os.environ.get("CI"),
                                    reason=f"Multi30k not at {SHARED}")


@pytest.fixture(autouse=True)
def shared_data(monkeypatch):
    monkeypatch.setenv("LTH_WIKITEXT2_DIR", str(SHARED / "wikitext-2"))
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(SHARED / "multi30k"))


class Crash(Exception):
    pass


class CrashingCheckpoint(TicketCheckpoint):
    """Saves like a TicketCheckpoint, then dies at its `crash_at`-th due save, before writing it: the
    updates since the last save are lost, as in a real crash."""

    def __init__(self, path, every_updates, crash_at):
        super().__init__(path, every_updates=every_updates)
        self.due_saves, self.crash_at = 0, crash_at

    def save_if_due(self, update, state):
        if self.due(update):
            self.due_saves += 1
            if self.due_saves == self.crash_at:
                raise Crash(update)
        super().save_if_due(update, state)


def interrupted_then_resumed(family, cfg, tmp_path, every, crash_at):
    """(uninterrupted result and weights, resumed result and weights, the update it crashed at)."""
    model = family.build_model(cfg, 0)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    plain = family.train(model, mask, cfg, 7)
    plain_weights = {k: v.clone() for k, v in model.state_dict().items()}

    path = tmp_path / "ticket.resume.pt"
    model.load_state_dict(start)
    with pytest.raises(Crash) as crash:
        family.train(model, mask, cfg, 7, checkpoint=CrashingCheckpoint(path, every, crash_at))
    assert path.exists()
    model = family.build_model(cfg, 1)  # a fresh process builds its model anew: nothing is carried over
    model.load_state_dict(start)
    resumed = family.train(model, mask, cfg, 7, checkpoint=TicketCheckpoint(path, every_updates=every))
    return plain, plain_weights, resumed, model.state_dict(), crash.value.args[0]


@needs_multi30k
def test_a_resumed_transformer_ticket_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    from lthlib.families import transformer_mt as T

    cfg = T.config("", "smoke", updates=8, checkpoint_every=2, average_last=3)  # averages 4, 6, 8; crash at 6
    plain, plain_weights, resumed, resumed_weights, crashed_at = interrupted_then_resumed(T, cfg, tmp_path, 3, 2)
    assert crashed_at == 6
    assert all(torch.equal(plain_weights[k], resumed_weights[k]) for k in plain_weights)
    assert resumed["metrics"] == plain["metrics"] and resumed["history"] == plain["history"]
    assert resumed["stats"]["samples"] == plain["stats"]["samples"]


KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from lthlib import resume
from lthlib.families import lstm_lm as L
from lthlib.lottery import run_seed
from lthlib.runs import Lottery

saves = []
original = resume.TicketCheckpoint.save_if_due
def save_if_due(self, update, state):
    if self.due(update) and self.path.name == "dense.resume.pt":
        saves.append(update)
        if len(saves) == 4:  # SIGKILL mid-ticket: updates 19-24 of the dense net are lost
            os.kill(os.getpid(), signal.SIGKILL)
    original(self, update, state)
resume.TicketCheckpoint.save_if_due = save_if_due
run_seed(L.FAMILY, L.config("smoke", resume_every_updates=6), Lottery(levels=1), 0, Path(sys.argv[1]),
         threads=int(sys.argv[2]))
"""


def killed_at_update_24(run: Path, threads: int) -> Path:
    """`run`'s LSTM seed 0, SIGKILLed in a child process on `threads` torch threads; its dense net's directory."""
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_CHILD), str(run), str(threads)],
                            cwd=ROOT, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dense = run / "seed_0/level_00"
    assert (dense / "dense.resume.pt").exists() and not (dense / "dense.json").exists()
    return dense


@needs_wikitext
def test_a_ticket_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path):
    """The LSTM's dense net (40 updates, saved every 6) is SIGKILLed at update 24; the rerun ends the seed
    with the same weights, records and rewind point as a run never stopped."""
    from lthlib.families import lstm_lm as L
    from lthlib.lottery import run_seed
    from lthlib.runs import Lottery

    cfg, lottery = L.config("smoke", resume_every_updates=6), Lottery(levels=1)
    dense = killed_at_update_24(tmp_path / "killed", threads=2)
    assert torch.load(dense / "dense.resume.pt", weights_only=True)["updates"] == 18  # the last save before the kill

    run_seed(L.FAMILY, cfg, lottery, 0, tmp_path / "killed", threads=2)  # the rerun resumes the dense net at update 18
    run_seed(L.FAMILY, cfg, lottery, 0, tmp_path / "whole", threads=2)
    assert "resumed_from" not in json.loads((dense / "dense.json").read_text())
    for ticket in ("level_00/dense.json", "level_01/winning.json", "level_01/random.json"):
        a, b = (json.loads((tmp_path / run / "seed_0" / ticket).read_text()) for run in ("killed", "whole"))
        assert (a["metrics"], a["history"], a["stats"]) == (b["metrics"], b["history"], b["stats"]), ticket
    for name in ("rewind.pt", "level_00/trained.pt", "level_01/trained.pt"):
        a, b = (torch.load(tmp_path / run / "seed_0" / name, weights_only=True) for run in ("killed", "whole"))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert not list((tmp_path / "killed").rglob("*.resume.pt"))  # a finished ticket deletes its checkpoint


@needs_wikitext
def test_a_ticket_resumed_on_another_thread_count_says_so_on_the_terminal_and_in_its_record(tmp_path, capfd):
    from lthlib.families import lstm_lm as L
    from lthlib.lottery import run_seed
    from lthlib.runs import Lottery

    dense = killed_at_update_24(tmp_path, threads=1)
    with pytest.warns(UserWarning, match=r"another machine or thread count \(threads 1 -> 2\)"):
        run_seed(L.FAMILY, L.config("smoke", resume_every_updates=6), Lottery(levels=1), 0, tmp_path, threads=2)
    assert "warning: dense.resume.pt: resuming a ticket saved on another machine" in capfd.readouterr().err
    record = json.loads((dense / "dense.json").read_text())
    assert record["resumed_from"] == {"threads": 1} and record["machine"]["threads"] == 2
    assert "resumed_from" not in json.loads((tmp_path / "seed_0/level_01/winning.json").read_text())


def test_a_resumed_atari_ticket_continues_from_its_last_rollout_with_fresh_games(tmp_path):
    """ale-py cannot restore its emulators: the resumed ticket keeps weights, optimizer and counters from the
    checkpoint (batch 2), plays fresh games, and still trains exactly the ticket's budget of batches."""
    from lthlib.families import atari

    cfg = atari.config("Pong", "smoke", epochs=3)  # 6 batches, one per rollout; saves at 2 and 4
    model = atari.build_model(cfg, 0)
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
    path = tmp_path / "ticket.resume.pt"
    with pytest.raises(Crash):
        atari.train(model, mask, cfg, 3, checkpoint=CrashingCheckpoint(path, 2, 2))
    saved = torch.load(path, weights_only=True)
    assert saved["batches"] == 2 and saved["env_steps"] == 2 * 128
    model = atari.build_model(cfg, 1)
    result = atari.train(model, mask, cfg, 3, checkpoint=TicketCheckpoint(path, every_updates=2))
    assert result["stats"] == {"updates": 6, "samples": 6 * 128}
    assert len(result["history"]["epoch_mean_reward"]) == 3
    params = dict(model.named_parameters())
    assert all((params[name][~m] == 0).all() for name, m in mask.items())
    assert any(not torch.equal(params[k], v) for k, v in saved["model"].items())  # it trained on from there
