"""Looks at a TLS endpoint from outside (guide 7.1): protocol, chain, expiry, HSTS, and mutual TLS.

Several short handshakes to ``host:port``, each bounded by the target's timeout:

- ``verified``: the default trust store (or ``ca_file``), hostname checked, no client certificate;
  its outcome is the chain verdict, and for an internal service whether the server refused a
  client without a certificate (TLS 1.3 servers refuse after the handshake, so the client
  waits briefly for the server's alert before calling the connection accepted);
- ``certificate``: verification off, only to read the leaf certificate the server presents
  (expired or self-signed ones included) and the protocol it negotiates;
- ``legacy``: offering nothing newer than TLS 1.1, to see whether the server still accepts it;
- ``client_cert``: with the configured client certificate, which an mTLS server must accept;
- ``hsts``: one HTTPS GET for the Strict-Transport-Security header.

Nothing is sent beyond the handshakes and that one GET; the client key is used, never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic import Field, ValidationError

from scaleready.api import CollectError, ConfigPath, Snapshot, Target, TargetOptions, collector

ALERT_WAIT_S = 0.5  # how long a client waits for a post-handshake refusal (TLS 1.3 client auth)


class TlsOptions(TargetOptions):
    """Keys of a ``tls`` target."""

    host: str
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = Field(None, description="SNI and the name to verify; default: host")
    ca_file: ConfigPath | None = None
    client_cert: ConfigPath | None = None
    client_key: ConfigPath | None = None
    internal: bool = Field(False, description="an internal service: mutual TLS is required")
    hsts: bool = Field(True, description="look for Strict-Transport-Security (public HTTPS services)")
    path: str = "/"
    expiry_days: int = Field(21, ge=1)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc.reason or exc)
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc.strerror or exc).replace("_", " ").lower()
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _handshake(opts: TlsOptions, context: ssl.SSLContext, timeout: float, wait_alert: bool) -> dict[str, Any]:
    """One handshake; with ``wait_alert`` the client also waits briefly for a refusal after it.

    ``handshake`` says the handshake completed (so the chain verified, when the context verifies);
    ``accepted`` that the server then kept the connection; ``verify_error`` that the chain failed.
    """
    name = opts.server_name or opts.host
    result: dict[str, Any] = {"handshake": False, "accepted": False, "reason": None, "verify_error": None,
                              "version": None, "cipher": None, "der": None}
    try:
        with socket.create_connection((opts.host, opts.port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            result.update(handshake=True, version=tls.version(), cipher=(tls.cipher() or (None,))[0],
                          der=tls.getpeercert(binary_form=True))
            if wait_alert:
                tls.settimeout(ALERT_WAIT_S)
                with contextlib.suppress(TimeoutError):  # no refusal: the server waits for our request
                    tls.recv(1)
            result["accepted"] = True
    except ssl.SSLCertVerificationError as exc:
        result["verify_error"] = result["reason"] = _reason(exc)
    except (OSError, ssl.SSLError) as exc:
        result["reason"] = _reason(exc)
    return result


def _chain(verified: dict[str, Any], with_cert: dict[str, Any] | None) -> dict[str, Any]:
    """The chain verdict: failed verification, a verified handshake (with or without our cert), or unknown."""
    if verified["verify_error"]:
        return {"ok": False, "reason": verified["verify_error"]}
    if verified["handshake"] or (with_cert and with_cert["handshake"]):
        return {"ok": True, "reason": None}
    return {"ok": None, "reason": verified["reason"]}


def _certificate(der: bytes | None, now: datetime) -> dict[str, Any] | None:
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in sans.get_values_for_type(x509.DNSName)] + \
                [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
        "self_signed": cert.issuer == cert.subject, "names": names,
        "not_before": cert.not_valid_before_utc.isoformat(), "not_after": not_after.isoformat(),
        "days_left": round((not_after - now).total_seconds() / 86400, 2),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def _contexts(opts: TlsOptions) -> dict[str, ssl.SSLContext]:
    try:
        verified = ssl.create_default_context(cafile=opts.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise CollectError(f"cannot load ca_file {opts.ca_file!r}: {_reason(exc)}") from None
    verified.minimum_version = ssl.TLSVersion.TLSv1_2
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.check_hostname = False
    legacy.verify_mode = ssl.CERT_NONE
    legacy.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with warnings.catch_warnings():  # deprecated on purpose: offering only old protocols is the test
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    with contextlib.suppress(ssl.SSLError):
        legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    contexts = {"verified": verified, "certificate": loose, "legacy": legacy}
    if opts.client_cert:
        with_cert = ssl.create_default_context(cafile=opts.ca_file)
        try:
            with_cert.load_cert_chain(opts.client_cert, opts.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise CollectError(f"cannot load client_cert {opts.client_cert!r}: {_reason(exc)}") from None
        contexts["client_cert"] = with_cert
    return contexts


def _legacy_result(result: dict[str, Any]) -> dict[str, Any]:
    """Whether TLS ≤ 1.1 was accepted; ``None`` when this machine's OpenSSL cannot even offer it."""
    reason = (result.get("reason") or "").lower()
    cannot_offer = "no protocols available" in reason or ("unsupported protocol" in reason and "alert" not in reason)
    accepted = True if result["handshake"] else (None if cannot_offer else False)
    return {"accepted": accepted, "version": result.get("version"), "reason": result.get("reason")}


