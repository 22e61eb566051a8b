"""Helpers for the postgres tests: own throw-away databases, collection and evaluation in one call."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from checks.postgres.collector import collect
from scaleready.api import Finding, Snapshot, Status, Target
from scaleready.plugins import Registry

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def registry() -> Registry:
    """Only the postgres plugin: tests do not depend on other helpers' modules importing cleanly."""
    import checks.postgres as module

    reg = Registry()
    reg.add_module(module, "postgres", "test")
    return reg


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def dsn_with_db(dsn: str, dbname: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + dbname


@contextmanager
def scratch_database(admin_dsn: str = ADMIN, prefix: str = "sr_pgtest") -> Iterator[str]:
    """A new database on the server of ``admin_dsn``; yields its DSN and drops it afterwards."""
    name = unique(prefix)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn_with_db(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot(options: dict[str, Any], name: str = "pg", timeout: float = 20) -> Snapshot:
    target = Target(name, "postgres", options, timeout=timeout)
    result = asyncio.run(collect.fn(target))
    assert isinstance(result, Snapshot)
    return result


def run(options: dict[str, Any], timeout: float = 20) -> tuple[Snapshot, list[Finding]]:
    """Collect through the engine (timeouts, redaction) and evaluate every postgres check."""
    from scaleready import engine

    target = Target("pg", "postgres", options, timeout=timeout)
    reg = registry()
    snap = asyncio.run(engine.collect_target(target, reg))
    return snap, engine.evaluate(snap, target, reg)


def pick(findings: list[Finding], check: str, subject: str | None = None) -> list[Finding]:
    out = [f for f in findings if f.check == check]
    if subject is not None:
        out = [f for f in out if f.subject == subject]
    return out


def one(findings: list[Finding], check: str, subject: str | None = None) -> Finding:
    got = pick(findings, check, subject)
    assert len(got) == 1, (check, subject, [(f.subject, f.status, f.message) for f in findings if f.check == check])
    return got[0]


def statuses(findings: list[Finding], check: str) -> set[Status]:
    return {f.status for f in findings if f.check == check}


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, step: float = 0.2) -> None:
    """Poll (bounded) until the predicate holds; statistics reach the views asynchronously."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def scalar(dsn: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None
