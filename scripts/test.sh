#!/usr/bin/env bash
# The project's test command: installs everything it needs, lints, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check fasthmr_ros tests launch scripts
.venv/bin/python -m pytest -q "$@"
