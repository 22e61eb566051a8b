"""Reads an HTTP API into a snapshot: read-only observations, and active probes when allowed.

Read-only (always): the health endpoint, sequential latency samples of one GET endpoint, the
answer to a path that cannot exist (for problem+json, guide 8), the /metrics exposition
(guide 6.1 signal families) and the response headers. Active (only with ``active: true`` on
the target, guide 7.1): forged JWTs against a protected endpoint, SQL-injection payloads in a
query parameter (non-destructive: no statement in them writes) and, last because it exhausts
the limiter, a bounded burst to find where 429 starts.

Every probe is bounded in count and by a deadline inside the target's timeout, so a slow
service yields a partial snapshot, not a cancelled one. Configured headers (tokens) and the
valid JWT are used for requests only: the snapshot keeps status codes, timings and selected
response headers, never what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import ssl
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from scaleready.api import CollectError, Snapshot, Target, TargetOptions, collector
from scaleready.faults import describe_failure

BODY_SNIPPET = 300
MAX_FAMILIES = 400
BURST_CONCURRENCY = 16
LATENCY_SHARE = 0.4  # of the target's time budget; the rest is for the other probes
SECURITY_HEADERS = ("strict-transport-security", "x-content-type-options", "x-frame-options",
                    "content-security-policy", "referrer-policy", "cache-control", "server", "x-powered-by")
# Non-destructive payloads: quoting breakers, tautologies and a UNION probe; none writes.
SQLI_PAYLOADS = ("'", '"', "' OR '1'='1", "' OR 1=1 --", "1' UNION SELECT NULL --", "1) OR (1=1", "\\")
BENIGN_VALUE = "scaleready"
DB_ERRORS = re.compile(
    r"syntax error at or near|unterminated quoted string|SQLSTATE|psycopg|pg_query|PG::SyntaxError|"
    r"You have an error in your SQL syntax|mysql_fetch|MySQLSyntaxErrorException|ORA-\d{5}|"
    r"sqlite3?\.OperationalError|SQLITE_ERROR|near \"[^\"]*\": syntax error|unrecognized token|"
    r"Unclosed quotation mark|quoted string not properly terminated|SQLException|ODBC Driver|"
    r"SequelizeDatabaseError|QueryFailedError|org\.hibernate",
    re.IGNORECASE,
)


class RateLimitOptions(BaseModel):
    """The limit the service should enforce (guide 7.1: 1000 requests per minute per IP)."""

    model_config = ConfigDict(extra="forbid")
    requests: int = Field(1000, ge=1)
    per_seconds: float = Field(60, gt=0)
    burst_max: int = Field(1200, ge=1, le=20000)


class HttpOptions(TargetOptions):
    """Keys of an ``http`` target."""

    url: str
    health_path: str = "/healthz"
    metrics_path: str | None = "/metrics"
    probe_path: str = "/"
    not_found_path: str | None = Field(None, description="a path that must 404; default: a random one")
    protected_path: str | None = None
    protected_method: str = "GET"
    query_path: str | None = None
    query_param: str = "q"
    headers: dict[str, str] = Field(default_factory=dict)
    samples: int = Field(20, ge=1, le=1000)
    verify_tls: bool | str = True
    rate_limit: RateLimitOptions = Field(default_factory=RateLimitOptions)
    jwt_token: str | None = Field(None, description="a valid token: baseline, and the claims to forge from")
    jwt_signing_key: str | None = Field(None, description="the issuer's key, to mint a truly expired token")
    jwt_algorithm: str = "HS256"
    jwt_public_key: str | None = Field(None, description="PEM public key for the key-confusion probe")
    jwks_path: str | None = Field("/.well-known/jwks.json", description="where to find the public key otherwise")


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment: safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _reason(exc: BaseException) -> str:
    """The real cause of a failed exchange (reset, TLS, garbage...), bounded; see scaleready.faults."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return describe_failure(exc, "HTTP")


