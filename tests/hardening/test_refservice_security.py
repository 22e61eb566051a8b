"""Reference-service hardening: forwarded-header trust, bounded integers, literal search, the
default admin password announced.

The X-Forwarded-For case runs the service the way users do (``scaleready refservice`` in its own
process, uvicorn in front): the defect lived in the ASGI server's default, which an in-process
ASGI client never exercises.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.refservice.conftest import backend  # noqa: F401  (the embedded and PostgreSQL+Redis backends)
from tests.refservice.support import asgi_client, create_app, free_port, login, settings

SCALEREADY = str(Path(sys.executable).parent / "scaleready")


@contextmanager
def refservice_process(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    proc = subprocess.Popen([SCALEREADY, "refservice", "--port", str(port), "--seed", "5", "--no-access-log", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("refservice did not start")
        yield url, []
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_forwarded_for_from_a_loopback_peer_buys_no_new_budget() -> None:
    with refservice_process("--rate-limit", "5/minute") as (url, _):
        codes = [httpx.get(f"{url}/products/1", headers={"X-Forwarded-For": f"10.9.0.{i}"}).status_code
                 for i in range(7)]
    assert codes == [200] * 5 + [429] * 2


def test_forwarded_for_is_honoured_only_when_trusted() -> None:
    with refservice_process("--rate-limit", "5/minute", "--trust-forwarded-for") as (url, _):
        codes = [httpx.get(f"{url}/products/1", headers={"X-Forwarded-For": f"10.9.0.{i}"}).status_code
                 for i in range(7)]
    assert codes == [200] * 7


def _integer_fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every integer a client can send: request-body properties and parameters, by name."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, component in (schema.get("components", {}).get("schemas") or {}).items():
        for prop, spec in (component.get("properties") or {}).items():
            for option in [spec, *(spec.get("anyOf") or [])]:
                if option.get("type") == "integer" and not name.endswith("Out"):
                    found.append((f"{name}.{prop}", option))
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            for param in op.get("parameters") or []:
                spec = param.get("schema") or {}
                for option in [spec, *(spec.get("anyOf") or [])]:
                    if option.get("type") == "integer":
                        found.append((f"{method.upper()} {path} {param['name']}", option))
    return found


def test_every_integer_a_client_sends_is_bounded() -> None:
    schema = create_app(settings(), seed=0).openapi()
    fields = _integer_fields(schema)
    assert any(name == "CheckoutIn.product_id" for name, _ in fields), fields
    unbounded = [name for name, spec in fields if "maximum" not in spec or "minimum" not in spec]
    assert unbounded == []
    assert all(spec["maximum"] < 2**63 for _, spec in fields)


def test_out_of_range_integers_are_422_not_500(backend: dict[str, Any]) -> None:  # noqa: F811
    app = create_app(settings(**backend), seed=5)

    async def go() -> None:
        async with asgi_client(app) as c:
            auth = await login(c)
            for huge in (2**64, 2**63, -(2**64), 10**40):
                r = await c.post("/checkout", json={"product_id": huge, "quantity": 1}, headers=auth)
                assert r.status_code == 422, (huge, r.status_code, r.text)
                r = await c.post("/webhooks/product-updated", json={"id": huge}, headers=auth)
                assert r.status_code == 422, (huge, r.status_code, r.text)
                r = await c.get(f"/products/{huge}")
                assert r.status_code == 422, (huge, r.status_code)

    asyncio.run(go())


def test_search_treats_percent_and_underscore_as_characters(backend: dict[str, Any]) -> None:  # noqa: F811
    app = create_app(settings(**backend), seed=5)

    async def go() -> None:
        async with asgi_client(app) as c:
            auth = await login(c)
            names = {9001: "100% cotton shirt", 9002: "1000 cotton shirts", 9003: "snake_case mug",
                     9004: "snakeXcase mug"}
            for pid, name in names.items():
                r = await c.post(f"/products/{pid}", json={"name": name, "price_cents": 100}, headers=auth)
                assert r.status_code == 201, r.text

            async def found(q: str) -> set[int]:
                r = await c.get("/search", params={"q": q})
                assert r.status_code == 200, r.text
                return set(r.json()["ids"])

            assert await found("%") == {9001}
            assert await found("100%") == {9001}
            assert await found("_") == {9003}
            assert await found("snake_case") == {9003}
            assert await found("!") == set()
            assert await found("cotton") == {9001, 9002}

    asyncio.run(go())


@pytest.mark.parametrize("admin_password", [None, "a-real-secret"])
def test_default_admin_password_is_announced(admin_password: str | None, caplog: pytest.LogCaptureFixture) -> None:
    overrides = {} if admin_password is None else {"admin_password": admin_password}
    app = create_app(settings(**overrides), seed=1)

    async def go() -> None:
        async with asgi_client(app) as c:
            assert (await c.get("/healthz")).status_code == 200

    with caplog.at_level(logging.WARNING, logger="refservice"):
        asyncio.run(go())
    warned = [r for r in caplog.records if "default password" in r.getMessage()]
    assert bool(warned) == (admin_password is None)
