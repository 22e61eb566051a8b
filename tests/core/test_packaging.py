"""The wheel a user installs: packages, bundled data, console script and entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_packages_data_script_and_entry_points(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, timeout=300)
    (wheel,) = tmp_path.glob("scaleready-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("scaleready/api.py", "checks/__init__.py", "checks/postgres/collector.py", "dashboard/app.py",
                     "refservice/__init__.py", "simulator/__init__.py",
                     "scaleready/_data/frameworks/scaling-guide.yaml",
                     "scaleready/_data/schemas/framework.schema.json",
                     "scaleready/migrations/versions/0001_initial.py", "scaleready/starter_config.yaml"):
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)
    dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(dist_info).decode()
    assert "scaleready = scaleready.cli:main" in entry_points
    assert "[scaleready.checks]" in entry_points and "postgres = checks.postgres" in entry_points
