"""Replication checks against a real primary + pg_basebackup -R standby (tests/support/pg_cluster.py).

Covers: the replicas check passing; the idle-primary trap (an old replay timestamp with nothing
pending is not lag); pg_wal_replay_pause() while the primary writes making the lag check fail
with the bytes measured independently; a stopped standby; an inactive slot; and index usage
on the replica counting against "unused".
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from checks.postgres.collector import lsn_to_int
from scaleready.api import Status
from tests.postgres._util import dsn_with_db, one, pick, run, scalar, scratch_database, wait_until
from tests.support.pg_cluster import ReplicaPair

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MB = 1024 * 1024


def caught_up(pair: ReplicaPair) -> bool:
    head = scalar(pair.primary_dsn, "SELECT pg_current_wal_lsn()::text")
    replay = scalar(pair.replica_dsn, "SELECT pg_last_wal_replay_lsn()::text")
    return lsn_to_int(replay) >= lsn_to_int(head)


@pytest.fixture
def pair(replica_pair: ReplicaPair) -> Iterator[ReplicaPair]:
    """The session pair, streaming and caught up before and after each test."""
    replica_pair.wait_streaming()
    wait_until(lambda: caught_up(replica_pair))
    yield replica_pair
    if not replica_pair.replica.running:
        replica_pair.start_replica()
    replica_pair.resume_replay()
    replica_pair.wait_streaming()


def opts(pair: ReplicaPair, **extra: object) -> dict[str, object]:
    return {"dsn": pair.primary_dsn, "replicas": [pair.replica_dsn], **extra}


def test_replica_streams_and_idle_primary_is_not_lag(pair: ReplicaPair) -> None:
    with psycopg.connect(pair.primary_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS heartbeat (t timestamptz)")
        conn.execute("INSERT INTO heartbeat VALUES (now())")
    wait_until(lambda: caught_up(pair))
    time.sleep(1.6)  # the primary now commits nothing: the replay timestamp ages
    snap, findings = run(opts(pair, max_lag_seconds=1))
    assert snap.errors == {}
    rep = one(findings, "postgres.replication.replicas", "primary")
    assert rep.status == Status.PASS and "replica1" in rep.message
    assert one(findings, "postgres.replication.replicas", f"replica/{snap.data['replicas'][0]['dsn']}").status \
        == Status.PASS
    lag = one(findings, "postgres.replication.lag", f"replica/{snap.data['replicas'][0]['dsn']}")
    assert lag.status == Status.PASS, lag.message
    assert lag.evidence["idle_primary"] is True and lag.evidence["lag_seconds"] == 0
    assert lag.evidence["replay_ts_age_s"] > 1  # would have failed a naive timestamp check
    assert "not lag" in lag.message
    assert one(findings, "postgres.replication.lag", "primary->replica1").status == Status.PASS
    assert one(findings, "postgres.replication.slots").status == Status.PASS


def test_paused_replay_fails_lag_with_right_numbers(pair: ReplicaPair) -> None:
    pair.pause_replay()
    with psycopg.connect(pair.primary_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS churn (id int, pad text)")
        conn.execute("INSERT INTO churn SELECT g, repeat('x', 100) FROM generate_series(1, 40000) g")
    head = lsn_to_int(scalar(pair.primary_dsn, "SELECT pg_current_wal_lsn()::text"))
    replay = lsn_to_int(scalar(pair.replica_dsn, "SELECT pg_last_wal_replay_lsn()::text"))
    wait_until(lambda: lsn_to_int(scalar(pair.replica_dsn, "SELECT pg_last_wal_receive_lsn()::text")) >= head)
    expected = head - replay
    assert expected > 2 * MB  # the writes really produced WAL the standby has not replayed
    snap, findings = run(opts(pair, max_lag_bytes=MB, max_lag_seconds=3600))
    sub = f"replica/{snap.data['replicas'][0]['dsn']}"
    lag = one(findings, "postgres.replication.lag", sub)
    assert lag.status == Status.FAIL
    assert abs(lag.evidence["lag_bytes"] - expected) < 256 * 1024
    assert lag.evidence["pending_bytes"] >= expected - 256 * 1024  # received, not replayed
    assert lag.evidence["replay_paused"] is True and "PAUSED" in lag.message
    prim = one(findings, "postgres.replication.lag", "primary->replica1")
    assert prim.status == Status.FAIL and abs(prim.evidence["lag_bytes"] - expected) < 256 * 1024
    # the same pause seen in seconds: the last replayed commit keeps ageing while WAL is pending
    time.sleep(1.2)
    _, findings = run(opts(pair, max_lag_bytes=1024 * MB, max_lag_seconds=1))
    lag = one(findings, "postgres.replication.lag", sub)
    assert lag.status == Status.FAIL and lag.evidence["lag_seconds"] >= 1
    pair.resume_replay()
    wait_until(lambda: caught_up(pair))
    _, findings = run(opts(pair, max_lag_bytes=MB))
    assert statuses_of(findings, "postgres.replication.lag") == {Status.PASS}


def statuses_of(findings: list, check: str) -> set[Status]:
    return {f.status for f in findings if f.check == check}


def test_stopped_replica_fails_with_reason(pair: ReplicaPair) -> None:
    pair.stop_replica()
    wait_until(lambda: scalar(pair.primary_dsn, "SELECT count(*) FROM pg_stat_replication") == 0)
    snap, findings = run(opts(pair))
    assert snap.error is None
    prim = one(findings, "postgres.replication.replicas", "primary")
    assert prim.status == Status.FAIL and "no streaming replica" in prim.message
    rep = [f for f in pick(findings, "postgres.replication.replicas") if f.subject != "primary"]
    assert len(rep) == 1 and rep[0].status == Status.FAIL
    assert "Connection refused" in rep[0].message and "\n" not in rep[0].message
    lag = pick(findings, "postgres.replication.lag")
    assert [f.status for f in lag] == [Status.ERROR] and "cannot measure lag" in lag[0].message


def test_inactive_slot_retaining_wal(pair: ReplicaPair) -> None:
    with psycopg.connect(pair.primary_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot('sr_abandoned', true)")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS slotfill (pad text)")
            conn.execute("INSERT INTO slotfill SELECT repeat('y', 200) FROM generate_series(1, 5000)")
            _, findings = run(opts(pair))
        finally:
            conn.execute("SELECT pg_drop_replication_slot('sr_abandoned')")
    f = one(findings, "postgres.replication.slots", "slot/sr_abandoned")
    assert f.status == Status.WARN and f.evidence["retained_bytes"] > 100_000 and f.evidence["active"] is False


def test_index_used_only_on_replica_is_not_unused(pair: ReplicaPair) -> None:
    with scratch_database(pair.primary_dsn) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE items (a int, b int)")
            conn.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 2000) g")
            conn.execute("CREATE INDEX items_a_idx ON items (a)")   # read only on the replica
            conn.execute("CREATE INDEX items_b_idx ON items (b)")   # read nowhere
        wait_until(lambda: caught_up(pair))
        rdsn = dsn_with_db(pair.replica_dsn, dsn.rsplit("/", 1)[1])
        with psycopg.connect(rdsn, autocommit=True) as rconn:
            rconn.execute("SET enable_seqscan = off")
            for i in range(5):
                rconn.execute("SELECT * FROM items WHERE a = %s", (i,)).fetchall()
        wait_until(lambda: (scalar(rdsn, "SELECT idx_scan FROM pg_stat_user_indexes "
                                   "WHERE indexrelname = 'items_a_idx'") or 0) >= 5)
        _, findings = run({"dsn": dsn, "replicas": [rdsn]})
    unused = {f.subject: f for f in pick(findings, "postgres.indexes.unused")}
    assert "public.items_a_idx" not in unused
    assert unused["public.items_b_idx"].status == Status.WARN
    assert unused["public.items_b_idx"].evidence["replicas_counted"]


def test_sequential_scans_served_by_the_replica_convict_a_missing_index(pair: ReplicaPair) -> None:
    with scratch_database(pair.primary_dsn) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE events (id int, kind int)")
            conn.execute("INSERT INTO events SELECT g, g % 50 FROM generate_series(1, 15000) g")
        wait_until(lambda: caught_up(pair))
        rdsn = dsn_with_db(pair.replica_dsn, dsn.rsplit("/", 1)[1])
        with psycopg.connect(rdsn, autocommit=True) as rconn:  # reads routed to the replica
            for _ in range(12):
                rconn.execute("SELECT count(*) FROM events WHERE kind = 3").fetchone()
        wait_until(lambda: (scalar(rdsn, "SELECT seq_scan FROM pg_stat_user_tables "
                                   "WHERE relname = 'events'") or 0) >= 12)
        _, alone = run({"dsn": dsn, "large_table_rows": 10000})
        _, with_replica = run({"dsn": dsn, "replicas": [rdsn], "large_table_rows": 10000})
    assert not [f for f in alone if f.check == "postgres.indexes.missing" and f.subject == "public.events"]
    f = one(with_replica, "postgres.indexes.missing", "public.events")
    assert f.status == Status.FAIL
    assert f.evidence["replica_seq_scan"] >= 12 and f.evidence["primary_seq_scan"] == 0
    assert f"replicas {f.evidence['replica_seq_scan']:,}" in f.message
