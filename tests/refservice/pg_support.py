"""PostgreSQL and Redis helpers for the reference-service tests.

Each test gets its own database (``rs_test_<random>``) on the shared server (127.0.0.1:5432) or on
the throw-away replica pair, dropped afterwards; Redis tests use db index 5 (assigned to this
area) and flush only that index.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

SHARED_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/5"


def _with_db(dsn: str, dbname: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + dbname


@contextlib.contextmanager
def fresh_database(admin_dsn: str = SHARED_ADMIN_DSN) -> Iterator[str]:
    """Create a uniquely named database, yield its DSN, drop it afterwards."""
    name = f"rs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_database(dsn: str, timeout: float = 20.0) -> None:
    """Wait until ``dsn`` accepts connections (a database just created on the primary reaches the standby)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    try:
        psycopg.connect(SHARED_ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    with fresh_database() as dsn:
        yield dsn
