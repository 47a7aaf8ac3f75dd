#!/usr/bin/env bash
# The project's test command: installs everything it needs (ROS 2 from the PyPI wheels included,
# so the rclpy node's tests run too), lints, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --ros
.venv/bin/ruff check fasthmr_ros tests launch scripts
.venv/bin/mypy
# The ROS tests fail instead of skipping when rclpy or the built messages are missing.
FASTHMR_REQUIRE_ROS=1 .venv/bin/python -m pytest -q "$@"
