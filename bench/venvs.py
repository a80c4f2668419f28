"""Virtualenvs of the bench's own (``.bench/<name>``), for what regapp does not depend on:
the peer's Flask stack, a reader measured beside regapp's."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_venv(name, packages):
    """``.bench/<name>``'s bin folder, the virtualenv made once (and again when
    ``packages`` change)."""
    venv = ROOT / ".bench" / name
    python, installed = venv / "bin" / "python", venv / "packages.txt"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not installed.exists() or installed.read_text() != "\n".join(packages):
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        installed.write_text("\n".join(packages))
    return venv / "bin"
