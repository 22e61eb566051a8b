"""Tiered cache on the embedded default: tier order, per-type TTLs, invalidation, single flight."""

from __future__ import annotations

import asyncio

from refservice.cache import L1Cache, MemoryL2, NotCached, TieredCache
from refservice.metrics import Metrics
from tests.refservice.support import FakeClock, asgi_client, create_app, login, metric, settings


def _tiers(text: str) -> dict[str, float]:
    out = {}
    for tier in ("l1", "l2", "l3"):
        out[f"{tier}_hit"] = metric(text, "cache_hits_total", tier=tier)
        out[f"{tier}_miss"] = metric(text, "cache_misses_total", tier=tier)
    return out


def test_tiers_hit_in_order_and_l1_expires_after_5s() -> None:
    clock = FakeClock()
    app = create_app(settings(), clock=clock, seed=20)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            first = await c.get("/products/7")
            assert first.status_code == 200 and first.json()["id"] == 7
            t = _tiers((await c.get("/metrics")).text)
            assert (t["l1_miss"], t["l2_miss"], t["l3_hit"], t["l1_hit"]) == (1, 1, 1, 0)
            # L2 holds it with the product TTL (1 h), L1 for 5 s
            assert await svc.l2.ttl("rs:product:7") == 3600
            again = await c.get("/products/7")
            assert again.content == first.content
            t = _tiers((await c.get("/metrics")).text)
            assert (t["l1_hit"], t["l2_hit"], t["l3_hit"]) == (1, 0, 1)
            clock.advance(5.01)  # L1 entry expired, L2 still fresh
            await c.get("/products/7")
            t = _tiers((await c.get("/metrics")).text)
            assert (t["l1_hit"], t["l2_hit"], t["l3_hit"]) == (1, 1, 1)
            await c.get("/products/7")  # refilled into L1 by the L2 hit
            t = _tiers((await c.get("/metrics")).text)
            assert (t["l1_hit"], t["l2_hit"], t["l3_hit"]) == (2, 1, 1)
            clock.advance(3600.5)  # past the product TTL in L2 too: back to the database
            await c.get("/products/7")
            t = _tiers((await c.get("/metrics")).text)
            assert t["l3_hit"] == 2
            assert metric((await c.get("/metrics")).text, "db_queries_total", node="primary", role="primary") > 0

    asyncio.run(go())


def test_per_type_ttls_in_l2() -> None:
    clock = FakeClock()
    app = create_app(settings(), clock=clock, seed=30)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            await c.get("/products/1")
            await c.get("/products?page=2&size=5")
            sid = svc.tokens.verify(headers["Authorization"].split()[1])["sid"]
            await c.put("/products/2", json={"stock": 3}, headers=headers)  # authenticates → session cached
            assert await svc.l2.ttl("rs:product:1") == 3600
            assert await svc.l2.ttl("rs:listing:2:5") == 300
            assert await svc.l2.ttl(f"rs:session:{sid}") == 1800

    asyncio.run(go())


def test_invalidation_triggers(backend) -> None:
    app = create_app(settings(**backend), seed=30)

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            assert (await c.get("/products/3")).json()["price_cents"] != 123
            listing = (await c.get("/products?page=1&size=100")).json()
            assert all(item["id"] != 31 for item in listing["items"])
            # update → that product leaves L2 and L1: the very next read sees the new price
            r = await c.put("/products/3", json={"price_cents": 123}, headers=headers)
            assert r.status_code == 200
            assert (await c.get("/products/3")).json()["price_cents"] == 123
            # new product → listings invalidated
            r = await c.post("/products/31", json={"name": "Fresh", "price_cents": 500}, headers=headers)
            assert r.status_code == 201, r.text
            listing = (await c.get("/products?page=1&size=100")).json()
            assert any(item["id"] == 31 for item in listing["items"])
            # the product webhook drops a product changed behind the service's back
            svc = app.state.service
            assert (await c.get("/products/4")).status_code == 200  # now cached
            await svc.primary.execute("UPDATE products SET name = %s WHERE id = %s", ("Changed", 4))
            assert (await c.get("/products/4")).json()["name"] != "Changed"
            r = await c.post("/webhooks/product-updated", json={"id": 4}, headers=headers)
            assert r.status_code == 204
            assert (await c.get("/products/4")).json()["name"] == "Changed"
            # logout deletes the session: the same token is refused afterwards
            sid = svc.tokens.verify(headers["Authorization"].split()[1])["sid"]
            assert (await c.delete(f"/sessions/{sid}", headers=headers)).status_code == 204
            assert await svc.l2.get(f"rs:session:{sid}") is None
            r = await c.put("/products/3", json={"price_cents": 1}, headers=headers)
            assert r.status_code == 401 and r.json()["detail"] == "session ended"

    asyncio.run(go())


