"""The service on the real backends: PostgreSQL (shared server, own database) and Redis (db 5)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from refservice.brokers import RedisStreamsBroker
from refservice.outbox import ConsumerRunner, SimulatedCrash
from tests.refservice.pg_support import REDIS_URL, pg_dsn, redis_db
from tests.refservice.support import FakeClock, asgi_client, create_app, login, metric, settings
from tests.refservice.test_outbox import check_applied_once, crash_scenario

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
__all__ = ["pg_dsn", "redis_db"]


def test_tiers_in_order_and_ttls_land_in_redis(pg_dsn, redis_db) -> None:
    clock = FakeClock()
    app = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL), clock=clock, seed=50)

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            first = await c.get("/products/9")
            assert first.status_code == 200
            assert redis_db.get("rs:product:9") == first.content  # L2 holds the exact body
            assert 3590_000 < redis_db.pttl("rs:product:9") <= 3600_000
            await c.get("/products?page=3&size=10")
            assert 290_000 < redis_db.pttl("rs:listing:3:10") <= 300_000
            await c.put("/products/10", json={"stock": 1}, headers=headers)
            sid = app.state.service.tokens.verify(headers["Authorization"].split()[1])["sid"]
            assert 1790_000 < redis_db.pttl(f"rs:session:{sid}") <= 1800_000
            await c.get("/products/9")  # L1
            clock.advance(5.5)
            await c.get("/products/9")  # L1 expired → L2 (Redis)
            text = (await c.get("/metrics")).text
            assert metric(text, "cache_hits_total", tier="l1") >= 1
            assert metric(text, "cache_hits_total", tier="l2") >= 1
            assert metric(text, "db_queries_total", node="primary", role="primary") > 0
            redis_db.delete("rs:product:9")  # evicted from Redis too → database
            l3_before = metric(text, "cache_hits_total", tier="l3")
            clock.advance(5.5)
            assert (await c.get("/products/9")).content == first.content
            text = (await c.get("/metrics")).text
            assert metric(text, "cache_hits_total", tier="l3") == l3_before + 1

    asyncio.run(go())


def test_invalidation_reaches_other_instances_through_redis(pg_dsn, redis_db) -> None:
    clock = FakeClock()
    a = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL), clock=clock, seed=20)
    b = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL), clock=clock)

    async def go() -> None:
        async with asgi_client(a) as ca, asgi_client(b) as cb:
            headers = await login(ca)
            assert (await cb.get("/products/5")).json()["stock"] != 777  # B caches it in L1 and L2
            assert (await ca.put("/products/5", json={"stock": 777}, headers=headers)).status_code == 200
            assert redis_db.get("rs:product:5") is None  # A's update removed it from L2
            # B's own L1 copy may be served for at most its 5 s TTL, then B reads the new row
            clock.advance(5.01)
            assert (await cb.get("/products/5")).json()["stock"] == 777
            # a new product on A invalidates the listings B filled into Redis
            await cb.get("/products?page=1&size=50")
            assert redis_db.exists("rs:listing:1:50")
            r = await ca.post("/products/21", json={"name": "New", "price_cents": 10}, headers=headers)
            assert r.status_code == 201
            assert not redis_db.exists("rs:listing:1:50")
            clock.advance(5.01)
            ids = [p["id"] for p in (await cb.get("/products?page=1&size=50")).json()["items"]]
            assert 21 in ids
            # logout on A: the session key is gone from Redis, B refuses the token too
            sid = a.state.service.tokens.verify(headers["Authorization"].split()[1])["sid"]
            await cb.put("/products/6", json={"stock": 1}, headers=headers)  # B caches the session
            assert (await ca.delete(f"/sessions/{sid}", headers=headers)).status_code == 204
            assert not redis_db.exists(f"rs:session:{sid}")
            clock.advance(5.01)
            assert (await cb.put("/products/6", json={"stock": 2}, headers=headers)).status_code == 401

    asyncio.run(go())


def test_outbox_on_postgres_and_redis_streams_survives_crashes(pg_dsn, redis_db) -> None:
    prefix = f"rs{uuid.uuid4().hex[:6]}:"  # a stream no other test's consumer group has seen
    app = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL, run_background=False, key_prefix=prefix),
                     seed=20)
    assert app.state.service.broker.name == "redis"
    asyncio.run(crash_scenario(app))
    assert redis_db.xlen(f"{prefix}stream:product.deleted") == 4  # the first event was published twice


def test_consumer_crash_before_ack_is_redelivered_and_deduplicated(pg_dsn, redis_db) -> None:
    app = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL, run_background=False), seed=10)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            event_id = (await c.delete("/products/4", headers=headers)).json()["event_id"]
            assert await svc.publisher.run_once() == 1
            analytics = next(r for r in svc.consumers if r.consumer.name == "analytics")
            analytics.crash_before_ack = True
            with pytest.raises(SimulatedCrash):
                await analytics.run_once()
            # another process (its own consumer name) claims the dead consumer's unacked entry
            broker = RedisStreamsBroker(REDIS_URL, "rs:", claim_idle_s=0)
            assert broker.consumer_name != analytics.broker.consumer_name
            try:
                runner = ConsumerRunner(analytics.consumer, svc.primary, broker, svc.metrics)
                messages = await broker.fetch("analytics", "product.deleted", 10, 0)
                assert [m.event_id for m in messages] == [event_id]
                assert await runner.handle(messages[0]) is False  # already applied: not again
                assert await broker.fetch("analytics", "product.deleted", 10, 0) == []
            finally:
                await broker.close()
            for r in svc.consumers:
                if r is not analytics:
                    await r.run_once()
            await check_applied_once(svc, [4], [event_id])
            pending = redis_db.xpending("rs:stream:product.deleted", "analytics")
            assert pending["pending"] == 0

    asyncio.run(go())


def test_rate_limit_budget_is_shared_through_redis(pg_dsn, redis_db) -> None:
    a = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL, rate_limit="6/minute"), seed=3)
    b = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL, rate_limit="6/minute"))

    async def go() -> None:
        async with asgi_client(a, "192.0.2.1") as ca, asgi_client(b, "192.0.2.1") as cb:
            codes = [(await ca.get("/products/1")).status_code for _ in range(3)]
            await asyncio.sleep(0.2)  # instances sync their counts through Redis every 50 ms
            codes += [(await cb.get("/products/1")).status_code for _ in range(3)]
            await asyncio.sleep(0.2)
            assert codes == [200] * 6
            r = await cb.get("/products/1")
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            assert (await ca.get("/products/1")).status_code == 429
            assert any(k.startswith(b"rs:limits") for k in redis_db.keys("*"))
            # the shared count in Redis is exact once the instances have synced
            await asyncio.sleep(0.2)
            stats = await a.state.service.rate_limiter.limiter.get_window_stats(
                a.state.service.rate_limiter.item, "192.0.2.1")
            assert stats.remaining == 0

    asyncio.run(go())


def test_soft_delete_and_outbox_are_one_postgres_transaction(pg_dsn, redis_db) -> None:
    app = create_app(settings(database_url=pg_dsn, redis_url=REDIS_URL, run_background=False), seed=5)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            await svc.primary.execute(
                "CREATE FUNCTION outbox_broken() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$")
            await svc.primary.execute("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox "
                                      "FOR EACH ROW EXECUTE FUNCTION outbox_broken()")
            r = await c.delete("/products/2", headers=headers)
            assert r.status_code == 500
            row = await svc.primary.fetchone("SELECT deleted_at FROM products WHERE id = 2")
            assert row == (None,)
            await svc.primary.execute("DROP TRIGGER outbox_broken ON outbox")
            assert (await c.delete("/products/2", headers=headers)).status_code == 202
            row = await svc.primary.fetchone("SELECT payload FROM outbox")
            assert json.loads(row[0])["product_id"] == 2

    asyncio.run(go())


def test_batched_redis_limiter_is_exact_for_one_instance(redis_db) -> None:
    from refservice.ratelimit import RateLimiter

    async def go() -> None:
        limiter = RateLimiter("20/minute", REDIS_URL, "rs:")
        decisions = []
        for i in range(30):
            decisions.append(await limiter.hit("198.51.100.1"))
            if i % 7 == 0:
                await asyncio.sleep(0.06)  # let some syncs happen in between
        assert [d is None for d in decisions] == [True] * 20 + [False] * 10
        assert all(d is not None and 1 <= d <= 60 for d in decisions[20:])
        await limiter.close()
        stats = await limiter.limiter.get_window_stats(limiter.item, "198.51.100.1")
        assert stats.remaining == 0
        # a concurrent burst (what an attacker or the http.rate_limit probe sends): still exact
        burst = RateLimiter("100/minute", REDIS_URL, "rs:")
        for wave in range(3):
            results = await asyncio.gather(*(burst.hit("198.51.100.2") for _ in range(60)))
            decisions.extend(results)
            await asyncio.sleep(0.03 * wave)
        assert sum(d is None for d in decisions[30:]) == 100
        await burst.close()
        stats = await burst.limiter.get_window_stats(burst.item, "198.51.100.2")
        assert stats.remaining == 0

    asyncio.run(go())
