"""Global magnitude pruning, pooled over every masked parameter (weights and biases alike)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from lthlib.masks import Mask


def fraction_pruned_at(level: int, pruning_rate: float) -> float:
    """r_k = 1 - (1 - p)^k: the fraction pruned after k iterations that each remove p of what is alive."""
    return 1.0 - (1.0 - pruning_rate) ** level


def check_pruning_rate(pruning_rate: float) -> None:
    if not isinstance(pruning_rate, (int, float)) or isinstance(pruning_rate, bool) or not 0.0 < pruning_rate < 1.0:
        raise ValueError(f"pruning_rate must lie in (0, 1), got {pruning_rate!r}")


def check_levels(levels: int, pruning_rate: float, prunable: int) -> None:
    """Refuse a lottery whose levels train no new ticket. Level k prunes round(r_k * N) of the N prunable
    weights (`prune_global`), so each level must prune at least one weight more than the level before and
    leave at least one alive: past that, a level repeats the sparsity of the one before (the same ticket,
    retrained) or trains an empty network, a meaningless ticket per level and seed."""
    before = 0
    for level in range(1, levels + 1):
        pruned = round(fraction_pruned_at(level, pruning_rate) * prunable)
        if not before < pruned < prunable:
            raise ValueError(_no_new_ticket(level, levels, pruning_rate, prunable, before, pruned))
        before = pruned


def _no_new_ticket(level: int, levels: int, pruning_rate: float, prunable: int, before: int, pruned: int) -> str:
    of = f"of the {prunable:,} prunable weights"
    if pruned >= prunable:
        what = f"would leave none {of} alive"
    elif level == 1:
        what = f"would prune none {of}: the dense net again"
    else:
        what = f"would prune no weight beyond the {before:,} {of} that level {level - 1} prunes: its ticket again"
    if level > 1:
        return (f"levels must be at most {level - 1} here, got {levels!r}: with pruning_rate {pruning_rate} level "
                f"{level} {what} (level k prunes round((1 - (1 - p)^k) * N) of the N)")
    bound = f"less than {1 - 0.5 / prunable:.6g}" if pruned >= prunable else f"more than {0.5 / prunable:.3g}"
    return (f"pruning_rate must be {bound} here for levels {levels}, got {pruning_rate!r}: level 1 {what} "
            f"(it prunes round(p * N) of the N)")


def _magnitude_bits(w: torch.Tensor) -> torch.Tensor:
    """|w| as int32 bit patterns: for non-negative floats, integer order is magnitude order."""
    return w.detach().float().abs().contiguous().view(torch.int32)


def _kth_smallest_bits(weights: Mapping[str, torch.Tensor], mask: Mask, k: int) -> int:
    """Bit pattern of the k-th smallest alive |w| (1-based), by a two-pass radix select.

    Each pass makes one 65,536-bin histogram per tensor, so the extra memory is about one tensor's
    size, never a copy of the whole model (which a torch.cat + sort of 210M weights would be).
    """
    high_counts = torch.zeros(1 << 16, dtype=torch.int64)
    for name, m in mask.items():
        bits = _magnitude_bits(weights[name])[m]
        high_counts += torch.bincount(bits >> 16, minlength=1 << 16)
    cumulative = high_counts.cumsum(0)
    high = int(torch.searchsorted(cumulative, k))
    k -= int(cumulative[high - 1]) if high > 0 else 0

    low_counts = torch.zeros(1 << 16, dtype=torch.int64)
    for name, m in mask.items():
        bits = _magnitude_bits(weights[name])[m]
        low_counts += torch.bincount(bits[(bits >> 16) == high] & 0xFFFF, minlength=1 << 16)
    low = int(torch.searchsorted(low_counts.cumsum(0), k))
    return (high << 16) | low


@torch.no_grad()
def prune_global(weights: Mapping[str, torch.Tensor], mask: Mask, fraction: float) -> Mask:
    """A new mask with exactly round(fraction * mask.total) entries pruned in all.

    The alive entries with the smallest |w| of `weights` (the trained values) are removed, pooled
    across all tensors of `mask`, so layers end at different sparsities. Ties at the threshold are
    broken by parameter order, then position, so the pruned count is exact and deterministic.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction to prune must lie in [0, 1), got {fraction!r}")
    to_prune = round(fraction * mask.total) - (mask.total - mask.alive)
    if to_prune < 0:
        raise ValueError(f"mask already has more than {fraction:.4f} pruned")
    if to_prune == 0:
        return Mask({name: m.clone() for name, m in mask.items()})

    threshold = _kth_smallest_bits(weights, mask, to_prune)
    new_mask = Mask()
    ties_left = to_prune - sum(
        int((_magnitude_bits(weights[name])[m] < threshold).sum()) for name, m in mask.items()
    )
    for name, m in mask.items():
        bits = _magnitude_bits(weights[name])
        keep = m & (bits > threshold)
        ties = (m & (bits == threshold)).flatten().nonzero().squeeze(1)
        kept_ties = ties[ties_left:] if ties_left > 0 else ties
        ties_left -= min(ties_left, len(ties))
        keep.view(-1)[kept_ties] = True
        new_mask[name] = keep
    return new_mask
