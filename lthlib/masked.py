"""Masked training: pruned weights stay exactly zero under any optimizer.

Weights stay plain parameters (what `nn.LSTM`'s flattened weights and `torch.compile` need):
 - a hook zeroes the pruned entries of every accumulated gradient, so gradient clipping sees the sparse
   network and optimizer state (Adam's moments, RMSprop's square averages) never grows there;
 - an optimizer step hook zeroes the pruned weights after every step, which also undoes weight decay
   and any other update that moves a weight without a gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from lthlib.masks import Mask


def _zero_pruned_grad(mask: torch.Tensor):
    def hook(param: torch.Tensor) -> None:
        param.grad.mul_(mask)

    return hook


class MaskedTraining:
    """Attach `mask` to `model` (and `optimizer`); `remove()` detaches it. Also a context manager."""

    def __init__(self, model: nn.Module, mask: Mask, optimizer: torch.optim.Optimizer | None = None):
        params = dict(model.named_parameters())
        unknown = set(mask) - set(params)
        if unknown:
            raise KeyError(f"mask names parameters the model lacks: {sorted(unknown)}")
        self._params = [params[name] for name in mask]
        # in each parameter's own dtype, device and memory layout (e.g. channels_last convs): the fast path
        self._float_masks = [torch.empty_like(p).copy_(mask[name]) for name, p in zip(mask, self._params)]
        self._handles = [  # in place, once the gradient is accumulated: no extra copy per step
            p.register_post_accumulate_grad_hook(_zero_pruned_grad(m))
            for p, m in zip(self._params, self._float_masks)
        ]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_post_hook(lambda *_: self.zero_pruned()))
        self.zero_pruned()

    @torch.no_grad()
    def zero_pruned(self) -> None:
        torch._foreach_mul_(self._params, self._float_masks)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> MaskedTraining:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
