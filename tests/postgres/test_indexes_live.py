"""Index, sequence, settings and session checks against real conditions on the shared server.

One module-scoped database gets: a 20,000-row table scanned sequentially without an index, an
unused index, a duplicate index, an invalid index (a failed CREATE UNIQUE INDEX CONCURRENTLY),
a sequence near the top of its int column, and per-database/per-role setting overrides.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from scaleready.api import Finding, Snapshot, Status
from tests.postgres._util import ADMIN, one, pick, run, scalar, scratch_database, unique, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def conditions() -> Iterator[tuple[str, str, Snapshot, list[Finding]]]:
    role = unique("sr_pgrole")
    with scratch_database() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        db = conn.info.dbname
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer int, status text, note text)")
        conn.execute("INSERT INTO orders (customer, status, note) SELECT g % 500, "
                     "CASE WHEN g % 7 = 0 THEN 'open' ELSE 'done' END, md5(g::text) "
                     "FROM generate_series(1, 20000) g")
        conn.execute("CREATE INDEX orders_note_idx ON orders (note)")          # never used
        conn.execute("CREATE INDEX orders_status_a ON orders (status)")
        conn.execute("CREATE INDEX orders_status_b ON orders (status)")        # exact duplicate
        conn.execute("CREATE TABLE dupes (v int)")
        conn.execute("INSERT INTO dupes VALUES (1), (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dupes_v_key ON dupes (v)")  # leaves it INVALID
        conn.execute("CREATE TABLE tickets (id serial PRIMARY KEY, t text)")
        conn.execute("SELECT setval('tickets_id_seq', 2000000000)")  # 93% of int4
        conn.execute("CREATE TABLE small (id int)")
        conn.execute(f'ALTER DATABASE "{db}" SET work_mem = \'2GB\'')
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{db}" SET random_page_cost = 4')
        for _ in range(15):  # the query has no usable index on customer: full scans
            conn.execute("SELECT count(*) FROM orders WHERE customer = 42").fetchone()
        for _ in range(3):
            conn.execute("SELECT * FROM orders WHERE status = 'open' LIMIT 1").fetchone()
        conn.close()
        wait_until(lambda: (scalar(dsn, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname='orders'")
                            or 0) >= 15)
        snap, findings = run({"dsn": dsn, "memory": "16GB", "storage": "ssd", "large_table_rows": 10000})
        try:
            yield dsn, role, snap, findings
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_no_section_errors(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    _, _, snap, _ = conditions
    assert snap.error is None and snap.errors == {}


def test_missing_index_names_table_and_statistic(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    f = one(conditions[3], "postgres.indexes.missing", "public.orders")
    assert f.status == Status.FAIL
    assert f.evidence["seq_scan"] >= 15
    assert f.evidence["avg_rows_per_seq_scan"] >= 10000
    assert "sequential scans" in f.message
    assert not pick(conditions[3], "postgres.indexes.missing", "public.small")


def test_unused_index(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    f = one(conditions[3], "postgres.indexes.unused", "public.orders_note_idx")
    assert f.status == Status.WARN and f.evidence["idx_scan"] == 0 and "idx_scan = 0" in f.message
    assert not pick(conditions[3], "postgres.indexes.unused", "public.orders_pkey")  # constraint index


def test_duplicate_index(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    dups = [f for f in pick(conditions[3], "postgres.indexes.duplicate") if f.status == Status.FAIL]
    assert len(dups) == 1
    assert {dups[0].subject, dups[0].evidence["duplicate_of"]} == {"public.orders_status_a", "public.orders_status_b"}


def test_invalid_index(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    f = one(conditions[3], "postgres.indexes.invalid", "public.dupes_v_key")
    assert f.status == Status.FAIL and f.evidence["indisvalid"] is False


def test_sequence_exhaustion_uses_column_type(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    f = one(conditions[3], "postgres.sequences.exhaustion", "public.tickets_id_seq")
    assert f.status == Status.FAIL
    assert f.evidence["effective_max"] == 2**31 - 1 and f.evidence["used_ratio"] > 0.9


def test_settings_per_database_and_role(conditions: tuple[str, str, Snapshot, list[Finding]]) -> None:
    dsn, role, _, findings = conditions
    db = dsn.rsplit("/", 1)[1]
    # the collector's session runs in that database, so work_mem shows the ALTER DATABASE value
    main = one(findings, "postgres.config.work_mem", "setting/work_mem")
    assert main.evidence["source"] == "database" and main.evidence["observed"] == "2GB"
    assert main.status == Status.FAIL
    over = one(findings, "postgres.config.work_mem", f"setting/work_mem@database={db} role=*")
    assert over.status == Status.FAIL and over.evidence["recommended"] == "38MB"  # 12GB / ((100 connections + 8 workers) x 3)
    rpc = one(findings, "postgres.config.random_page_cost", f"setting/random_page_cost@database={db} role={role}")
    assert rpc.status == Status.FAIL and rpc.evidence["observed"] == "4"


def test_sessions_long_running_and_idle_in_transaction() -> None:
    with scratch_database() as dsn:
        idle = psycopg.connect(dsn)
        idle.execute("SELECT 1")  # opens a transaction and leaves it open
        sleeper = psycopg.connect(dsn, autocommit=True)
        thread = threading.Thread(target=lambda: sleeper.execute("SELECT pg_sleep(6)"), daemon=True)
        thread.start()
        try:
            wait_until(lambda: scalar(dsn, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                      "AND query LIKE 'SELECT pg_sleep(6)%' AND now() - query_start > "
                                      "interval '1.5 s'") == 1)
            _, findings = run({"dsn": dsn, "long_running_seconds": 1, "idle_in_transaction_seconds": 1})
        finally:
            thread.join(10)
            idle.close()
            sleeper.close()
        lr = one(findings, "postgres.queries.long_running")
        assert lr.status == Status.FAIL
        assert any("pg_sleep(6)" in (q["query"] or "") for q in lr.evidence["queries"])
        iit = one(findings, "postgres.connections.usage", "idle_in_transaction")
        assert iit.status in (Status.WARN, Status.FAIL) and iit.evidence["observed"] >= 1
        assert one(findings, "postgres.connections.usage", "connections").status == Status.PASS
        # the shared server has no pg_stat_statements: skip with the reason
        slow = one(findings, "postgres.queries.slow")
        assert slow.status == Status.SKIP and "not installed" in slow.message
