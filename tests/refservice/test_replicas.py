"""Read-replica routing against a real streaming replica (tests/support/pg_cluster.py).

Reads go to the replica, writes to the primary; a replica that lags beyond the bound or is down
is skipped; the writer (and a cache fill of the key it wrote) reads its own write even while the
replica has not replayed it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.refservice.pg_support import REDIS_URL, fresh_database, redis_db, wait_for_database
from tests.refservice.support import FakeClock, asgi_client, create_app, login, metric, settings
from tests.support.pg_cluster import pair_fixture

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
__all__ = ["redis_db"]

pair = pair_fixture("module", settings={"autovacuum": False})


def _queries(text: str, node: str, role: str) -> float:
    return metric(text, "db_queries_total", node=node, role=role)


async def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


def test_reads_use_the_replica_and_writes_the_primary(pair, redis_db) -> None:
    with fresh_database(pair.primary_dsn) as primary_dsn:
        replica_dsn = pair.replica_dsn.rsplit("/", 1)[0] + "/" + primary_dsn.rsplit("/", 1)[1]
        wait_for_database(replica_dsn)
        clock = FakeClock()
        app = create_app(settings(database_url=primary_dsn, replica_urls=[replica_dsn], redis_url=REDIS_URL,
                                  replica_max_lag_s=0.5, replica_check_interval_s=0.2), clock=clock, seed=40)
        svc = app.state.service

        async def go() -> None:
            async with asgi_client(app) as c:
                await _wait(lambda: asyncio.sleep(0, svc.router.replicas[0].healthy))
                # seed rows must have reached the replica before we read there
                await _wait(lambda: _replica_has(svc, 40))
                headers = await login(c)
                text = (await c.get("/metrics")).text
                before = _queries(text, "replica1", "replica")
                for pid in range(1, 11):
                    assert (await c.get(f"/products/{pid}")).status_code == 200
                text = (await c.get("/metrics")).text
                assert _queries(text, "replica1", "replica") - before >= 10  # the fills read the replica
                assert metric(text, "db_replica_healthy", node="replica1") == 1
                assert "pg_replication_lag_seconds" in text

                # read-your-writes while the replica is frozen
                pair.pause_replay()
                try:
                    r = await c.put("/products/3", json={"stock": 4242}, headers=headers)
                    assert r.status_code == 200
                    assert (await c.get("/products/3", headers=headers)).json()["stock"] == 4242
                    clock.advance(6)  # L1 gone; L2 was invalidated: the fill must not read the frozen replica
                    assert (await c.get("/products/3")).json()["stock"] == 4242
                    # lag beyond the bound: the replica is taken out of rotation
                    await _wait(lambda: asyncio.sleep(0, not svc.router.replicas[0].healthy))
                    before_primary = _queries((await c.get("/metrics")).text, "primary", "primary")
                    before_replica = _queries((await c.get("/metrics")).text, "replica1", "replica")
                    for pid in range(11, 16):
                        assert (await c.get(f"/products/{pid}")).status_code == 200
                    text = (await c.get("/metrics")).text
                    assert _queries(text, "replica1", "replica") == before_replica
                    assert _queries(text, "primary", "primary") >= before_primary + 5
                    assert metric(text, "pg_replication_lag_seconds", node="replica1") > 0.5
                finally:
                    pair.resume_replay()
                await _wait(lambda: asyncio.sleep(0, svc.router.replicas[0].healthy))
                before_replica = _queries((await c.get("/metrics")).text, "replica1", "replica")
                assert (await c.get("/products/20")).status_code == 200
                assert _queries((await c.get("/metrics")).text, "replica1", "replica") == before_replica + 1

        asyncio.run(go())


async def _replica_has(svc: Any, n: int) -> bool:
    row = await svc.router.replicas[0].node.fetchone("SELECT COUNT(*) FROM products")
    return row is not None and row[0] >= n


def test_a_failed_replica_is_skipped_and_comes_back(pair, redis_db) -> None:
    with fresh_database(pair.primary_dsn) as primary_dsn:
        replica_dsn = pair.replica_dsn.rsplit("/", 1)[0] + "/" + primary_dsn.rsplit("/", 1)[1]
        wait_for_database(replica_dsn)
        clock = FakeClock()
        app = create_app(settings(database_url=primary_dsn, replica_urls=[replica_dsn],
                                  replica_check_interval_s=0.2), clock=clock, seed=30)
        svc = app.state.service

        async def go() -> None:
            async with asgi_client(app) as c:
                await _wait(lambda: _replica_has(svc, 30))
                assert (await c.get("/products/1")).status_code == 200
                pair.stop_replica()
                try:
                    # reads keep working: the failing replica is detected and skipped
                    codes = [(await c.get(f"/products/{pid}")).status_code for pid in range(2, 12)]
                    assert codes == [200] * 10
                    assert not svc.router.replicas[0].healthy
                    assert metric((await c.get("/metrics")).text, "db_replica_healthy", node="replica1") == 0
                    ready = (await c.get("/readyz")).json()
                    assert ready["checks"]["replicas"][0]["healthy"] is False
                finally:
                    pair.start_replica()
                await _wait(lambda: asyncio.sleep(0, svc.router.replicas[0].healthy), timeout=30)
                text = (await c.get("/metrics")).text
                before = _queries(text, "replica1", "replica")
                assert (await c.get("/products/25")).status_code == 200
                assert _queries((await c.get("/metrics")).text, "replica1", "replica") == before + 1

        asyncio.run(go())
