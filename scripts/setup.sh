#!/usr/bin/env bash
# Creates .venv (if needed) and installs fasthmr_ros into it, with the test tools.
# torch is pinned to 2.13.0 in pyproject.toml: the CPU build on these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,plot]'
echo "fasthmr_ros installed in $(pwd)/.venv"
