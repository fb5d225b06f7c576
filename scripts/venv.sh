#!/usr/bin/env bash
# Creates or refreshes the project's Python virtual environment (.venv) with the pinned tools
# in tests/python: the local KMS server for tests and the demo, and the chart checkers.
# Safe to run concurrently (test binaries do): one run installs, the others wait.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
requirements="$root/tests/python/requirements.txt"
constraints="$root/tests/python/constraints.txt"
stamp="$venv/.requirements.sha256"
want="$(cat "$requirements" "$constraints" | sha256sum | cut -d' ' -f1)"

mkdir -p "$root/.cache"
exec 9>"$root/.cache/venv.lock"
flock 9
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
  echo "venv.sh: $python not found; install Python 3.9+ (e.g. apt-get install python3 python3-venv)" >&2
  exit 1
fi
echo "venv.sh: installing pinned Python tools into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" -c "$constraints"
echo "$want" > "$stamp"
