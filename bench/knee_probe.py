"""Per-request timings inside a knee-bench worker, for bench/knee_tail.py.

Wraps the worker's ASGI app and times, for every product request, the handler (from the ASGI call
to the last body chunk handed to the transport), the awaits on Redis (`RespClient.get` and
`pipeline`), the wait for a pooled PostgreSQL connection and how long it was held. A context
variable carries the request's record through its awaits, so concurrent requests do not mix.
The records, and the garbage collector's pauses (generation, start, end), are written as JSON when
the worker shuts down (lifespan), never during the run.

Bench-only instrumentation: it patches two methods of the reference service's clients in the
worker process it runs in, and nothing in the service itself.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from refservice.metrics import time_collections

_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("knee_probe", default=None)
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def _timed_redis(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def timed(self: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(self, *args)
        finally:
            rec = _current.get()
            if rec is not None:
                rec["redis_s"] += time.perf_counter() - started
                rec["redis_n"] += 1
    return timed


def _patch_clients() -> None:
    from refservice import db, resp

    resp.RespClient.get = _timed_redis(resp.RespClient.get)  # type: ignore[method-assign]
    resp.RespClient.pipeline = _timed_redis(resp.RespClient.pipeline)  # type: ignore[method-assign]
    connection = db.PostgresNode.connection

    @asynccontextmanager
    async def timed_connection(self: Any) -> AsyncIterator[Any]:
        asked = time.perf_counter()
        async with connection(self) as conn:
            got = time.perf_counter()
            try:
                yield conn
            finally:
                rec = _current.get()
                if rec is not None:
                    released = time.perf_counter()
                    rec["pool_wait_s"] += got - asked
                    rec["db_hold_s"] += released - got
                    rec["db_n"] += 1
                    rec.setdefault("pool_at", [asked, got, released])  # the first hold's clock times

    db.PostgresNode.connection = timed_connection  # type: ignore[method-assign]


def instrument(app: ASGIApp, out: Path) -> ASGIApp:
    """``app`` with every /products/ request timed; the records go to ``out`` at shutdown."""
    _patch_clients()
    records: list[dict[str, Any]] = []
    pauses: list[tuple[int, float, float]] = []  # the garbage collector's: generation, start, end
    time_collections(lambda generation, start, end: pauses.append((generation, start, end)))

    async def probed(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                     send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            async def on_lifespan(message: Any) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    out.write_text(json.dumps({"requests": records, "gc": pauses}))
                await send(message)
            await app(scope, receive, on_lifespan)
            return
        if scope["type"] != "http" or not scope["path"].startswith("/products/"):
            await app(scope, receive, send)
            return
        rec: dict[str, Any] = {"t0": time.perf_counter(), "method": scope["method"], "redis_s": 0.0, "redis_n": 0,
                               "pool_wait_s": 0.0, "db_hold_s": 0.0, "db_n": 0}
        _current.set(rec)

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                rec["t1"] = time.perf_counter()
            await send(message)

        await app(scope, receive, timed_send)
        records.append(rec)

    return probed
