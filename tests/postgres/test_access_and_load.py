"""Failures a real deployment meets, and load conditions that need our own cluster.

Wrong password, unreachable host, a bad DSN and a role without pg_monitor each give ``error``
findings with one readable line (and the run goes on); no password ever reaches a snapshot or
a finding. pg_stat_statements (preloaded on the test primary) convicts a slow statement, a
crowd of sessions exhausts max_connections, and a table bigger than shared_buffers drags the
cache hit ratio down. The collector's session is proven read-only.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import psycopg
import pytest

from checks.postgres.collector import connect
from scaleready.api import Status
from tests.postgres._util import one, pick, run, scalar, scratch_database, unique, wait_until
from tests.support.pg_cluster import ReplicaPair, free_port

pytestmark = pytest.mark.postgres


def all_text(snap: object, findings: list) -> str:
    return json.dumps(snap.to_json(), default=str) + json.dumps([f.to_json() for f in findings], default=str)


@pytest.fixture
def pwuser(replica_pair: ReplicaPair) -> Iterator[str]:
    """A role that must log in with a scram password (the pair's pg_hba rule for pwuser)."""
    with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS pwuser")
        conn.execute("CREATE ROLE pwuser LOGIN PASSWORD 'right-pass-7731'")
    yield "pwuser"
    with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS pwuser")


def test_wrong_password_is_one_error_line_and_no_secret(replica_pair: ReplicaPair, pwuser: str) -> None:
    dsn = f"postgresql://pwuser:wrong-pass-9917@127.0.0.1:{replica_pair.primary.port}/postgres"
    snap, findings = run({"dsn": dsn})
    assert snap.error and "password authentication failed" in snap.error
    assert findings and {f.status for f in findings} == {Status.ERROR}
    assert all("\n" not in f.message and "password authentication failed" in f.message for f in findings)
    assert "wrong-pass-9917" not in all_text(snap, findings)
    # and the right password works through the same scram rule
    good, _ = run({"dsn": dsn.replace("wrong-pass-9917", "right-pass-7731")})
    assert good.error is None and good.data["server"]["user"] == "pwuser"
    assert "right-pass-7731" not in all_text(good, [])


def test_unreachable_host_and_bad_dsn() -> None:
    snap, findings = run({"dsn": f"postgresql://postgres:s3cret-xyz@127.0.0.1:{free_port()}/postgres"}, timeout=10)
    assert "Connection refused" in snap.error and "\n" not in snap.error
    assert {f.status for f in findings} == {Status.ERROR}
    assert "s3cret-xyz" not in all_text(snap, findings)
    snap, findings = run({"dsn": "this is not a dsn password=hunter2-abc"})
    assert snap.error == "dsn is not a valid PostgreSQL connection string"
    assert {f.status for f in findings} == {Status.ERROR}
    snap, _ = run({"dsn": "postgresql://postgres@127.0.0.1/postgres", "workload": "gaming"})
    assert snap.error.startswith("invalid postgres target option workload")


def test_role_without_pg_monitor(replica_pair: ReplicaPair) -> None:
    role = unique("sr_plain")
    with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        dsn = f"postgresql://{role}@127.0.0.1:{replica_pair.primary.port}/postgres"
        snap, findings = run({"dsn": dsn, "memory": "1GB", "storage": "ssd"})
    finally:
        with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')
    assert snap.error is None
    assert {"activity", "replication"} <= snap.errors.keys()
    for check in ("postgres.connections.usage", "postgres.queries.long_running",
                  "postgres.replication.replicas", "postgres.replication.lag"):
        f = one(findings, check)
        assert f.status == Status.ERROR and "pg_monitor" in f.message and "\n" not in f.message
    # the run goes on: what the role may read is still judged
    assert one(findings, "postgres.config.shared_buffers", "setting/shared_buffers").status == Status.FAIL
    assert one(findings, "postgres.vacuum.wraparound").status == Status.PASS


def test_slow_statement_from_pg_stat_statements(replica_pair: ReplicaPair) -> None:
    with scratch_database(replica_pair.primary_dsn) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            for _ in range(3):
                conn.execute("SELECT pg_sleep(0.25)")
            conn.execute("SELECT 1")
        _, findings = run({"dsn": dsn, "slow_query_ms": 200})
    slow = [f for f in pick(findings, "postgres.queries.slow") if f.status == Status.FAIL]
    assert len(slow) == 1 and "pg_sleep" in slow[0].evidence["query"]
    assert slow[0].evidence["calls"] == 3 and slow[0].evidence["mean_ms"] >= 250


def test_connections_near_max(replica_pair: ReplicaPair) -> None:
    max_conn = int(scalar(replica_pair.primary_dsn, "SHOW max_connections"))
    reserved = int(scalar(replica_pair.primary_dsn, "SHOW superuser_reserved_connections"))
    crowd = []
    try:
        for _ in range(max_conn - reserved - 3):
            crowd.append(psycopg.connect(replica_pair.primary_dsn, autocommit=True))
        _, findings = run({"dsn": replica_pair.primary_dsn})
    finally:
        for conn in crowd:
            conn.close()
    f = one(findings, "postgres.connections.usage", "connections")
    assert f.status == Status.FAIL and f.evidence["ratio"] >= 0.9 and f.evidence["limit"] == max_conn - reserved


def test_cache_hit_ratio_low_when_table_outgrows_shared_buffers(replica_pair: ReplicaPair) -> None:
    with scratch_database(replica_pair.primary_dsn) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE big AS SELECT g AS id, repeat('z', 200) AS pad "
                         "FROM generate_series(1, 100000) g")
            for _ in range(3):  # larger than shared_buffers/4: scans go through a small ring
                conn.execute("SELECT count(*) FROM big").fetchone()
        wait_until(lambda: (scalar(dsn, "SELECT heap_blks_read FROM pg_statio_user_tables "
                                   "WHERE relname = 'big'") or 0) > 5000)
        _, findings = run({"dsn": dsn})
    heap = one(findings, "postgres.cache_hit_ratio", "heap")
    assert heap.status == Status.FAIL and heap.evidence["observed"] < 0.9 and heap.evidence["blocks_read"] > 5000