def _body(response: httpx.Response) -> Any:
    """JSON when the body is JSON, otherwise the first characters of its text."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:BODY_SNIPPET]


def _ms(response: httpx.Response) -> float:
    return round(response.elapsed.total_seconds() * 1000, 3)


class _Budget:
    """A deadline inside the target's timeout, leaving room to hand the snapshot back."""

    def __init__(self, timeout: float) -> None:
        self.total = max(1.0, timeout * 0.85 - 0.5)
        self.end = time.monotonic() + self.total

    @property
    def left(self) -> float:
        return self.end - time.monotonic()

    def share(self, fraction: float) -> float:
        """A phase's own deadline: at most ``fraction`` of the whole budget, within what is left."""
        return min(self.end, time.monotonic() + self.total * fraction)


async def _health(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    try:
        r = await client.get(opts.health_path)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise CollectError(f"cannot reach {public_url(opts.url)}: {_reason(exc)}") from None
    return {"path": opts.health_path, "status": r.status_code, "elapsed_ms": _ms(r),
            "content_type": r.headers.get("content-type"), "body": _body(r)}


async def _latency(client: httpx.AsyncClient, opts: HttpOptions, budget: _Budget) -> dict[str, Any]:
    samples, statuses, failures = [], [], []
    phase_end = budget.share(LATENCY_SHARE)
    for _ in range(opts.samples):
        remaining = phase_end - time.monotonic()
        if remaining <= 0.05:
            break
        started = time.perf_counter()
        try:
            r = await client.get(opts.probe_path, timeout=min(remaining, client.timeout.read or remaining))
        except httpx.TimeoutException as exc:
            if time.monotonic() >= phase_end - 0.05:
                break  # the phase's time is up: an unfinished sample is no sample
            failures.append(_reason(exc))
            continue
        except httpx.TransportError as exc:
            failures.append(_reason(exc))
            continue
        samples.append(round((time.perf_counter() - started) * 1000, 3))
        statuses.append(r.status_code)
    return {"path": opts.probe_path, "requested": opts.samples, "samples_ms": samples, "statuses": statuses,
            "failures": failures[:5], "failed": len(failures),
            "cut_short": len(samples) + len(failures) < opts.samples}


async def _not_found(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    path = opts.not_found_path or f"/scaleready-probe-{secrets.token_hex(6)}"
    r = await client.get(path)
    return {"path": path, "status": r.status_code, "content_type": r.headers.get("content-type"),
            "body": _body(r)}


async def _metrics(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    if not opts.metrics_path:
        return {"configured": False}
    r = await client.get(opts.metrics_path)
    section: dict[str, Any] = {"configured": True, "path": opts.metrics_path, "status": r.status_code,
                               "content_type": r.headers.get("content-type")}
    if r.status_code != 200:
        return section
    families: dict[str, dict[str, Any]] = {}
    try:
        for fam in text_string_to_metric_families(r.text):
            if len(families) >= MAX_FAMILIES:
                break
            labels = sorted({k for s in fam.samples for k in s.labels if k not in ("le", "quantile")})
            names = sorted({s.name for s in fam.samples})
            families[fam.name] = {"type": fam.type, "samples": names, "labels": labels}
    except ValueError as exc:
        section["parse_error"] = _reason(exc)
    section["families"] = families
    return section


async def _headers(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    response = await client.get(opts.probe_path)
    return {"url": public_url(str(response.url)), "scheme": response.url.scheme,
            "headers": {h: response.headers[h] for h in SECURITY_HEADERS if h in response.headers}}


# ---- JWT forging (active) -------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _claims(opts: HttpOptions) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "scaleready-probe", "iat": now, "exp": now + 300}
    if opts.jwt_token and opts.jwt_token.count(".") == 2:
        try:
            payload = opts.jwt_token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            pass
    return claims


def _hs256(claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_json_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_json_b64(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def jwk_to_pem(jwks: Any) -> str | None:
    """The PEM of the first RSA key of a JWKS document, None when it has none."""
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm

    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    for key in keys or []:
        if isinstance(key, dict) and key.get("kty") == "RSA":
            public = RSAAlgorithm.from_jwk(json.dumps(key))
            public = public.public_key() if hasattr(public, "private_numbers") else public
            return public.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return None


async def _public_key(client: httpx.AsyncClient, opts: HttpOptions) -> tuple[str | None, str]:
    """The service's public key (configured, else from its JWKS) and where it came from."""
    if opts.jwt_public_key:
        return opts.jwt_public_key, "jwt_public_key"
    if not opts.jwks_path:
        return None, "not probed: no jwt_public_key and jwks_path is off"
    try:
        r = await client.get(opts.jwks_path)
        pem = jwk_to_pem(r.json()) if r.status_code == 200 else None
    except (httpx.TransportError, ValueError):
        pem = None
    if pem is None:
        return None, f"not probed: no jwt_public_key and no RSA key at {opts.jwks_path}"
    return pem, f"the RSA key published at {opts.jwks_path}"


def forged_tokens(opts: HttpOptions, public_key: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The tokens a verifying service must refuse, and notes on how each was made."""
    import jwt

    claims = _claims(opts)
    notes: dict[str, str] = {}
    tokens = {"alg_none": f"{_json_b64({'alg': 'none', 'typ': 'JWT'})}.{_json_b64(claims)}."}
    if opts.jwt_token and opts.jwt_token.count(".") == 2:
        head, body, sig = opts.jwt_token.split(".")
        flipped = ("A" if sig[:1] != "A" else "B") + sig[1:]
        tokens["bad_signature"] = f"{head}.{body}.{flipped}"
        notes["bad_signature"] = "the valid token with its signature altered"
    else:
        tokens["bad_signature"] = _hs256(claims, secrets.token_bytes(32))
        notes["bad_signature"] = "signed with a random key (no jwt_token given)"
    expired = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    if opts.jwt_signing_key:
        tokens["expired"] = jwt.encode(expired, opts.jwt_signing_key, algorithm=opts.jwt_algorithm)
        notes["expired"] = "correctly signed, expired an hour ago"
    else:
        tokens["expired"] = _hs256(expired, secrets.token_bytes(32))
        notes["expired"] = "expired, signed with a random key (no jwt_signing_key given)"
    if public_key:
        tokens["key_confusion"] = _hs256(claims, public_key.encode())
        notes["key_confusion"] = "HS256 signed with the service's public key"
    return tokens, notes


async def _jwt(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    if not opts.protected_path:
        return {"configured": False}
    public_key, source = await _public_key(client, opts)
    tokens, notes = forged_tokens(opts, public_key)
    if public_key is None:
        notes["key_confusion"] = source
    else:
        notes["key_confusion"] += f" ({source})"
    base = {k: v for k, v in opts.headers.items() if k.lower() != "authorization"}

    async def call(token: str | None) -> int | str:
        headers = dict(base)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            r = await client.request(opts.protected_method, opts.protected_path, headers=headers)
        except httpx.TransportError as exc:
            return _reason(exc)
        return r.status_code

    section: dict[str, Any] = {"configured": True, "path": opts.protected_path, "method": opts.protected_method,
                               "missing": await call(None), "probes": {}, "notes": notes}
    for name, token in tokens.items():
        section["probes"][name] = await call(token)
    section["valid"] = await call(opts.jwt_token) if opts.jwt_token else None
    return section


async def _sql_injection(client: httpx.AsyncClient, opts: HttpOptions) -> dict[str, Any]:
    if not opts.query_path:
        return {"configured": False}

    async def call(value: str) -> dict[str, Any]:
        try:
            r = await client.get(opts.query_path, params={opts.query_param: value})
        except httpx.TransportError as exc:
            return {"payload": value, "status": None, "failure": _reason(exc)}
        match = DB_ERRORS.search(r.text)
        return {"payload": value, "status": r.status_code, "length": len(r.content),
                "db_error": match.group(0) if match else None}

    return {"configured": True, "path": opts.query_path, "param": opts.query_param,
            "baseline": await call(BENIGN_VALUE), "probes": [await call(p) for p in SQLI_PAYLOADS]}


async def _burst(client: httpx.AsyncClient, opts: HttpOptions, budget: _Budget) -> dict[str, Any]:
    """Send up to burst_max requests quickly; stop at the first 429 (or the deadline)."""
    limit = opts.rate_limit
    state: dict[str, Any] = {"sent": 0, "accepted": 0, "first_429_after": None, "retry_after": None,
                             "ratelimit_headers": {}, "statuses": {}, "failures": 0}
    stop = asyncio.Event()
    started = time.perf_counter()

    async def worker() -> None:
        while not stop.is_set() and state["sent"] < limit.burst_max and budget.left > 0:
            state["sent"] += 1
            try:
                r = await client.get(opts.probe_path)
            except httpx.TransportError:
                state["failures"] += 1
                if state["failures"] >= 20:
                    stop.set()
                continue
            key = str(r.status_code)
            state["statuses"][key] = state["statuses"].get(key, 0) + 1
            if r.status_code == 429:
                if state["first_429_after"] is None:
                    state["first_429_after"] = state["accepted"]
                    state["retry_after"] = r.headers.get("retry-after")
                    state["ratelimit_headers"] = {k: v for k, v in r.headers.items()
                                                  if k.lower().startswith(("ratelimit", "x-ratelimit"))}
                stop.set()
            else:
                state["accepted"] += 1

    workers = [asyncio.ensure_future(worker()) for _ in range(min(BURST_CONCURRENCY, limit.burst_max))]
    _, late = await asyncio.wait(workers, timeout=max(0.1, budget.left - 0.3))
    for task in late:  # requests still in flight at the deadline are abandoned, not waited for
        task.cancel()
    state["elapsed_s"] = round(time.perf_counter() - started, 3)
    state["stopped_by"] = ("429" if state["first_429_after"] is not None else
                           "deadline" if late or budget.left <= 0 else
                           "failures" if state["failures"] >= 20 else "burst_max")
    state["limit"] = limit.model_dump()
    state["path"] = opts.probe_path
    return state


async def _section(snapshot: Snapshot, name: str, probe: Any, budget: _Budget) -> None:
    """Run one probe within what is left of the budget; a failure is recorded for its section only."""
    if budget.left <= 0:
        probe.close()
        snapshot.errors[name] = "not probed: the target's timeout was used up by earlier probes"
        return
    try:
        snapshot.data[name] = await asyncio.wait_for(probe, timeout=budget.left)
    except CollectError:
        raise
    except TimeoutError:
        snapshot.errors[name] = "not finished within the target's timeout"
    except Exception as exc:  # one broken probe must not hide the others
        snapshot.errors[name] = _reason(exc)


def _tls(verify: bool | str) -> bool | ssl.SSLContext:
    """``verify_tls``: true/false, or the path of a CA bundle to trust (e.g. an internal CA)."""
    if isinstance(verify, bool):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise CollectError(f"verify_tls: cannot load CA file {verify!r}: {exc}") from None


@collector("http", options=HttpOptions)
async def collect(target: Target) -> Snapshot:
    """Observe an HTTP API (read-only), plus JWT/SQL-injection/rate-limit probes when active."""
    try:
        opts = HttpOptions.model_validate(dict(target.options))
    except ValueError as exc:
        raise CollectError(f"invalid http target options: {' '.join(str(exc).split())}") from None
    if urlsplit(opts.url).scheme not in ("http", "https"):
        raise CollectError(f"url must start with http:// or https://, got {public_url(opts.url)!r}")
    budget = _Budget(target.timeout)
    snapshot = Snapshot(target=target.name, kind="http")
    snapshot.data["target"] = {"url": public_url(opts.url), "active": target.active, "samples": opts.samples,
                               "rate_limit": opts.rate_limit.model_dump()}
    timeout = httpx.Timeout(min(10.0, max(1.0, target.timeout / 3)))
    limits = httpx.Limits(max_connections=BURST_CONCURRENCY, max_keepalive_connections=BURST_CONCURRENCY)
    async with httpx.AsyncClient(base_url=opts.url, headers=opts.headers, verify=_tls(opts.verify_tls),
                                 timeout=timeout, limits=limits, follow_redirects=False,
                                 trust_env=False) as client:
        await _section(snapshot, "health", _health(client, opts), budget)
        await _section(snapshot, "latency", _latency(client, opts, budget), budget)
        await _section(snapshot, "not_found", _not_found(client, opts), budget)
        await _section(snapshot, "metrics", _metrics(client, opts), budget)
        await _section(snapshot, "headers", _headers(client, opts), budget)
        if target.active:
            await _section(snapshot, "jwt", _jwt(client, opts), budget)
            await _section(snapshot, "sql_injection", _sql_injection(client, opts), budget)
            await _section(snapshot, "rate_limit", _burst(client, opts, budget), budget)
    return snapshot
