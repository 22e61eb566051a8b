"""Soft delete + outbox in one transaction; publisher crash loses and duplicates nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from refservice.outbox import SimulatedCrash
from tests.refservice.support import asgi_client, create_app, login, settings


async def _count(svc: Any, sql: str, *params: Any) -> int:
    row = await svc.primary.fetchone(sql, params)
    return int(row[0])


async def drain_consumers(svc: Any) -> None:
    for _ in range(20):
        if not sum([await r.run_once(block_s=0) for r in svc.consumers]):
            return


async def check_applied_once(svc: Any, pids: list[int], events: list[str]) -> None:
    for pid in pids:
        assert await _count(svc, "SELECT COUNT(*) FROM search_index WHERE product_id = %s", pid) == 0
        assert await _count(svc, "SELECT COUNT(*) FROM recommendations WHERE product_id = %s "
                                 "OR recommended_id = %s", pid, pid) == 0
        assert await _count(svc, "SELECT COUNT(*) FROM analytics_events WHERE product_id = %s", pid) == 1
    for event_id in events:
        assert await _count(svc, "SELECT COUNT(*) FROM processed_events WHERE event_id = %s", event_id) == 3
    assert await _count(svc, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == 0


async def crash_scenario(app: Any) -> None:
    svc = app.state.service
    async with asgi_client(app) as c:
        headers = await login(c)
        pids = [3, 4, 5]
        events = []
        for pid in pids:
            r = await c.delete(f"/products/{pid}", headers=headers)
            assert r.status_code == 202, r.text
            events.append(r.json()["event_id"])
            assert (await c.get(f"/products/{pid}")).status_code == 404
        # soft delete: the row is still there, marked
        assert await _count(svc, "SELECT COUNT(*) FROM products WHERE id = 3 AND deleted_at IS NOT NULL") == 1
        assert await _count(svc, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == 3
        # the publisher dies right after publishing the first event, before marking it
        svc.publisher.crash_after_publish = True
        with pytest.raises(SimulatedCrash):
            await svc.publisher.run_once()
        assert await _count(svc, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == 3
        await drain_consumers(svc)  # consumers see the first event once
        # restart: everything still unmarked is published again, the first event a second time
        svc.publisher.crash_after_publish = False
        assert await svc.publisher.run_once() == 3
        await drain_consumers(svc)
        await check_applied_once(svc, pids, events)
        dup = sum(r._dup._value.get() for r in svc.consumers)
        assert dup == 3  # each consumer saw the first event twice and applied it once
        assert (await c.get("/metrics")).text.count("outbox_backlog 0.0") == 1


def test_outbox_survives_publisher_crash_embedded() -> None:
    app = create_app(settings(run_background=False), seed=20)
    asyncio.run(crash_scenario(app))


def test_background_publisher_and_consumers_deliver() -> None:
    app = create_app(settings(), seed=10)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            r = await c.delete("/products/2", headers=headers)
            event_id = r.json()["event_id"]
            for _ in range(100):
                if await _count(svc, "SELECT COUNT(*) FROM processed_events WHERE event_id = %s", event_id) == 3:
                    break
                await asyncio.sleep(0.05)
            await check_applied_once(svc, [2], [event_id])
            assert (await c.delete("/products/2", headers=headers)).status_code == 404

    asyncio.run(go())


def test_soft_delete_and_outbox_row_commit_together() -> None:
    """If writing the outbox row fails, the soft delete is rolled back with it."""
    app = create_app(settings(run_background=False), seed=10)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            await svc.primary.execute("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox "
                                      "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END")
            r = await c.delete("/products/6", headers=headers)
            assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
            assert await _count(svc, "SELECT COUNT(*) FROM products WHERE id = 6 AND deleted_at IS NULL") == 1
            assert (await c.get("/products/6")).status_code == 200
            await svc.primary.execute("DROP TRIGGER outbox_broken")
            assert (await c.delete("/products/6", headers=headers)).status_code == 202
            assert await _count(svc, "SELECT COUNT(*) FROM outbox") == 1

    asyncio.run(go())