def test_session_is_read_only_with_timeouts() -> None:
    async def probe() -> tuple[str, str, str]:
        conn = await connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=5,
                             statement_timeout_ms=1234)
        try:
            ro = (await (await conn.execute("SHOW default_transaction_read_only")).fetchone())
            st = (await (await conn.execute("SHOW statement_timeout")).fetchone())
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                await conn.execute("CREATE TABLE sr_should_never_exist (x int)")
            return ro["default_transaction_read_only"], st["statement_timeout"], "ok"
        finally:
            await conn.close()

    assert asyncio.run(probe()) == ("on", "1234ms", "ok")


def test_password_literals_in_running_queries_are_masked(replica_pair: ReplicaPair) -> None:
    conn = psycopg.connect(replica_pair.primary_dsn, autocommit=True)
    worker = threading.Thread(
        target=lambda: conn.execute("SELECT pg_sleep(3) /* ALTER ROLE x PASSWORD 'hunter2-zz-91' */"), daemon=True)
    worker.start()
    try:
        wait_until(lambda: scalar(replica_pair.primary_dsn, "SELECT count(*) FROM pg_stat_activity "
                                  "WHERE query LIKE 'SELECT pg_sleep(3)%'") == 1)
        snap, findings = run({"dsn": replica_pair.primary_dsn, "long_running_seconds": 0.1})
    finally:
        worker.join(10)
        conn.close()
    assert any("PASSWORD '***'" in (s["query"] or "") for s in snap.data["activity"])
    assert "hunter2-zz-91" not in all_text(snap, findings)


def test_standby_as_primary_dsn_is_an_error(replica_pair: ReplicaPair) -> None:
    snap, findings = run({"dsn": replica_pair.replica_dsn})
    assert snap.data["replication"]["role"] == "standby"
    for check in ("postgres.replication.replicas", "postgres.replication.lag"):
        f = one(findings, check)
        assert f.status == Status.ERROR and "standby" in f.message


def test_silent_host_times_out_with_one_line() -> None:
    import socket

    with socket.socket() as silent:  # accepts TCP but never speaks: like a blackholed database
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        snap, findings = run({"dsn": f"postgresql://postgres@127.0.0.1:{port}/postgres"}, timeout=6)
    assert snap.error and "\n" not in snap.error
    assert "timeout" in snap.error or "timed out" in snap.error
    assert {f.status for f in findings} == {Status.ERROR}
