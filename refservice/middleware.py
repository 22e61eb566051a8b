"""The one ASGI middleware in front of every request.

It assigns the request id (``X-Request-ID`` in, or a fresh one), applies the per-IP rate limit,
the read-only emergency switch (writes → 503 problem+json), records ``http_requests_total`` and
``http_request_duration_seconds`` by route template, and writes the JSON access log line. It is
a plain ASGI callable, not Starlette's BaseHTTPMiddleware, because it sits on the L1-hit path
whose cost the benchmark compares with a bare endpoint.

Fast path: a ``GET /products/{id}`` whose body is fresh in L1 or L2 is answered right here, after
the rate limit and switches, with the same headers, metrics labels and access log as the route
would produce: a hot cached read skips routing, parameter validation and response building,
which cost more than the cache lookup itself. Anything else (a miss, a bad id, serve-stale mode
without a fresh copy) falls through to the FastAPI route. ``Settings.fast_path`` switches it off.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from itertools import count
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from refservice.logs import access, request_id_var, trace_id_var
from refservice.problems import problem_body

log = logging.getLogger("refservice.access")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics")
_PRODUCT_PATH = re.compile(r"/products/([1-9][0-9]{0,17})")
_PRODUCT_ROUTE = "/products/{pid}"
# on every response: no MIME sniffing, no framing (an API has nothing to show in a frame)
_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_ids = count(1)
_id_prefix = os.urandom(4).hex()
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})")
_NO_TRACE = "0" * 32


def trace_context(header: str | None) -> tuple[str, bytes]:
    """The trace id to continue (the caller's W3C ``traceparent``, else a new one) and our own
    ``traceparent`` for the response: same trace, a new span id, the caller's sampled flag."""
    match = _TRACEPARENT.fullmatch(header.strip().lower()) if header else None
    if match is not None and match.group(1) != _NO_TRACE:
        trace_id, flags = match.group(1), match.group(2)
    else:
        trace_id, flags = f"{random.getrandbits(128):032x}", "01"
    return trace_id, f"00-{trace_id}-{random.getrandbits(64):016x}-{flags}".encode()


def _client_ip(scope: Scope, trust_forwarded: bool) -> str:
    if trust_forwarded:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                return value.decode("latin-1").split(",")[0].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, service: Any) -> None:
        self.app = app
        self.service = service
        self._series: dict[tuple[str, str, int], Any] = {}
        self._hist: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = self.service
        start = time.perf_counter()
        rid = None
        parent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:128]
            elif name == b"traceparent":
                parent = value.decode("latin-1")[:128]
        if rid is None:
            rid = f"{_id_prefix}-{next(_ids):x}"
        trace_id, traceparent = trace_context(parent)
        token = request_id_var.set(rid)
        trace_token = trace_id_var.set(trace_id)
        method = scope["method"]
        path = scope["path"]
        status = 500
        fast = None
        rid_header = (b"x-request-id", rid.encode("latin-1"))
        trace_header = (b"traceparent", traceparent)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header, trace_header, *_SECURITY_HEADERS]
            await send(message)

        try:
            refusal = await self._refuse(scope, method, path)
            if refusal is not None:
                code, body, headers = refusal
                await send_wrapper({"type": "http.response.start", "status": code,
                                    "headers": [(b"content-type", b"application/problem+json"),
                                                (b"content-length", str(len(body)).encode()), *headers]})
                await send({"type": "http.response.body", "body": body})
            else:
                body = None
                if method == "GET" and service.settings.fast_path:
                    match = _PRODUCT_PATH.fullmatch(path)
                    if match is not None:
                        body = await service.cache.peek(f"product:{match.group(1)}")
                        if body is None and not service.cache.serve_stale:
                            scope["refservice.l2_checked"] = True  # the route need not ask L2 again
                if body is None:
                    await self.app(scope, receive, send_wrapper)
                else:
                    fast = _PRODUCT_ROUTE
                    status = 200
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
                        rid_header, trace_header, *_SECURITY_HEADERS]})
                    await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = route.path if route is not None else fast or "unmatched"
            key = (method, template, status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = service.metrics.requests.labels(method, template, str(status))
            series.inc()
            hkey = (method, template)
            hist = self._hist.get(hkey)
            if hist is None:
                hist = self._hist[hkey] = service.metrics.latency.labels(method, template)
            hist.observe(elapsed)
            if service.settings.access_log:
                access(log, rid, method, template, path, status, round(elapsed * 1000, 3), trace_id)
            request_id_var.reset(token)
            trace_id_var.reset(trace_token)

    async def _refuse(self, scope: Scope, method: str, path: str) -> tuple[int, bytes, list[Any]] | None:
        service = self.service
        if path in _EXEMPT_PATHS:
            return None
        limiter = service.rate_limiter
        if limiter is not None:
            ip = _client_ip(scope, service.settings.trust_forwarded_for)
            try:
                wait = await limiter.hit(ip)
            except Exception:  # a broken limiter store must not take the API down: fail open
                wait = None
            if wait is not None:
                service.metrics.rate_limited.inc()
                body = problem_body(429, "rate-limited", f"more than {limiter.rate} from this address",
                                    instance=path, retry_after=int(wait))
                return 429, body, [(b"retry-after", str(int(wait)).encode())]
        if service.switches.read_only and method in WRITE_METHODS and not path.startswith("/admin/"):
            body = problem_body(503, "read-only", "the service is in read-only mode; writes are refused",
                                instance=path)
            return 503, body, [(b"retry-after", b"60")]
        return None