async def _hsts(opts: TlsOptions, timeout: float) -> dict[str, Any]:
    host = opts.server_name or opts.host
    url = f"https://{opts.host}:{opts.port}{opts.path}"
    verify: Any = ssl.create_default_context(cafile=opts.ca_file)
    if opts.client_cert:
        verify.load_cert_chain(opts.client_cert, opts.client_key)
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, headers={"Host": host}) as client:
            response = await client.get(url)
    except (httpx.HTTPError, OSError) as exc:  # ssl.SSLError escapes httpx on a post-handshake refusal
        return {"checked": True, "header": None, "status": None, "reason": _reason(exc.__cause__ or exc)}
    return {"checked": True, "header": response.headers.get("strict-transport-security"),
            "status": response.status_code, "reason": None}


@collector("tls", options=TlsOptions)
async def collect(target: Target) -> Snapshot:
    """TLS handshakes from outside: protocol, chain, expiry, legacy protocols, mTLS, HSTS."""
    try:
        opts = TlsOptions.model_validate(dict(target.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid tls target option '{where}': {first.get('msg')}") from None
    if opts.client_key and not opts.client_cert:
        raise CollectError("invalid tls target option 'client_key': set client_cert too")
    contexts = _contexts(opts)
    per = max(1.0, min(10.0, float(target.timeout) / 4))
    started = time.monotonic()
    runs = {key: asyncio.to_thread(_handshake, opts, ctx, per, key in ("verified", "client_cert") and opts.internal)
            for key, ctx in contexts.items()}
    done = dict(zip(runs, await asyncio.gather(*runs.values()), strict=True))
    cert_run = done["certificate"]
    runs_seen = [r for r in (cert_run, done["verified"], done.get("client_cert")) if r and r["der"]]
    if not runs_seen:
        raise CollectError(f"no TLS handshake with {opts.host}:{opts.port}: {cert_run['reason']}")
    now = datetime.now(UTC)
    verified = done["verified"]
    data: dict[str, Any] = {
        "endpoint": {"host": opts.host, "port": opts.port, "server_name": opts.server_name or opts.host,
                     "internal": opts.internal, "handshake_ms": round((time.monotonic() - started) * 1000, 1)},
        "certificate": _certificate(runs_seen[0]["der"], now),
        "negotiated": {"version": runs_seen[0]["version"], "cipher": runs_seen[0]["cipher"]},
        "chain": _chain(verified, done.get("client_cert")),
        "without_client_cert": {"accepted": verified["accepted"], "reason": verified["reason"]},
        "legacy": _legacy_result(done["legacy"]),
        "client_cert": ({"configured": True, "accepted": done["client_cert"]["accepted"],
                         "reason": done["client_cert"]["reason"]} if "client_cert" in done else {"configured": False}),
        "hsts": await _hsts(opts, per) if opts.hsts else {"checked": False},
    }
    return Snapshot(target=target.name, kind=target.kind, data=data)
