"""Stores for the audit tests: a fresh SQLite file or a fresh PostgreSQL database per test.

Tampering tests break the chain on purpose, so they never share a database with other tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from scaleready.store import Store
from tests.conftest import PG_ADMIN_DSN


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    name = f"scaleready_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def store(store_url) -> Store:
    return Store(store_url)
