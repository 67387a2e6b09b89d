"""Every notebook, validated with nbval: each of its cells runs without error at the smoke preset.

The committed notebooks default to the `cpu` preset (hours); papermill writes a copy with the smoke
parameters injected (nothing executed), and nbval runs that copy cell by cell in a fresh kernel, in a
pytest of its own. `--nbval-lax`: the notebooks are committed without outputs, so there is nothing to
compare, only cells that must not fail. `--nbval-current-env`: the kernel is this interpreter, not whatever a
`python3` kernelspec on the machine (~/.local/share/jupyter/kernels) points to.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"
SMOKE = {"preset": "smoke", "seeds": [0], "levels": 1, "workers": 1}
needs = lambda name, path: pytest.mark.skipif(  # noqa: E731
    not (SHARED / path).exists() and not os.environ.get("CI"), reason=f"{name} not at {SHARED}")  # never skipped in CI
NOTEBOOKS = [
    pytest.param("classic_control", {"env": "CartPole-v0"}, id="classic_control"),
    pytest.param("atari", {"game": "Pong"}, id="atari"),
    pytest.param("lstm_wikitext2", {"data_dir": str(SHARED / "wikitext-2")}, id="lstm_wikitext2",
                 marks=needs("WikiText-2", "wikitext-2/train.txt")),
    pytest.param("transformer_mt", {"data_dir": str(SHARED / "multi30k"), "both_scopes": False}, id="transformer_mt",
                 marks=needs("Multi30k", "multi30k/train.en")),
]


@pytest.mark.parametrize("notebook, parameters", NOTEBOOKS)
def test_every_cell_of_the_notebook_runs_under_nbval(tmp_path, notebook, parameters):
    copy = tmp_path / f"{notebook}.ipynb"  # the parameters injected by papermill's own code, as `papermill -p` does
    nb = papermill.parameterize.parameterize_notebook(
        papermill.iorw.load_notebook_node(str(ROOT / "notebooks" / f"{notebook}.ipynb")),
        SMOKE | parameters | {"runs_dir": str(tmp_path / "runs")})
    nbformat.write(nb, copy)
    cells = sum(cell.cell_type == "code" for cell in nb.cells)
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q", "-p", "no:cacheprovider",
                           str(copy)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(rf"\b{cells} passed\b", done.stdout), done.stdout[-2000:]  # every code cell, none skipped
