"""Conditions a test server cannot reach quickly (wraparound, a lost slot), judged on snapshot JSON.

Everything else is proven against live servers; these cases pin the thresholds of the checks
whose real conditions take billions of transactions or hours.
"""

from __future__ import annotations

import pytest

from checks.postgres import health, replication
from scaleready.api import EvidenceUnavailable, Snapshot, Status, Target

T = Target("pg", "postgres", {"dsn": "postgresql://x@127.0.0.1/x"})


def snap(**data: object) -> Snapshot:
    return Snapshot("pg", "postgres", data=dict(data))


@pytest.mark.parametrize(("age", "expected"), [(150_000_000, Status.PASS), (1_200_000_000, Status.WARN),
                                               (1_700_000_000, Status.FAIL)])
def test_wraparound_bands(age: int, expected: Status) -> None:
    s = snap(wraparound={"databases": [{"database": "shop", "xid_age": age, "mxid_age": 10}],
                         "tables": [{"table": "orders", "xid_age": age}]})
    outs = health.wraparound.evaluate(s, T)
    assert [o.status for o in outs] == [expected]
    if expected != Status.PASS:
        assert outs[0].subject == "shop/xid_age" and outs[0].evidence["oldest_tables"][0]["table"] == "orders"


def test_sequence_descending_and_cycling() -> None:
    rows = [
        {"schema": "public", "name": "down", "data_type": "bigint", "last_value": -9_500, "min_value": -10_000,
         "max_value": -1, "increment_by": -1, "cycle": False},
        {"schema": "public", "name": "loop", "data_type": "integer", "last_value": 99, "min_value": 1,
         "max_value": 100, "increment_by": 1, "cycle": True},
        {"schema": "public", "name": "fresh", "data_type": "bigint", "last_value": None, "min_value": 1,
         "max_value": 2**63 - 1, "increment_by": 1, "cycle": False},
    ]
    outs = health.sequences.evaluate(snap(sequences=rows), T)
    assert [(o.subject, o.status) for o in outs] == [("public.down", Status.FAIL)]
    assert outs[0].evidence["used_ratio"] == pytest.approx(0.95, abs=0.001)
    outs = health.sequences.evaluate(snap(sequences=rows[1:]), T)
    assert [o.status for o in outs] == [Status.PASS] and "1 unused or not readable" in outs[0].message


def test_lost_slot_fails_and_missing_section_is_unavailable() -> None:
    rows = [{"slot_name": "old", "slot_type": "physical", "active": False, "wal_status": "lost",
             "retained_bytes": None}, {"slot_name": "live", "active": True}]
    outs = replication.slots.evaluate(snap(slots=rows), T)
    assert [(o.subject, o.status) for o in outs] == [("slot/old", Status.FAIL)]
    with pytest.raises(EvidenceUnavailable, match="no 'slots' section"):
        replication.slots.evaluate(snap(), T)


def test_primary_view_idle_standby_has_no_lag() -> None:
    repl = {"role": "primary", "current_wal_lsn": "0/5000000", "senders": [
        {"application_name": "r1", "state": "streaming", "replay_bytes": 0.0, "sent_bytes": 0.0,
         "flush_bytes": 0.0, "write_lag_s": None, "flush_lag_s": None, "replay_lag_s": None}]}
    outs = replication.lag.evaluate(snap(replication=repl, replicas=[]), T)
    assert [o.status for o in outs] == [Status.PASS] and outs[0].evidence["lag_seconds"] == 0


def test_connections_warn_band() -> None:
    settings = {"max_connections": {"setting": "100"}, "superuser_reserved_connections": {"setting": "0"}}
    sessions = [{"pid": i, "backend_type": "client backend", "state": "idle"} for i in range(79)]
    outs = health.connections_usage.evaluate(snap(activity=sessions, settings=settings), T)
    assert outs[0].status == Status.WARN and outs[0].evidence["observed"] == 80
