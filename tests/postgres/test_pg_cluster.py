"""The shared replica helper really streams, pauses replay and restarts the standby."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.pg_cluster import ReplicaPair, start_primary

pytestmark = pytest.mark.postgres


def test_pair_streams_and_replays(replica_pair: ReplicaPair) -> None:
    with psycopg.connect(replica_pair.replica_dsn) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cluster_smoke (x int)")
        conn.execute("INSERT INTO cluster_smoke VALUES (42)")
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with psycopg.connect(replica_pair.replica_dsn) as conn:
        for _ in range(100):
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]
            if done:
                break
            conn.execute("SELECT pg_sleep(0.05)")
        assert conn.execute("SELECT max(x) FROM cluster_smoke").fetchone() == (42,)


def test_single_cluster_closes() -> None:
    node = start_primary()
    try:
        with node.connect() as conn:
            assert conn.execute("SHOW wal_level").fetchone() == ("replica",)
    finally:
        node.close()
    assert not node.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(node.dsn, connect_timeout=2)


def test_taken_port_moves_to_a_free_one() -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        node = start_primary(settings={"port": taken})
        try:
            assert node.port != taken
            with node.connect() as conn:
                assert conn.execute("SHOW port").fetchone() == (str(node.port),)
        finally:
            node.close()
