"""Fixtures for the team features: fresh PostgreSQL stores and the CLI as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_ADMIN_DSN
from tests.dashboard.conftest import browser as browser  # Chromium fixtures, shared with the dashboard tests
from tests.dashboard.conftest import page as page

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_pg() -> Iterator[Callable[[], str]]:
    """A factory of empty, uniquely named PostgreSQL databases, all dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"scaleready_team_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "SCALEREADY_DATABASE_URL": database_url, **extra}


CLI = [sys.executable, "-c", "from scaleready.cli import main; main()"]


def scaleready(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    """``scaleready ARGS`` as a user runs it: a separate process, its exit code and output."""
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300, **kwargs)


def scaleready_background(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)
