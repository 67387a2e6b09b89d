"""Masks: which weights of a network are still alive.

A mask maps parameter names to boolean tensors of the parameter's shape. Parameters that are
not in the mask (excluded from pruning, e.g. embeddings kept whole) are never pruned.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import torch
from torch import nn

from lthlib.atomic import atomic_torch_save


class Mask(dict[str, torch.Tensor]):
    """Parameter name -> bool tensor (True = alive)."""

    @classmethod
    def ones(cls, model: nn.Module, exclude: tuple[str, ...] = ()) -> Mask:
        """A mask keeping every parameter whose name matches none of the `exclude` globs."""
        return cls(
            {
                name: torch.ones(p.shape, dtype=torch.bool, device=p.device)
                for name, p in model.named_parameters()
                if not any(fnmatch.fnmatch(name, pattern) for pattern in exclude)
            }
        )

    @property
    def total(self) -> int:
        return sum(m.numel() for m in self.values())

    @property
    def alive(self) -> int:
        return sum(int(m.sum()) for m in self.values())

    def fraction_pruned(self) -> float:
        return 1.0 - self.alive / self.total

    def layer_fractions_pruned(self) -> dict[str, float]:
        return {name: 1.0 - m.float().mean().item() for name, m in self.items()}

    @torch.no_grad()
    def apply(self, model: nn.Module) -> None:
        """Zero the pruned weights of `model` in place."""
        params = dict(model.named_parameters())
        for name, m in self.items():
            params[name].mul_(m)

    def save(self, path: str | Path) -> None:
        atomic_torch_save({name: m.clone() for name, m in self.items()}, path)

    @classmethod
    def load(cls, path: str | Path) -> Mask:
        return cls(torch.load(path, weights_only=True))

    # --- torch.nn.utils.prune interoperability -------------------------------------------------

    def to_torch_prune(self, model: nn.Module) -> None:
        """Re-parametrise `model` with `torch.nn.utils.prune.custom_from_mask` (weight_orig * weight_mask).

        Use this only to hand a ticket to code written for that API: its re-parametrisation breaks
        `nn.LSTM`'s flattened weights, which is why lthlib trains with plain parameters.
        """
        from torch.nn.utils import prune

        modules = dict(model.named_modules())
        for name, m in self.items():
            module_name, _, param_name = name.rpartition(".")
            prune.custom_from_mask(modules[module_name], param_name, m)

    @classmethod
    def from_torch_prune(cls, model: nn.Module) -> Mask:
        """Read the masks of a model pruned with `torch.nn.utils.prune` (buffers named `<param>_mask`)."""
        mask = cls()
        for module_name, module in model.named_modules():
            for buffer_name, buffer in module.named_buffers(recurse=False):
                if buffer_name.endswith("_mask"):
                    param = buffer_name.removesuffix("_mask")
                    mask[f"{module_name}.{param}" if module_name else param] = buffer.bool().clone()
        return mask
