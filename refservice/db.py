"""Database nodes: one small async interface over SQLite (embedded) and PostgreSQL (real).

The service's SQL is written once with ``%s`` placeholders and always parameterised (guide 7.1,
SQL injection protection): values never reach the SQL text. SQLite gets the same statements
with ``?``. Every statement counts in ``db_queries_total{node,role}`` so the per-node load of the
read-replica routing is visible.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from refservice.metrics import Metrics

Params = Sequence[Any]


def redact(url: str) -> str:
    """The URL without its password (safe for logs, metrics labels and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


class Executor(Protocol):
    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None: ...
    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...
    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...


class Node(Executor, Protocol):
    name: str
    role: str
    dialect: str

    def transaction(self) -> Any: ...
    async def close(self) -> None: ...


@lru_cache(maxsize=256)
def _to_sqlite(sql: str) -> str:
    return sql.replace("%s", "?")


class SQLiteNode:
    """SQLite on the event loop thread: statements are short, and one connection serialises them."""

    dialect = "sqlite"

    def __init__(self, url: str, metrics: Metrics, name: str = "primary", role: str = "primary") -> None:
        path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ":memory:"
        self.name = name
        self.role = role
        self.conn = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        if path not in ("", ":memory:"):
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._lock = asyncio.Lock()
        self._counter = metrics.db_queries.labels(name, role)

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        self._counter.inc()
        return self.conn.execute(_to_sqlite(sql), tuple(params)).fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self._counter.inc()
        return self.conn.execute(_to_sqlite(sql), tuple(params)).fetchall()

    async def execute(self, sql: str, params: Params = ()) -> int:
        self._counter.inc()
        return self.conn.execute(_to_sqlite(sql), tuple(params)).rowcount

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._counter.inc(len(rows))
        self.conn.executemany(_to_sqlite(sql), [tuple(r) for r in rows])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteNode]:
        async with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    async def close(self) -> None:
        self.conn.close()


class _PgConn:
    """One pooled PostgreSQL connection seen through the Executor interface."""

    def __init__(self, conn: Any, counter: Any) -> None:
        self.conn = conn
        self._counter = counter

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        self._counter.inc()
        cur = await self.conn.execute(sql, tuple(params))
        return await cur.fetchone() if cur.description else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self._counter.inc()
        cur = await self.conn.execute(sql, tuple(params))
        return await cur.fetchall() if cur.description else []

    async def execute(self, sql: str, params: Params = ()) -> int:
        self._counter.inc()
        cur = await self.conn.execute(sql, tuple(params))
        return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """One statement for many rows, sent in pipeline mode (one round trip per batch)."""
        self._counter.inc(len(rows))
        async with self.conn.cursor() as cur:
            await cur.executemany(sql, [tuple(r) for r in rows])


class PostgresNode:
    """PostgreSQL through psycopg's async driver and a small bounded connection pool."""

    dialect = "postgres"

    def __init__(self, url: str, metrics: Metrics, name: str, role: str, pool_size: int = 8,
                 connect_timeout: float = 3.0) -> None:
        self.url = url
        self.name = name
        self.role = role
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._idle: list[Any] = []
        self._sem = asyncio.Semaphore(pool_size)
        self._counter = metrics.db_queries.labels(name, role)

    async def _connect(self) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
            application_name="refservice")

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[_PgConn]:
        import psycopg

        async with self._sem:
            conn = self._idle.pop() if self._idle else await self._connect()
            ok = True
            try:
                yield _PgConn(conn, self._counter)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                ok = False
                raise
            finally:
                if ok and not conn.closed and conn.info.transaction_status == 0:
                    self._idle.append(conn)
                else:
                    await conn.close()

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        async with self.connection() as c:
            return await c.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        async with self.connection() as c:
            return await c.fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.connection() as c:
            return await c.execute(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgConn]:
        async with self.connection() as c, c.conn.transaction():
            yield c

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def make_node(url: str, metrics: Metrics, name: str, role: str, pool_size: int = 8) -> Node:
    """A node for ``url``: ``sqlite:///...`` or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresNode(url, metrics, name, role, pool_size)
    if url.startswith("sqlite:"):
        return SQLiteNode(url, metrics, name, role)
    raise ValueError(f"unsupported database URL scheme: {redact(url).split(':', 1)[0]}")
