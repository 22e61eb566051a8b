"""The catalogue, session and checkout endpoints.

Reads are served through the tiered cache; writes need a valid JWT whose session is still
live, go to the primary, then fire the guide 2.2 invalidation triggers (update → that product in
L2 and L1; new product → listings; logout → the session). Errors are `Problem`s (problem+json).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from refservice.auth import AuthError, Principal, bearer_token
from refservice.breaker import BreakerOpen
from refservice.cache import NotCached
from refservice.models import (
    CheckoutIn,
    ListingOut,
    LoginIn,
    ProductIn,
    ProductOut,
    ProductPatch,
    SessionOut,
    WebhookIn,
)
from refservice.payment import PaymentError
from refservice.problems import Problem
from refservice.repo import Conflict, dumps
from refservice.schema import verify_password
from refservice.service import Service

router = APIRouter()

JSON = "application/json"
PID = Path(ge=1, le=2**62, description="product id")


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def require_feature(svc: Service, feature: str) -> None:
    if feature in svc.switches.disabled_features:
        raise Problem(503, "feature-disabled", f"'{feature}' is switched off to shed load",
                      headers={"Retry-After": "60"})


async def session_of(svc: Service, sid: str) -> dict[str, Any] | None:
    raw = await svc.cache.get(f"session:{sid}", svc.settings.ttl_session_s,
                              lambda: svc.repo.session_json(sid, sid))
    return None if raw is None else json.loads(raw)


async def authenticate(request: Request, svc: Service, role: str | None = None) -> Principal:
    """Verify the bearer JWT and that its session is live; 401/403 problem+json otherwise."""
    try:
        claims = svc.tokens.verify(bearer_token(request.headers.get("authorization")))
    except AuthError as exc:
        raise Problem(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    sid = str(claims["sid"])
    try:
        session = await session_of(svc, sid)
    except NotCached:  # serve-stale mode and the session is not cached: ask the database
        raw = await svc.repo.session_json(sid, sid)
        session = None if raw is None else json.loads(raw)
    if session is None or session.get("username") != claims["sub"]:
        raise Problem(401, "unauthorized", "session ended", headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(str(claims["sub"]), str(session.get("role", claims.get("role", "user"))),
                          sid)
    if role is not None and principal.role != role:
        raise Problem(403, "forbidden", f"needs role '{role}'")
    return principal


async def require_user(request: Request) -> Principal:
    """Dependency of every write: runs before the body is validated, so a request with a bad
    token gets 401, not a 422 that would tell an attacker about the body schema."""
    return await authenticate(request, service_of(request))


async def require_admin(request: Request) -> Principal:
    return await authenticate(request, service_of(request), role="admin")


USER = Depends(require_user)
ADMIN = Depends(require_admin)


async def reader_session(request: Request, svc: Service) -> str | None:
    """The caller's session id when it sent a valid token (for read-your-writes routing only)."""
    if not svc.router.replicas:
        return None
    header = request.headers.get("authorization")
    if not header:
        return None
    try:
        return str(svc.tokens.verify(bearer_token(header))["sid"])
    except AuthError:
        return None


async def cached(svc: Service, name: str, ttl: int, loader: Any, group: str | None = None,
                 l2_checked: bool = False) -> bytes | None:
    try:
        return await svc.cache.get(name, ttl, loader, group, l2_checked)
    except NotCached as exc:
        raise Problem(503, "degraded", "serving from cache only and this resource is not cached",
                      headers={"Retry-After": "30"}) from exc


# -- products ----------------------------------------------------------------------------------
@router.get("/products/{pid}", responses={200: {"model": ProductOut}}, tags=["products"])
async def get_product(request: Request, pid: int = PID) -> Response:
    svc = service_of(request)
    key = f"product:{pid}"
    sid = await reader_session(request, svc)
    body = await cached(svc, key, svc.settings.ttl_product_s, lambda: svc.repo.product_json(pid, sid, key),
                        l2_checked=request.scope.get("refservice.l2_checked", False))
    if body is None:
        raise Problem(404, "not-found", f"product {pid} does not exist")
    return json_response(body)


@router.get("/products", responses={200: {"model": ListingOut}}, tags=["products"])
async def list_products(request: Request, page: int = Query(1, ge=1, le=10_000),
                        size: int = Query(20, ge=1, le=100)) -> Response:
    svc = service_of(request)
    require_feature(svc, "listings")
    sid = await reader_session(request, svc)
    body = await cached(svc, f"listing:{page}:{size}", svc.settings.ttl_listing_s,
                        lambda: svc.repo.listing_json(page, size, sid, "listings"), group="listings")
    assert body is not None
    return json_response(body)


@router.post("/products/{pid}", status_code=201, responses={201: {"model": ProductOut}}, tags=["products"])
async def create_product(request: Request, body: ProductIn, pid: int = PID, who: Principal = USER) -> Response:
    svc = service_of(request)
    try:
        doc = await svc.repo.create_product(pid, body.model_dump())
    except Conflict as exc:
        raise Problem(409, "conflict", f"product {pid} already exists") from exc
    await svc.router.note_write(who.session_id, f"product:{pid}", "listings")
    await svc.cache.invalidate(f"product:{pid}")
    await svc.cache.invalidate_group("listings", "listing:")  # guide 2.2: new product → listings
    return json_response(dumps(doc), 201)


