"""A small real API for the http checks, served by uvicorn in a thread on a free loopback port.

`Behaviour` switches each defence on or off, so one app implements both the right and the
wrong behaviour the checks must tell apart: a per-IP fixed-window rate limit with
Retry-After, RS256 JWT verification (optionally skipping the signature, the expiry, or
accepting HS256 signed with the public key: key confusion), parameterised or string-built
SQL (SQLite), problem+json errors, security headers and Prometheus metrics.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
PUBLIC_PEM = _KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def valid_token(ttl: int = 600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + ttl}, PRIVATE_PEM, algorithm="RS256")


@dataclass
class Behaviour:
    rate_limit: int | None = 40  # requests per window per IP; None = no limiting
    window_s: float = 60.0
    retry_after: bool = True
    verify_signature: bool = True
    verify_exp: bool = True
    key_confusion: bool = False  # also accept HS256 signed with the public key
    parameterised_sql: bool = True
    problem_json: bool = True
    security_headers: bool = True
    hsts: bool = True  # sent over HTTPS only
    full_metrics: bool = True
    delay_s: float = 0.0  # added to GET /
    protected_hits: list[str] = field(default_factory=list)


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verify(token: str, b: Behaviour) -> bool:
    try:
        header = json.loads(_b64d(token.split(".")[0]))
        if b.key_confusion and header.get("alg") == "HS256":
            signing_input, _, sig = token.rpartition(".")
            expected = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
            return hmac.compare_digest(expected, _b64d(sig))
        if not b.verify_signature:
            jwt.decode(token, options={"verify_signature": False, "verify_exp": b.verify_exp},
                       algorithms=["RS256", "HS256", "none"])
            return True
        jwt.decode(token, PUBLIC_PEM, algorithms=["RS256"], options={"verify_exp": b.verify_exp})
        return True
    except (jwt.PyJWTError, ValueError, IndexError):
        return False


def make_app(b: Behaviour) -> FastAPI:
    app = FastAPI()
    registry = CollectorRegistry()
    labels = ["method", "status"] if b.full_metrics else ["method"]
    requests = Counter("http_requests_total", "Requests", labels, registry=registry)
    duration = Histogram("http_request_duration_seconds", "Latency", ["method"], registry=registry)
    windows: dict[str, tuple[float, int]] = {}
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("create table products (id integer primary key, name text)")
    db.executemany("insert into products (name) values (?)", [(f"product {i}",) for i in range(200)])
    lock = threading.Lock()

    @app.middleware("http")
    async def edge(request: Request, call_next):
        ip = request.client.host if request.client else "?"
        if b.rate_limit is not None:
            now = time.monotonic()
            start, count = windows.get(ip, (now, 0))
            if now - start >= b.window_s:
                start, count = now, 0
            count += 1
            windows[ip] = (start, count)
            if count > b.rate_limit:
                headers = {"Retry-After": str(max(1, int(b.window_s - (now - start))))} if b.retry_after else {}
                return JSONResponse({"type": "about:blank", "title": "Too Many Requests", "status": 429},
                                    status_code=429, headers=headers, media_type="application/problem+json")
        started = time.perf_counter()
        response = await call_next(request)
        duration.labels(request.method).observe(time.perf_counter() - started)
        if b.full_metrics:
            requests.labels(request.method, str(response.status_code)).inc()
        else:
            requests.labels(request.method).inc()
        if b.security_headers:
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        else:
            response.headers["X-Powered-By"] = "Express 4.17.1"
        if b.hsts and request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def problems(request: Request, exc: StarletteHTTPException):
        if b.problem_json:
            return JSONResponse({"type": "about:blank", "title": str(exc.detail), "status": exc.status_code},
                                status_code=exc.status_code, media_type="application/problem+json")
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/")
    async def root():
        if b.delay_s:
            time.sleep(b.delay_s)  # blocking on purpose: a slow handler
        return {"hello": "world"}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

    @app.get("/.well-known/jwks.json")
    async def jwks():
        return {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_KEY.public_key())), "kid": "k1",
                          "use": "sig", "alg": "RS256"}]}

    @app.get("/me")
    async def me(request: Request):
        auth = request.headers.get("authorization", "")
        b.protected_hits.append(auth[:16])
        if not auth.startswith("Bearer ") or not _verify(auth[7:], b):
            return JSONResponse({"type": "about:blank", "title": "Unauthorized", "status": 401}, status_code=401,
                                media_type="application/problem+json")
        return {"user": "alice"}

    @app.get("/products")
    async def products(q: str = ""):
        with lock:
            if b.parameterised_sql:
                rows = db.execute("select id, name from products where name = ?", (q,)).fetchall()
            else:
                try:
                    rows = db.execute(f"select id, name from products where name = '{q}'").fetchall()
                except sqlite3.Error as exc:
                    return Response(f"sqlite3.OperationalError: {exc}", status_code=500)
        return {"items": [{"id": r[0], "name": r[1]} for r in rows]}

    return app


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, written as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def serve(b: Behaviour, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve the app on 127.0.0.1:<free port> (HTTPS with ``tls`` = (cert, key)); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn does not set TCP_NODELAY on a socket it is handed; without it Nagle + delayed ACK add ~40 ms to
    # every keep-alive response (accepted sockets inherit the option on Linux).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ssl_files = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    server = uvicorn.Server(uvicorn.Config(make_app(b), log_level="warning", access_log=False, lifespan="off",
                                           **ssl_files))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("test server did not start")
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
