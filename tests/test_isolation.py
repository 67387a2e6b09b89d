"""The autouse fixture of conftest.py gives each test the global torch state the suite started with."""

import pytest
import torch

from conftest import restore, torch_state

START = torch_state()  # read when pytest collects this module, before any test has run


def test_restore_undoes_every_global_setting_a_test_may_change():
    before = torch_state()
    torch.set_num_threads(1 if before["threads"] != 1 else 2)
    torch.set_default_dtype(torch.float64)
    torch.set_grad_enabled(False)
    torch.use_deterministic_algorithms(True)
    torch.set_autocast_enabled("cpu", True)
    torch.set_autocast_dtype("cpu", torch.float16)
    assert torch_state() != before
    restore(before)
    assert torch_state() == before


@pytest.mark.parametrize("leak", ["first", "second"])
def test_a_test_that_leaks_a_setting_does_not_pass_it_on(leak):
    """Whichever of the two runs second would see the first's leak without the fixture, in any test order."""
    assert torch_state() == START
    torch.set_num_threads(1 if START["threads"] != 1 else 2)  # left set, as tests/test_lottery.py's side-by-side test did
    torch.set_default_dtype(torch.float64)
