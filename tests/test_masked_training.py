import pytest
import torch
from torch import nn

from lthlib import Mask, MaskedTraining, prune_global
from lthlib.masked import moves_only_with_gradients


def pruned_mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.7)
    return model, mask


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.Adam(p, lr=1e-2),
        lambda p: torch.optim.Adam(p, lr=1e-2, fused=True, weight_decay=1e-3, amsgrad=True),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.99, eps=1e-8, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, weight_decay=1e-3),
    ],
    ids=["adam", "adam-fused", "adamw", "rmsprop", "sgd"],
)
def test_pruned_weights_stay_exactly_zero(make_optimizer):
    model, mask = pruned_mlp()
    optimizer = make_optimizer(model.parameters())
    MaskedTraining(model, mask, optimizer)
    x, y = torch.randn(256, 8), torch.randn(256, 1)
    first_loss = None
    for _ in range(300):
        loss = nn.functional.mse_loss(model(x), y)
        first_loss = first_loss if first_loss is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    assert loss.item() < first_loss  # it trained
    params = dict(model.named_parameters())
    for name, m in mask.items():
        assert (params[name][~m] == 0).all(), name
        if m.any():
            assert (params[name][m] != 0).any(), name
        for value in optimizer.state[params[name]].values():  # moments never grow where pruned
            if torch.is_tensor(value) and value.shape == m.shape:
                assert (value[~m] == 0).all(), name


def test_remove_detaches_the_mask():
    model, mask = pruned_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with MaskedTraining(model, mask, optimizer):
        pass
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
    assert (model[0].weight[~mask["0.weight"]] != 0).any()  # pruned entries move again


def test_mask_for_unknown_parameters_is_refused():
    model, _ = pruned_mlp()
    with pytest.raises(KeyError, match="lacks"):
        MaskedTraining(model, Mask({"nope.weight": torch.ones(1, dtype=torch.bool)}))


def test_an_optimizer_with_moments_from_before_the_mask_is_held_by_the_step_hook():
    """Moments that grew before the mask would move pruned weights without a gradient: the step hook,
    left out for fresh optimizers, is attached, and keeps them at zero."""
    model, mask = pruned_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()  # dense moments everywhere
    MaskedTraining(model, mask, optimizer)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    params = dict(model.named_parameters())
    assert all((params[name][~m] == 0).all() for name, m in mask.items())
    assert not moves_only_with_gradients(optimizer)
    assert moves_only_with_gradients(torch.optim.Adam(model.parameters()))
    assert not moves_only_with_gradients(torch.optim.Adam(model.parameters(), eps=0.0))
    assert not moves_only_with_gradients(torch.optim.Adagrad(model.parameters()))


def test_a_mask_that_prunes_nothing_attaches_nothing():
    model, _ = pruned_mlp()
    masking = MaskedTraining(model, Mask.ones(model), torch.optim.Adagrad(model.parameters()))
    assert masking._handles == []
