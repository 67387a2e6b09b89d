import pytest
import torch
from torch import nn

from lthlib import Mask, fraction_pruned_at, prune_global
from lthlib.pruning import check_levels, check_pruning_rate


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))


def test_schedule_matches_the_paper():
    rates = [round(fraction_pruned_at(k, 0.2), 3) for k in (1, 2, 3, 10, 20)]
    assert rates == [0.2, 0.36, 0.488, 0.893, 0.988]


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 1.5])
def test_bad_pruning_rate_is_refused(rate):
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        check_pruning_rate(rate)


def masks_by_level(model, pruning_rate, levels):
    """The iterative masks of levels 0..levels, as the lottery prunes them (on the untrained weights)."""
    masks = [Mask.ones(model)]
    for level in range(1, levels + 1):
        masks.append(prune_global(dict(model.named_parameters()), masks[-1], fraction_pruned_at(level, pruning_rate)))
    return masks


def test_levels_past_the_last_new_mask_are_refused_and_the_last_one_passes():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))  # 58 weights: few, so pruning runs dry soon
    masks = masks_by_level(model, 0.2, 40)
    alive = [m.alive for m in masks]
    last = next(k for k in range(1, 41) if alive[k] == alive[k - 1] or alive[k] == 0) - 1
    assert 5 < last < 40 and alive[last] > 0  # up to `last` every level prunes more; level last + 1 repeats or empties
    check_levels(last, 0.2, Mask.ones(model).total)
    with pytest.raises(ValueError, match=rf"levels must be at most {last} here, got {last + 1}: with pruning_rate 0.2 "
                                         rf"level {last + 1} would"):
        check_levels(last + 1, 0.2, Mask.ones(model).total)
    with pytest.raises(ValueError, match=rf"levels must be at most {last} here, got 500"):
        check_levels(500, 0.2, Mask.ones(model).total)


@pytest.mark.parametrize("rate, bound, message", [
    (1e-3, 0.00862, "more than 0.00862 here for levels 3, got 0.001: level 1 would prune none of the 58 prunable weights"),
    (0.995, 0.991379, "less than 0.991379 here for levels 3, got 0.995: level 1 would leave none of the 58 prunable "
                      "weights alive")])
def test_a_pruning_rate_whose_first_level_prunes_none_or_all_is_refused(rate, bound, message):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    assert masks_by_level(model, rate, 1)[1].alive in (58, 0)  # the dense net again, or nothing left
    with pytest.raises(ValueError, match=f"pruning_rate must be {message}"):
        check_levels(3, rate, 58)
    check_levels(0, rate, 58)  # a dense net only prunes nothing
    inside = bound * (1.001 if rate < bound else 0.999)  # the bound the message states is the real one
    check_levels(1, inside, 58)
    assert 0 < masks_by_level(model, inside, 1)[1].alive < 58


def test_iterative_pruning_is_exact_global_and_includes_biases():
    model = mlp()
    with torch.no_grad():  # make biases large enough to survive sometimes, small enough to be pruned
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.mul_(0.5)
    mask = Mask.ones(model)
    total = mask.total
    assert total == sum(p.numel() for p in model.parameters())
    for level in range(1, 21):
        fraction = fraction_pruned_at(level, 0.2)
        mask = prune_global(dict(model.named_parameters()), mask, fraction)
        assert total - mask.alive == round(fraction * total)
        mask.apply(model)
    layers = mask.layer_fractions_pruned()
    weight_sparsities = [layers[n] for n in ("0.weight", "2.weight", "4.weight")]
    assert max(weight_sparsities) - min(weight_sparsities) > 0.05  # global: layers differ
    assert any(0 < layers[n] for n in ("0.bias", "2.bias", "4.bias"))  # biases are pruned too


def test_pruning_removes_the_smallest_magnitudes():
    weights = {"a": torch.tensor([0.5, -0.1, 3.0]), "b": torch.tensor([-0.2, 0.05, -4.0, 1.0])}
    mask = Mask({k: torch.ones_like(v, dtype=torch.bool) for k, v in weights.items()})
    pruned = prune_global(weights, mask, 3 / 7)
    assert pruned["a"].tolist() == [True, False, True]
    assert pruned["b"].tolist() == [False, False, True, True]


def test_ties_keep_the_count_exact():
    weights = {"a": torch.full((10,), 0.3), "b": torch.full((6,), 0.3)}
    mask = Mask({k: torch.ones_like(v, dtype=torch.bool) for k, v in weights.items()})
    pruned = prune_global(weights, mask, 0.5)
    assert pruned.alive == 8


def test_already_pruned_weights_are_not_counted_again():
    weights = {"w": torch.arange(1.0, 11.0)}
    mask = Mask({"w": torch.tensor([False] * 2 + [True] * 8)})
    pruned = prune_global(weights, mask, 0.5)  # 2 already gone: remove 3 more, the smallest alive
    assert pruned["w"].tolist() == [False] * 5 + [True] * 5


def test_exclude_keeps_named_parameters_whole():
    model = mlp()
    mask = Mask.ones(model, exclude=("0.*",))
    assert "0.weight" not in mask and "0.bias" not in mask
    pruned = prune_global(dict(model.named_parameters()), mask, 0.9)
    pruned.apply(model)
    assert (model[0].weight != 0).all()


def test_mask_round_trips_through_torch_prune(tmp_path):
    model = mlp()
    mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.6)
    other = mlp(1)
    mask.to_torch_prune(other)
    assert (other[2].weight[~mask["2.weight"]] == 0).all()
    back = Mask.from_torch_prune(other)
    assert back.keys() == mask.keys()
    assert all(torch.equal(back[k], mask[k]) for k in mask)

    mask.save(tmp_path / "mask.pt")
    loaded = Mask.load(tmp_path / "mask.pt")
    assert all(torch.equal(loaded[k], mask[k]) for k in mask)
