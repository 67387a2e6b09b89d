#!/usr/bin/env bash
# Create .venv/ and install lthlib with its dev extra; a no-op when nothing changed since last time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "lthlib needs Python >= 3.11"'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned, so nothing pulls a multi-GB CUDA build where a CPU wheel is at hand.
  .venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[dev,cluster]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# JupyterLab: the jupytext pairs (.py) open as notebooks; no news or update checks (no network at run time)
mkdir -p .venv/share/jupyter/lab/settings
cp scripts/jupyterlab-overrides.json .venv/share/jupyter/lab/settings/overrides.json
# `.venv/bin/jupyter lab` as root too (containers, CI machines): the server refuses root unless allowed;
# set here, in the venv's own config path, so nothing outside .venv/ changes
mkdir -p .venv/etc/jupyter
echo '{"ServerApp": {"allow_root": true}}' > .venv/etc/jupyter/jupyter_server_config.json
# Kernels of this venv drop ipykernel's "running over TCP without encryption" notice where they listen on
# loopback only (scripts/ipython_kernel_config.py says why)
mkdir -p .venv/etc/ipython
cp scripts/ipython_kernel_config.py .venv/etc/ipython/ipython_kernel_config.py
