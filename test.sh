#!/usr/bin/env bash
# Set up .venv/ and run the test suite (a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
