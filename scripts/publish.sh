#!/usr/bin/env bash
# Execute a notebook into the book's results and publish its run's summary (no weights):
#   scripts/publish.sh notebooks/classic_control.ipynb data/results/classic_control/CartPole-v0/iterative-late.ipynb -p env CartPole-v0
# A finished run only re-plots; an unfinished one trains what is missing first. The notebook executes
# under data/runs/publishing/ and moves into the book only once it has run through, so a killed run
# never leaves a half-executed notebook among the results.
set -euo pipefail
cd "$(dirname "$0")/.."
notebook=$1 out=$2
shift 2
running="data/runs/publishing/$(echo "$out" | tr / _)"
mkdir -p "$(dirname "$out")" "$(dirname "$running")"
.venv/bin/papermill "$notebook" "$running" -p publish_to data/results "$@"
mv "$running" "$out"
.venv/bin/python -c "import sys; from lthlib.store import prepare_for_book; prepare_for_book(sys.argv[1])" "$out"
