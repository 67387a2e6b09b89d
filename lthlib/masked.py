"""Masked training: pruned weights stay exactly zero under any optimizer.

Weights stay plain parameters (what `nn.LSTM`'s flattened weights and `torch.compile` need):
 - a hook zeroes the pruned entries of every accumulated gradient, so gradient clipping sees the sparse
   network and optimizer state (Adam's moments, RMSprop's square averages) never grows there;
 - an optimizer step hook zeroes the pruned weights after every step, which also undoes weight decay
   and any other update that moves a weight without a gradient. It is left out where it has nothing to
   undo: a fresh SGD, Adam, AdamW or RMSprop (with eps > 0) moves no weight whose gradient and state are
   zero (their weight decay multiplies the weight, zero stays zero), and that pass over every weight
   cost a few percent of an LSTM step (bench: masking_cost_*);
 - a mask that prunes nothing attaches nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from lthlib.masks import Mask
from lthlib.sparse_rmsprop import SparseRMSprop


def _zero_pruned_grad(mask: torch.Tensor):
    def hook(param: torch.Tensor) -> None:
        param.grad.mul_(mask)

    return hook


# optimizers whose update is exactly zero where the gradient and the optimizer state are zero
_MOVE_ONLY_WITH_GRADIENTS = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, SparseRMSprop)


def moves_only_with_gradients(optimizer: torch.optim.Optimizer) -> bool:
    """Whether `optimizer` leaves a weight alone as long as its gradients are zero: one of the known kinds,
    with no state yet (moments from before the mask would move pruned weights) and no eps of 0 (0 / 0)."""
    return (type(optimizer) in _MOVE_ONLY_WITH_GRADIENTS and not optimizer.state
            and all(group.get("eps", 1.0) > 0 for group in optimizer.param_groups))


class MaskedTraining:
    """Attach `mask` to `model` (and `optimizer`); `remove()` detaches it. Also a context manager."""

    def __init__(self, model: nn.Module, mask: Mask, optimizer: torch.optim.Optimizer | None = None):
        params = dict(model.named_parameters())
        unknown = set(mask) - set(params)
        if unknown:
            raise KeyError(f"mask names parameters the model lacks: {sorted(unknown)}")
        pruned = [name for name in mask if not mask[name].all()]  # masks of ones change nothing
        self._params = [params[name] for name in pruned]
        # in each parameter's own dtype, device and memory layout (e.g. channels_last convs): the fast path
        self._float_masks = [torch.empty_like(p).copy_(mask[name]) for name, p in zip(pruned, self._params)]
        self._handles = [  # in place, once the gradient is accumulated: no extra copy per step
            p.register_post_accumulate_grad_hook(_zero_pruned_grad(m))
            for p, m in zip(self._params, self._float_masks)
        ]
        if optimizer is not None and self._params and not moves_only_with_gradients(optimizer):
            self._handles.append(optimizer.register_step_post_hook(lambda *_: self.zero_pruned()))
        self.zero_pruned()

    @torch.no_grad()
    def zero_pruned(self) -> None:
        if self._params:
            torch._foreach_mul_(self._params, self._float_masks)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> MaskedTraining:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
