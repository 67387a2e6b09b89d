#!/usr/bin/env bash
# Execute a notebook into the book's results and publish its run's summary (no weights):
#   scripts/publish.sh notebooks/classic_control.ipynb data/results/classic_control/CartPole-v0/iterative-late.ipynb -p env CartPole-v0
# A finished run only re-plots; an unfinished one trains what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
notebook=$1 out=$2
shift 2
mkdir -p "$(dirname "$out")"
.venv/bin/papermill "$notebook" "$out" -p publish_to data/results "$@"
.venv/bin/python -c "import sys; from lthlib.store import prepare_for_book; prepare_for_book(sys.argv[1])" "$out"
