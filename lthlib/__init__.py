"""lthlib: lottery tickets beyond image classification (Yu et al., ICLR 2020), as a thin library."""

from lthlib import arithmetic

arithmetic.apply()  # before anything computes with torch: LTH_ARITHMETIC=portable (see lthlib.arithmetic)

from lthlib.lottery import run_lottery  # noqa: E402
from lthlib.runs import VARIANTS, Lottery  # noqa: E402
from lthlib.masked import MaskedTraining  # noqa: E402
from lthlib.masks import Mask  # noqa: E402
from lthlib.pruning import fraction_pruned_at, prune_global  # noqa: E402
from lthlib.publishing import publish
from lthlib.store import load_results  # noqa: E402

__all__ = [
    "VARIANTS", "Lottery", "Mask", "MaskedTraining", "fraction_pruned_at", "load_results",
    "prune_global", "publish", "run_lottery",
]
