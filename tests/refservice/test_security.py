"""Rate limit (429 + Retry-After at the limit), JWT refusal cases, parameterised SQL."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.refservice.support import SECRET, asgi_client, create_app, login, metric, settings


def test_rate_limit_429_at_the_limit_per_ip(server_factory) -> None:
    app = create_app(settings(rate_limit="1000/minute", trust_forwarded_for=True), seed=5)
    srv = server_factory(app)
    with httpx.Client(base_url=srv.url) as c:
        ok = [c.get("/products/1", headers={"X-Forwarded-For": "203.0.113.9"}).status_code for _ in range(1000)]
        assert ok == [200] * 1000
        r = c.get("/products/1", headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["status"] == 429
        # another address has its own budget; health and metrics are never limited
        assert c.get("/products/1", headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 200
        assert c.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
        assert metric(c.get("/metrics").text, "rate_limited_total") == 1


def test_rate_limit_uses_the_peer_address_by_default(backend) -> None:
    app = create_app(settings(rate_limit="5/minute", **backend), seed=3)

    async def go() -> None:
        async with asgi_client(app, client_ip="198.51.100.7") as c:
            codes = [(await c.get("/products/1", headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
                     for i in range(7)]
            assert codes == [200] * 5 + [429] * 2  # a spoofed X-Forwarded-For does not buy a new budget

    asyncio.run(go())


def _b64(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def test_jwt_refusals(backend) -> None:
    app = create_app(settings(**backend), seed=5)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            good = await login(c)
            token = good["Authorization"].split()[1]
            claims = svc.tokens.verify(token)

            async def put(tok: str | None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tok}"} if tok is not None else {}
                return await c.put("/products/1", json={"stock": 9}, headers=headers)

            assert (await put(token)).status_code == 200
            me = await c.get("/sessions/me", headers=good)
            assert me.status_code == 200 and me.json()["username"] == "admin"
            assert (await c.get("/sessions/me")).status_code == 401
            # no token at all
            r = await put(None)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.headers["content-type"] == "application/problem+json"
            # tampered payload, original signature
            head, _, sig = token.split(".")
            tampered = ".".join([head, _b64({**claims, "role": "admin", "sub": "mallory"}), sig])
            r = await put(tampered)
            assert r.status_code == 401 and "signature" in r.json()["detail"]
            # unsigned (alg none)
            unsigned = ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64(claims), ""])
            assert (await put(unsigned)).status_code == 401
            # signed with another key
            forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
            assert (await put(forged)).status_code == 401
            # expired (correct key)
            expired = jwt.encode({**claims, "iat": int(time.time()) - 100, "exp": int(time.time()) - 10},
                                 SECRET, algorithm="HS256")
            r = await put(expired)
            assert r.status_code == 401 and r.json()["detail"] == "token expired"
            # another algorithm with the right secret is refused (algorithm pinning)
            other_alg = jwt.encode(claims, SECRET, algorithm="HS512")
            r = await put(other_alg)
            assert r.status_code == 401 and "algorithm" in r.json()["detail"]
            # the token is judged before the body: no 422 that would reveal the schema to a forger
            for tok in (None, unsigned, tampered, expired):
                headers = {"Authorization": f"Bearer {tok}"} if tok else {}
                r = await c.put("/products/1", headers=headers)
                assert r.status_code == 401, (tok, r.text)
            assert (await c.put("/products/1", headers=good)).status_code == 422  # valid token, no body
            # missing required claims
            assert (await put(jwt.encode({"sub": "admin"}, SECRET, algorithm="HS256"))).status_code == 401
            # a non-admin may not use admin endpoints
            demo = await login(c, "demo", "demo")
            assert (await c.get("/admin/switches", headers=demo)).status_code == 403
            # wrong password
            r = await c.post("/sessions", json={"username": "admin", "password": "nope"})
            assert r.status_code == 401

    asyncio.run(go())


def test_rs256_refuses_key_confusion() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    app = create_app(settings(jwt_algorithm="RS256", jwt_private_key=private, jwt_public_key=public), seed=3)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            good = await login(c)
            token = good["Authorization"].split()[1]
            claims = svc.tokens.verify(token)
            assert (await c.put("/products/1", json={"stock": 2}, headers=good)).status_code == 200
            # classic confusion attack: HS256 signed with the public key as the HMAC secret
            head = _b64({"alg": "HS256", "typ": "JWT"})
            body = _b64(claims)
            import hashlib
            import hmac

            sig = base64.urlsafe_b64encode(hmac.new(public.encode(), f"{head}.{body}".encode(),
                                                    hashlib.sha256).digest()).rstrip(b"=").decode()
            confused = f"{head}.{body}.{sig}"
            r = await c.put("/products/1", json={"stock": 3}, headers={"Authorization": f"Bearer {confused}"})
            assert r.status_code == 401

    asyncio.run(go())


def test_sql_injection_attempts_are_plain_data(backend) -> None:
    app = create_app(settings(**backend), seed=20)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            r = await c.get("/search", params={"q": "' OR '1'='1"})
            assert r.status_code == 200 and r.json()["ids"] == []
            r = await c.get("/search", params={"q": "x'; DROP TABLE products; --"})
            assert r.status_code == 200
            r = await c.get("/products/1 OR 1=1")
            assert r.status_code == 422  # typed path parameter
            name = "Robert'); DROP TABLE products;--"
            r = await c.put("/products/2", json={"name": name}, headers=headers)
            assert r.status_code == 200
            assert (await c.get("/products/2")).json()["name"] == name
            row = await svc.primary.fetchone("SELECT COUNT(*) FROM products")
            assert row[0] == 20
            ids = (await c.get("/search", params={"q": "robert'); drop"})).json()["ids"]
            assert ids == [2]

    asyncio.run(go())
