"""App factory: `create_app(settings)` returns the FastAPI app of the reference service.

Besides the catalogue routes (routes.py) it serves health (``/healthz`` liveness, ``/readyz``
readiness with the state of each dependency), ``/metrics`` for Prometheus, the admin endpoints for
the emergency switches and the fake payment dependency, and the OpenAPI document
(``/openapi.json``). The lifespan starts and stops the `Service`; a test that drives the app
through httpx's ASGI transport enters ``app.router.lifespan_context(app)`` itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from refservice import logs
from refservice.auth import Principal
from refservice.middleware import ServiceMiddleware
from refservice.models import ChargeIn, PaymentConfigIn, SwitchesIn
from refservice.payment import PaymentError
from refservice.problems import Problem, install_handlers
from refservice.repo import dumps
from refservice.routes import ADMIN, json_response, router, service_of
from refservice.service import Service
from refservice.settings import FEATURES, Settings


def _switches_doc(svc: Service) -> dict[str, Any]:
    s = svc.switches
    return {"read_only": s.read_only, "serve_stale": s.serve_stale,
            "disabled_features": sorted(s.disabled_features), "features": list(FEATURES)}


def _add_system_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["system"])
    async def healthz() -> Response:
        return json_response(b'{"status":"ok"}')

    @app.get("/readyz", tags=["system"])
    async def readyz(request: Request) -> Response:
        svc = service_of(request)
        checks: dict[str, Any] = {}
        ok = svc.started
        try:
            await svc.primary.fetchone("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"], ok = f"error: {type(exc).__name__}", False
        try:
            await svc.l2.get(svc.settings.key_prefix + "readyz")
            checks["cache"] = "ok"
        except Exception as exc:
            checks["cache"], ok = f"error: {type(exc).__name__}", False
        checks["replicas"] = svc.router.status()
        checks["breaker"] = svc.breaker.state
        checks["switches"] = _switches_doc(svc)
        if not ok:
            raise Problem(503, "not-ready", "a dependency is not available", checks=checks)
        return json_response(dumps({"status": "ready", "checks": checks}))

    @app.get("/metrics", tags=["system"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        svc = service_of(request)
        svc.metrics.breaker_state.labels(svc.breaker.name).set(
            {"closed": 0, "half_open": 1, "open": 2}[svc.breaker.state])
        if svc.l1 is not None:
            svc.metrics.cache_entries.labels("l1").set(len(svc.l1))
        if hasattr(svc.l2, "__len__"):
            svc.metrics.cache_entries.labels("l2").set(len(svc.l2))  # type: ignore[arg-type]
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/admin/switches", tags=["admin"])
    async def get_switches(request: Request, who: Principal = ADMIN) -> Response:
        svc = service_of(request)
        return json_response(dumps(_switches_doc(svc)))

    @app.put("/admin/switches", tags=["admin"])
    async def put_switches(request: Request, body: SwitchesIn, who: Principal = ADMIN) -> Response:
        """Emergency switches (guide 10): read-only mode, serve-stale cache, shed features."""
        svc = service_of(request)
        if body.disabled_features is not None:
            unknown = set(body.disabled_features) - set(FEATURES)
            if unknown:
                raise Problem(422, "validation-error", f"unknown feature(s): {sorted(unknown)}")
            svc.switches.disabled_features = set(body.disabled_features)
        if body.read_only is not None:
            svc.switches.read_only = body.read_only
        if body.serve_stale is not None:
            svc.switches.serve_stale = body.serve_stale
        svc.apply_switches()
        logging.getLogger("refservice").warning("emergency switches changed", extra=_switches_doc(svc))
        return json_response(dumps(_switches_doc(svc)))

    @app.put("/admin/payment", tags=["admin"])
    async def put_payment(request: Request, body: PaymentConfigIn, who: Principal = ADMIN) -> Response:
        svc = service_of(request)
        svc.fake_payment.configure(body.failure_rate, body.latency_ms)
        return json_response(dumps({"failure_rate": svc.fake_payment.failure_rate,
                                    "latency_ms": svc.fake_payment.latency_ms,
                                    "breaker": svc.breaker.state}))

    @app.get("/admin/status", tags=["admin"])
    async def status(request: Request, who: Principal = ADMIN) -> Response:
        svc = service_of(request)
        return json_response(dumps({
            "breaker": {"state": svc.breaker.state, "consecutive_failures": svc.breaker.consecutive_failures},
            "replicas": svc.router.status(), "outbox_backlog": await svc.publisher.backlog(),
            "l1_entries": len(svc.l1) if svc.l1 is not None else 0, "cache_fills": svc.cache.fills,
            "switches": _switches_doc(svc)}))

    @app.post("/fake/payment/charge", tags=["fake dependency"])
    async def fake_charge(request: Request, body: ChargeIn) -> Response:
        """The fake payment provider itself, for use as another instance's ``payment_url``."""
        svc = service_of(request)
        try:
            return json_response(dumps(await svc.fake_payment.charge(body.amount_cents, body.reference)))
        except PaymentError as exc:
            raise Problem(502, "payment-failed", str(exc)) from exc


def server_options(settings: Settings | None = None) -> dict[str, Any]:
    """uvicorn options the app's security depends on; every launcher passes them.

    uvicorn trusts ``X-Forwarded-For`` from loopback peers by default (``proxy_headers=True``,
    ``forwarded_allow_ips=127.0.0.1``) and rewrites the client address before the app sees
    it, so any local client could pick its rate-limit bucket. Forwarded headers are honoured
    only when the settings say so (``--trust-forwarded-for``), and then by the app itself.
    """
    del settings  # the app reads X-Forwarded-For itself when trusted; the server never does
    return {"proxy_headers": False, "server_header": False}


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic,
               seed: int = 0, configure_logging: bool = True) -> FastAPI:
    """Build the app (no I/O until its lifespan starts). ``seed`` loads that many products on start."""
    settings = settings or Settings()
    service = Service(settings, clock=clock)
    if configure_logging:
        logs.configure(settings.log_level)
    logs.count_levels(service.metrics.log_messages)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start(seed=seed)
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="scaleready reference service", version="1.0",
                  description="A product catalogue that implements the scaling guide's patterns.",
                  lifespan=lifespan)
    app.state.service = service
    install_handlers(app)
    app.include_router(router)
    _add_system_routes(app)
    app.add_middleware(ServiceMiddleware, service=service)
    return app
