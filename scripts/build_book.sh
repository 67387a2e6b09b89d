#!/usr/bin/env bash
# Build the Jupyter Book (JB1, offline) from committed results; prints the path of index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p book/_static
# plotly.js once for the whole book, from the installed plotly package (no CDN: works offline).
cp "$("$PY" -c 'import plotly, pathlib; print(pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js")')" book/_static/plotly.min.js
# --all: a chapter's text may be unchanged while the results it computes from are new
"$(dirname "$PY")/jupyter-book" build . --all --quiet
echo "book: $(pwd)/_build/html/index.html"
