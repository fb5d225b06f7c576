#!/usr/bin/env bash
# Creates or refreshes the project's Python virtual environment (.venv) with the pinned tools
# in tests/python: the local KMS server for tests and the demo, the chart checkers, the
# Dockerfile's linter and parser. Safe to run concurrently (test binaries do). The work is in
# venv.py, so that Python 3.9+ with its venv module is all it needs.
set -euo pipefail
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
  echo "venv.sh: $python not found; install Python 3.9+ with its venv module (Debian, Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 1
fi
exec "$python" "$(dirname "$0")/venv.py"
