"""lthlib: lottery tickets beyond image classification (Yu et al., ICLR 2020), as a thin library."""

from lthlib.lottery import run_lottery
from lthlib.runs import VARIANTS, Lottery
from lthlib.masked import MaskedTraining
from lthlib.masks import Mask
from lthlib.pruning import fraction_pruned_at, prune_global
from lthlib.store import load_results, publish

__all__ = [
    "VARIANTS", "Lottery", "Mask", "MaskedTraining", "fraction_pruned_at", "load_results",
    "prune_global", "publish", "run_lottery",
]
