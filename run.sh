#!/usr/bin/env bash
# The main job: set up .venv/, run the classic-control lottery (CartPole-v0, cpu preset, 3 seeds)
# through papermill, say where the executed notebook and the results are, and build the book.
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
