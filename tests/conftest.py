"""Shared fixtures: the real local services and a throw-away plugin distribution.

PostgreSQL (127.0.0.1:5432, trust) and Redis (127.0.0.1:6379) run on this machine kind before
tests start; tests create their own uniquely named databases so they never collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_ADMIN_DSN = os.environ.get("SCALEREADY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PLUGIN_SOURCE = Path(__file__).parent / "core" / "plugin_dist"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for the session; dropped afterwards."""
    name = f"scaleready_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo plugin installed as a real distribution into its own site directory."""
    site = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(PLUGIN_SOURCE)],
        check=True,
    )
    return site


@pytest.fixture
def plugin_env(plugin_site: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI subprocess: the plugin on the path and a private SQLite store."""
    repo = str(Path(__file__).parent.parent)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(plugin_site), repo]),
        "SCALEREADY_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
    }


@pytest.fixture(autouse=True)
def _streamlit_serves_loopback() -> Iterator[None]:
    """AppTest runs the dashboard with no server, so Streamlit's ``server.address`` is unset, which
    the dashboard reads as "listening on every interface" and refuses without sign-in. Tests of
    the app mean this machine: say so. (Only when the test imported Streamlit: costs nothing else.)"""
    if "streamlit" not in sys.modules:
        yield
        return
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    try:
        yield
    finally:
        config.set_option("server.address", before)