def test_single_flight_one_database_read_per_cold_key() -> None:
    async def go() -> None:
        cache = TieredCache(L1Cache(5, 100), MemoryL2(), Metrics())
        calls = 0

        async def loader() -> bytes:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return b'{"v":1}'

        results = await asyncio.gather(*(cache.get("product:1", 60, loader) for _ in range(50)))
        assert calls == 1
        assert set(results) == {b'{"v":1}'}

        # a failing fill is reported to every waiter and not cached
        async def broken() -> bytes:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.01)
            raise RuntimeError("db down")

        outcomes = await asyncio.gather(*(cache.get("product:2", 60, broken) for _ in range(10)),
                                        return_exceptions=True)
        assert calls == 2 and all(isinstance(o, RuntimeError) for o in outcomes)

    asyncio.run(go())


def test_single_flight_through_the_app(backend) -> None:
    app = create_app(settings(**backend), seed=10)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            before = svc.cache.fills
            rs = await asyncio.gather(*(c.get("/products/5") for _ in range(40)))
            assert {r.status_code for r in rs} == {200}
            assert svc.cache.fills - before == 1

    asyncio.run(go())


def test_invalidation_during_a_fill_is_not_overwritten_by_the_old_value() -> None:
    async def go() -> None:
        cache = TieredCache(L1Cache(5, 100), MemoryL2(), Metrics())
        started = asyncio.Event()

        async def slow_old() -> bytes:
            started.set()
            await asyncio.sleep(0.05)
            return b"old"

        fill = asyncio.create_task(cache.get("product:1", 60, slow_old))
        await started.wait()
        await cache.invalidate("product:1")  # an update landed while the old row was being read
        assert await fill == b"old"
        assert await cache.l2.get("rs:product:1") is None

    asyncio.run(go())


def test_l1_is_bounded_lru() -> None:
    clock = FakeClock()
    l1 = L1Cache(5, 3, clock)
    for k in "abcd":
        l1.set(k, k.encode())
    assert len(l1) == 3 and l1.get("a") is None and l1.get("d") == b"d"
    clock.advance(5)
    assert l1.get("d") is None and l1.get("d", allow_stale=True) == b"d"


def test_serve_stale_never_reads_the_database() -> None:
    async def go() -> None:
        clock = FakeClock()
        cache = TieredCache(L1Cache(5, 10, clock), MemoryL2(clock), Metrics())
        await cache.get("k", 60, lambda: asyncio.sleep(0, b"v1"))
        cache.serve_stale = True
        clock.advance(100)  # expired everywhere
        assert await cache.get("k", 60, lambda: asyncio.sleep(0, b"v2")) == b"v1"
        try:
            await cache.get("other", 60, lambda: asyncio.sleep(0, b"x"))
        except NotCached:
            pass
        else:
            raise AssertionError("serve-stale mode filled from the loader")

    asyncio.run(go())


def test_fast_path_answers_exactly_like_the_route(backend) -> None:
    async def fetch(fast: bool) -> list[tuple[int, dict[str, str], bytes]]:
        app = create_app(settings(fast_path=fast, **backend), seed=10)
        out = []
        async with asgi_client(app) as c:
            for path in ("/products/3", "/products/3", "/products/03", "/products/99"):
                r = await c.get(path, headers={"X-Request-ID": "same"})
                assert int(r.headers["content-length"]) == len(r.content)
                headers = {k: v for k, v in r.headers.items() if k in ("content-type", "x-request-id",
                                                                     "x-content-type-options", "x-frame-options")}
                out.append((r.status_code, headers, r.content))
            text = (await c.get("/metrics")).text
            assert metric(text, "http_requests_total", method="GET", route="/products/{pid}", status="200") == 3
            assert metric(text, "cache_hits_total", tier="l1") == 2
        return out

    fast, slow = asyncio.run(fetch(True)), asyncio.run(fetch(False))
    assert [(s, h) for s, h, _ in fast] == [(s, h) for s, h, _ in slow]
    assert [s for s, _, _ in fast] == [200, 200, 200, 404]
    assert all(h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY" for _, h, _ in fast)
    assert fast[0][2] == fast[1][2]


def test_warming_fills_l2_before_traffic() -> None:
    app = create_app(settings(warm_products=10), seed=30)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            assert 3599 < await svc.l2.ttl("rs:product:10") <= 3600
            assert await svc.l2.get("rs:product:11") is None
            assert 299 < await svc.l2.ttl("rs:listing:1:20") <= 300
            text = (await c.get("/metrics")).text
            queries = metric(text, "db_queries_total", node="primary", role="primary")
            assert (await c.get("/products/4")).status_code == 200
            assert (await c.get("/products?page=1&size=20")).status_code == 200
            text = (await c.get("/metrics")).text
            assert metric(text, "db_queries_total", node="primary", role="primary") == queries
            assert metric(text, "cache_hits_total", tier="l2") == 2

    asyncio.run(go())


def test_a_cold_read_asks_l2_once() -> None:
    app = create_app(settings(), seed=10)
    svc = app.state.service
    calls: list[str] = []
    original = svc.l2.get

    async def counting_get(key: str) -> bytes | None:
        calls.append(key)
        return await original(key)

    svc.l2.get = counting_get  # type: ignore[method-assign]

    async def go() -> None:
        async with asgi_client(app) as c:
            assert (await c.get("/products/6")).status_code == 200
            assert calls == ["rs:product:6"]  # the fast path's miss is not repeated by the route

    asyncio.run(go())
