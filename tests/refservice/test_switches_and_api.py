"""Emergency switches, problem+json everywhere, OpenAPI, health, metrics names, JSON logs."""

from __future__ import annotations

import asyncio
import io
import json

from refservice import logs
from tests.refservice.support import FakeClock, asgi_client, create_app, login, metric, settings


def test_read_only_mode_refuses_writes_with_503(backend) -> None:
    app = create_app(settings(**backend), seed=5)

    async def go() -> None:
        async with asgi_client(app) as c:
            admin = await login(c)
            r = await c.put("/admin/switches", json={"read_only": True}, headers=admin)
            assert r.status_code == 200 and r.json()["read_only"] is True
            for method, path, body in (("PUT", "/products/1", {"stock": 1}), ("DELETE", "/products/1", None),
                                       ("POST", "/products/99", {"name": "n", "price_cents": 1}),
                                       ("POST", "/checkout", {"product_id": 1})):
                r = await c.request(method, path, json=body, headers=admin)
                assert r.status_code == 503, (method, path)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["type"].endswith("/read-only") and r.headers["retry-after"] == "60"
            assert (await c.get("/products/1")).status_code == 200  # reads still served
            text = (await c.get("/metrics")).text
            assert metric(text, "emergency_switch", switch="read_only") == 1
            r = await c.put("/admin/switches", json={"read_only": False}, headers=admin)
            assert (await c.put("/products/1", json={"stock": 1}, headers=admin)).status_code == 200

    asyncio.run(go())


def test_serve_stale_mode_serves_cached_copies_only() -> None:
    clock = FakeClock()
    app = create_app(settings(), clock=clock, seed=5)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            admin = await login(c)
            before = (await c.get("/products/1")).json()
            await c.put("/admin/switches", json={"serve_stale": True}, headers=admin)
            await svc.primary.execute("UPDATE products SET name = %s WHERE id = %s", ("changed", 1))
            clock.advance(7200)  # past L1 and L2 TTLs: normally a database read
            queries = metric((await c.get("/metrics")).text, "db_queries_total", node="primary", role="primary")
            assert (await c.get("/products/1")).json() == before
            r = await c.get("/products/2")  # never cached
            assert r.status_code == 503 and r.json()["type"].endswith("/degraded")
            text = (await c.get("/metrics")).text
            assert metric(text, "db_queries_total", node="primary", role="primary") == queries
            assert metric(text, "cache_stale_served_total") == 1
            await c.put("/admin/switches", json={"serve_stale": False}, headers=admin)
            assert (await c.get("/products/1")).json()["name"] == "changed"

    asyncio.run(go())


def test_feature_flags_shed_non_critical_endpoints(backend) -> None:
    app = create_app(settings(disabled_features=["recommendations"], **backend), seed=5)

    async def go() -> None:
        async with asgi_client(app) as c:
            admin = await login(c)
            r = await c.get("/products/1/recommendations")
            assert r.status_code == 503 and r.json()["type"].endswith("/feature-disabled")
            assert (await c.get("/products?page=1")).status_code == 200
            r = await c.put("/admin/switches", json={"disabled_features": ["listings", "search"]}, headers=admin)
            assert r.json()["disabled_features"] == ["listings", "search"]
            assert (await c.get("/products?page=1")).status_code == 503
            assert (await c.get("/search", params={"q": "item"})).status_code == 503
            assert (await c.get("/products/1/recommendations")).status_code == 200
            assert (await c.get("/products/1")).status_code == 200  # critical path untouched
            r = await c.put("/admin/switches", json={"disabled_features": ["nope"]}, headers=admin)
            assert r.status_code == 422

    asyncio.run(go())


def test_problem_json_openapi_health_and_metric_names(backend) -> None:
    app = create_app(settings(**backend), seed=3)

    async def go() -> None:
        async with asgi_client(app) as c:
            for resp, status in (((await c.get("/products/999")), 404), ((await c.get("/products/abc")), 422),
                                 ((await c.patch("/products/1")), 405), ((await c.get("/nowhere")), 404),
                                 ((await c.post("/sessions", json={"username": "x"})), 422)):
                assert resp.status_code == status
                assert resp.headers["content-type"] == "application/problem+json"
                doc = resp.json()
                assert {"type", "title", "status", "detail"} <= set(doc) and doc["status"] == status
            spec = (await c.get("/openapi.json")).json()
            for path in ("/products/{pid}", "/products", "/sessions", "/sessions/{sid}", "/checkout",
                         "/healthz", "/readyz"):
                assert path in spec["paths"], path
            assert set(spec["paths"]["/products/{pid}"]) == {"get", "post", "put", "delete"}
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            ready = (await c.get("/readyz")).json()
            assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"
            await c.get("/products/1")
            text = (await c.get("/metrics")).text
            for name in ("http_requests_total", "http_request_duration_seconds_bucket", "cache_hits_total",
                         "cache_misses_total", "db_queries_total", "circuit_breaker_state", "outbox_backlog",
                         "process_cpu_seconds_total", "process_resident_memory_bytes"):
                assert f"\n{name}" in text, name
            assert metric(text, "http_requests_total", method="GET", route="/products/{pid}", status="200") == 1
            assert metric(text, "http_requests_total", method="GET", route="/products/{pid}", status="404") == 1
            assert metric(text, "http_requests_total", method="GET", route="unmatched", status="404") == 1

    asyncio.run(go())


def test_structured_json_logs_carry_the_request_id() -> None:
    app = create_app(settings(access_log=True), seed=3)
    stream = io.StringIO()
    logs.configure("INFO", stream)

    async def go() -> None:
        async with asgi_client(app) as c:
            r = await c.get("/products/1", headers={"X-Request-ID": "req-abc-123"})
            assert r.headers["x-request-id"] == "req-abc-123"
            r2 = await c.get("/products/2")
            assert r2.headers["x-request-id"] and r2.headers["x-request-id"] != "req-abc-123"

    try:
        asyncio.run(go())
    finally:
        logs.configure("INFO")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [d for d in lines if d["logger"] == "refservice.access"]
    first = next(d for d in access if d["request_id"] == "req-abc-123")
    assert first["route"] == "/products/{pid}" and first["status"] == 200 and first["duration_ms"] >= 0
    assert {"ts", "level", "msg", "method"} <= set(first)
    assert all("authorization" not in json.dumps(d).lower() for d in lines)


def test_reads_survive_a_redis_outage() -> None:
    from tests.refservice.support import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(settings(redis_url=dead, run_background=False), seed=5)

    async def go() -> None:
        async with asgi_client(app) as c:
            for _ in range(2):
                r = await c.get("/products/2")
                assert r.status_code == 200 and r.json()["id"] == 2  # L2 errors are misses
            admin = await login(c)  # the rate limiter fails open, sessions come from the database
            assert (await c.put("/products/2", json={"stock": 5}, headers=admin)).status_code == 200
            assert (await c.get("/products/2")).json()["stock"] == 5
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.headers["content-type"] == "application/problem+json"
            assert ready.json()["checks"]["cache"].startswith("error")
            text = (await c.get("/metrics")).text
            assert metric(text, "cache_errors_total", tier="l2") >= 3

    asyncio.run(go())
