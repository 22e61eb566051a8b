"""Fixtures of the reference-service tests (helpers live in support.py and pg_support.py).

``backend`` runs a test twice: on the embedded default (SQLite, in-process L2 and broker) and on
the real backends (a fresh PostgreSQL database on the local server, Redis db 5, Redis Streams).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

from tests.refservice.pg_support import REDIS_URL, SHARED_ADMIN_DSN, fresh_database
from tests.refservice.support import server_factory

__all__ = ["backend", "server_factory"]


@pytest.fixture(params=["embedded", "postgres+redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "embedded":
        yield {}
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
        psycopg.connect(SHARED_ADMIN_DSN, connect_timeout=3).close()
    except (redis.ConnectionError, psycopg.OperationalError) as exc:
        pytest.skip(f"PostgreSQL or Redis not reachable: {exc}")
    client.flushdb()
    try:
        with fresh_database() as dsn:
            yield {"database_url": dsn, "redis_url": REDIS_URL}
    finally:
        client.flushdb()
        client.close()
