"""The README's two commands on a fresh clone install into a project-local .venv, never the system Python.

The quick start used to `pip install` into whatever ``python3`` was first on PATH and upgraded
packages other tools on the machine depended on. This test clones the repository, runs both
commands' install steps with the venv of the running suite taken off PATH (as a user's shell
would be), and compares the system interpreter's package list before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: no active virtual environment in front of the system Python."""
    venv = os.environ.get("VIRTUAL_ENV") or sys.prefix
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(venv)]
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(path)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run a quick-start command; on failure show what it printed, not only its exit code."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _system_packages(env: dict[str, str]) -> str:
    out = subprocess.run(["python3", "-m", "pip", "list", "--format", "freeze", "--disable-pip-version-check"],
                         env=env, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout


@pytest.mark.slow
def test_fresh_clone_two_commands_leave_the_system_python_unchanged(tmp_path):
    env = _clean_env()
    system_python = subprocess.run(["python3", "-c", "import sys; print(sys.prefix)"], env=env,
                                   capture_output=True, text=True, check=True).stdout.strip()
    assert not system_python.startswith(str(REPO)), "the test must see the system interpreter, not a venv"
    before = _system_packages(env)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    _run(["./scripts/dashboard", "--install-only"], clone, env)
    app_python = clone / ".venv" / "bin" / "python"
    assert app_python.exists()
    subprocess.run([str(app_python), "-c", "import scaleready, streamlit, simulator, checks.postgres.collector"],
                   check=True, timeout=120)
    # The test command installs the test extra into the same .venv and runs pytest; collecting one
    # module proves the install without running the suite inside itself.
    _run(["./scripts/test", "--collect-only", "-q", "tests/core/test_packaging.py"], clone, env)
    subprocess.run([str(app_python), "-c", "import pytest, hypothesis, playwright"], check=True, timeout=120)

    assert _system_packages(env) == before


def test_lock_files_pin_every_package_exactly():
    for lock in ("requirements/app.lock", "requirements/test.lock"):
        lines = [ln.strip() for ln in (REPO / lock).read_text().splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        assert lines, lock
        loose = [ln for ln in lines if "==" not in ln]
        assert not loose, f"{lock}: not pinned: {loose}"
