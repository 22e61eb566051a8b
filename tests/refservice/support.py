"""Helpers for the reference-service tests: a fake clock, app runners and a real uvicorn server.

`ServerThread` runs the app under uvicorn on a free loopback port in a thread (for tests where the
HTTP server matters: load generator, rate limit by client address); `asgi_client` drives the app
in-process through httpx's ASGI transport, with the app's lifespan entered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from refservice.app import create_app
from refservice.settings import Settings

SECRET = "s" * 64


class FakeClock:
    """A monotonic clock the test moves by hand (no sleeping through TTLs or the 30 s breaker)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"jwt_secret": SECRET, "access_log": False, "outbox_poll_interval_s": 0.05}
    base.update(overrides)
    return Settings(**base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def asgi_client(app: Any, client_ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 12345), raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                  base_url="http://refservice") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str = "admin", password: str = "admin") -> dict[str, str]:
    resp = await client.post("/sessions", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def metric(text: str, name: str, /, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        sname, _, lbl = series.partition("{")
        if sname != name:
            continue
        got = ",".join(sorted(p for p in lbl.rstrip("}").split(",") if p)) if lbl else ""
        if got == want:
            return float(value)
    return 0.0


class ServerThread:
    """uvicorn serving an app on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from refservice.app import server_options

        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="on", **server_options())
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def server_factory() -> Iterator[Any]:
    started: list[ServerThread] = []

    def make(app: Any) -> ServerThread:
        srv = ServerThread(app).__enter__()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.__exit__(None, None, None)


__all__ = ["SECRET", "FakeClock", "ServerThread", "asgi_client", "create_app", "free_port", "login", "metric",
           "settings"]
