#!/usr/bin/env bash
# The main job: set up .venv/, run the classic-control lottery (CartPole-v0, cpu preset, 3 seeds)
# through papermill, say where the executed notebook and the results are, build the book, then say what
# the run found and whether it reproduces the committed results (lthlib.reproduction).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
ENV_ID=${ENV_ID:-CartPole-v0}
out="data/runs/notebooks/classic_control-${ENV_ID}.ipynb"
mkdir -p "$(dirname "$out")"
.venv/bin/papermill notebooks/classic_control.ipynb "$out" -p env "$ENV_ID" -p preset cpu
echo
echo "executed notebook: $out"
echo "results:           data/runs/classic_control/${ENV_ID}/ (load with lthlib.load_results)"
echo
echo "building the book from the committed results in data/results/ ..."
bash scripts/build_book.sh
echo
run=$(.venv/bin/python -c "
from lthlib import Lottery
from lthlib.families import classic_control
from lthlib.runs import run_root
print(run_root('data/runs', classic_control.FAMILY, classic_control.config('$ENV_ID', 'cpu'), Lottery()))")
.venv/bin/python -m lthlib.reproduction "$run"