@router.put("/products/{pid}", responses={200: {"model": ProductOut}}, tags=["products"])
async def update_product(request: Request, body: ProductPatch, pid: int = PID,
                         who: Principal = USER) -> Response:
    svc = service_of(request)
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise Problem(422, "validation-error", "nothing to update")
    doc = await svc.repo.update_product(pid, fields)
    if doc is None:
        raise Problem(404, "not-found", f"product {pid} does not exist")
    await svc.router.note_write(who.session_id, f"product:{pid}")
    await svc.cache.invalidate(f"product:{pid}")  # guide 2.2: product update → that product
    return json_response(dumps(doc))


@router.delete("/products/{pid}", status_code=202, tags=["products"])
async def delete_product(request: Request, pid: int = PID, who: Principal = USER) -> Response:
    svc = service_of(request)
    event_id = await svc.repo.soft_delete(pid, who.username)
    if event_id is None:
        raise Problem(404, "not-found", f"product {pid} does not exist")
    await svc.router.note_write(who.session_id, f"product:{pid}", "listings")
    await svc.cache.invalidate(f"product:{pid}")
    await svc.cache.invalidate_group("listings", "listing:")
    return json_response(dumps({"id": pid, "deleted": True, "event_id": event_id}), 202)


@router.post("/webhooks/product-updated", status_code=204, tags=["products"])
async def product_updated_webhook(request: Request, body: WebhookIn, who: Principal = USER) -> Response:
    """The guide's 'product update webhook' trigger: drop the product from L2 and L1."""
    svc = service_of(request)
    await svc.cache.invalidate(f"product:{body.id}")
    return Response(status_code=204)


@router.get("/products/{pid}/recommendations", tags=["products"])
async def recommendations(request: Request, pid: int = PID) -> Response:
    svc = service_of(request)
    require_feature(svc, "recommendations")
    return json_response(dumps({"id": pid, "recommended": await svc.repo.recommendations(pid)}))


@router.get("/search", tags=["products"])
async def search(request: Request, q: str = Query(min_length=1, max_length=100),
                 limit: int = Query(20, ge=1, le=100)) -> Response:
    svc = service_of(request)
    require_feature(svc, "search")
    return json_response(dumps({"q": q, "ids": await svc.repo.search(q, limit)}))


# -- sessions ----------------------------------------------------------------------------------
@router.post("/sessions", status_code=201, response_model=SessionOut, tags=["sessions"])
async def login(request: Request, body: LoginIn) -> Response:
    svc = service_of(request)
    user = await svc.repo.user(body.username)
    if user is None or not verify_password(body.password, user[0]):
        raise Problem(401, "unauthorized", "unknown user or wrong password")
    session = await svc.repo.create_session(body.username, user[1], svc.settings.ttl_session_s)
    await svc.router.note_write(session["id"])
    token = svc.tokens.issue(body.username, user[1], session["id"], svc.settings.ttl_session_s)
    out = SessionOut(session_id=session["id"], token=token, expires_at=session["expires_at"])
    return json_response(out.model_dump_json().encode(), 201)


@router.get("/sessions/me", tags=["sessions"])
async def whoami(request: Request, who: Principal = USER) -> Response:
    """The caller's own session (a protected read: needs a valid token)."""
    return json_response(dumps({"username": who.username, "role": who.role, "session_id": who.session_id}))


@router.delete("/sessions/{sid}", status_code=204, tags=["sessions"])
async def logout(request: Request, sid: str = Path(min_length=1, max_length=100),
                 who: Principal = USER) -> Response:
    svc = service_of(request)
    if sid != who.session_id and who.role != "admin":
        raise Problem(403, "forbidden", "you may only end your own session")
    if not await svc.repo.delete_session(sid):
        raise Problem(404, "not-found", "no such session")
    await svc.cache.invalidate(f"session:{sid}")  # guide 2.2: explicit logout → session
    return Response(status_code=204)


# -- checkout ----------------------------------------------------------------------------------
@router.post("/checkout", status_code=201, tags=["checkout"])
async def checkout(request: Request, body: CheckoutIn, who: Principal = USER) -> Response:
    svc = service_of(request)
    require_feature(svc, "checkout")
    price = await svc.repo.price(body.product_id)
    if price is None:
        raise Problem(404, "not-found", f"product {body.product_id} does not exist")
    amount = price * body.quantity
    reference = f"{who.session_id[:8]}-{body.product_id}"
    try:
        receipt = await svc.breaker.call(lambda: svc.payment.charge(amount, reference))
    except BreakerOpen as exc:
        raise Problem(503, "circuit-open", "the payment service is unavailable (circuit open)",
                      headers={"Retry-After": str(max(1, int(exc.retry_after + 0.999)))},
                      breaker_state=exc.state) from exc
    except PaymentError as exc:
        raise Problem(502, "payment-failed", str(exc)) from exc
    order_id = await svc.repo.create_order(who.username, body.product_id, body.quantity, amount, "paid")
    return json_response(dumps({"order_id": order_id, "amount_cents": amount, "payment": receipt}), 201)
