"""Creates or refreshes the project's Python virtual environment (.venv) with the pinned tools
in tests/python; scripts/venv.sh runs it. Safe to run concurrently (test binaries do): one run
installs, the others wait on the lock and then find the environment ready. The lock and the
fingerprint of the pins are Python's own, so the only prerequisite is Python 3.9+ with its
`venv` module (Debian and Ubuntu ship that part separately, as python3-venv)."""

import fcntl
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "tests" / "python" / "requirements.txt"
CONSTRAINTS = ROOT / "tests" / "python" / "constraints.txt"
STAMP = VENV / ".requirements.sha256"


def fail(message):
    print(f"venv.sh: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if sys.version_info < (3, 9):
        fail(f"Python 3.9+ is needed, {sys.executable} is {sys.version.split()[0]}; set PYTHON to a newer one")
    # `python -m venv` installs pip with ensurepip, the part Debian and Ubuntu leave out.
    if importlib.util.find_spec("ensurepip") is None:
        fail(f"{sys.executable} cannot create virtual environments (no ensurepip): "
             "install python3-venv (apt-get install python3-venv) or set PYTHON to another Python")
    want = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    (ROOT / ".cache").mkdir(exist_ok=True)
    with open(ROOT / ".cache" / "venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text().strip() == want:
            return
        print(f"venv.sh: installing pinned Python tools into {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)], check=True)
        STAMP.write_text(want + "\n")


if __name__ == "__main__":
    main()
