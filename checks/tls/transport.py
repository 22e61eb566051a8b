"""Transport security from outside (guide 7.1): TLS ≥ 1.2, a valid chain, no near expiry, HSTS, mTLS.

Pure over the ``tls`` collector's snapshot. The guide asks for mutual TLS between services; an
endpoint marked ``internal`` must refuse a client without a certificate and accept the one
configured, which is proven by the two handshakes, not read from mesh configuration.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from checks.tls.collector import TlsOptions, collect
from scaleready.api import Outcome, Severity, Snapshot, Target, check, errored, failed, passed, skipped, warned

__all__ = ["collect"]

KIND = "tls"
ITEMS = ["security.mtls"]
MODERN = ("TLSv1.2", "TLSv1.3")
HSTS_MIN_AGE = 15_552_000  # 180 days, the common floor (HSTS preload asks for a year)
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)


def _opts(target: Target) -> TlsOptions:
    return TlsOptions.model_validate(dict(target.options)) if target.options else TlsOptions(host="?")


@check("tls.version", kind=KIND, title="TLS 1.2 or newer only", severity=Severity.DANGER, items=ITEMS,
       section="7.1", remediation="Allow TLS 1.2 and 1.3 only (ssl_protocols TLSv1.2 TLSv1.3 or the load "
                                  "balancer's modern policy).")
def tls_version(snapshot: Snapshot, target: Target) -> Outcome:
    """The negotiated protocol is TLS 1.2+, and a client offering at most TLS 1.1 is refused."""
    negotiated = snapshot.section("negotiated").get("version")
    legacy = snapshot.section("legacy")
    evidence = {"negotiated": negotiated, "legacy_accepted": legacy.get("accepted"),
                "legacy_reason": legacy.get("reason")}
    if negotiated not in MODERN:
        return failed(f"the server negotiated {negotiated or 'no protocol'}", pointer="/negotiated",
                      evidence=evidence)
    if legacy.get("accepted"):
        return failed(f"negotiates {negotiated} but also accepts {legacy.get('version')} from an old client",
                      pointer="/legacy", evidence=evidence)
    if legacy.get("accepted") is None:
        return passed(f"negotiates {negotiated}; whether TLS ≤ 1.1 is refused could not be tried (this "
                      f"machine's OpenSSL cannot offer it: {legacy.get('reason')})", pointer="/legacy",
                      evidence=evidence)
    return passed(f"negotiates {negotiated} and refuses TLS ≤ 1.1", pointer="/negotiated", evidence=evidence)


@check("tls.chain", kind=KIND, title="The certificate chain verifies for the name", severity=Severity.DANGER,
       items=ITEMS, section="7.1",
       remediation="Serve a certificate from a trusted CA (or your internal CA, given as ca_file) covering the "
                   "service's name, with the full intermediate chain.")
def tls_chain(snapshot: Snapshot, target: Target) -> Outcome:
    """The chain verifies against the trust store (or ``ca_file``) and matches the server name."""
    chain = snapshot.section("chain")
    cert = snapshot.data.get("certificate") or {}
    evidence = {"subject": cert.get("subject"), "issuer": cert.get("issuer"), "self_signed": cert.get("self_signed"),
                "names": cert.get("names")}
    if chain.get("ok") is None:
        return errored(f"the chain could not be verified: {chain.get('reason')}", pointer="/chain",
                       evidence=evidence)
    if not chain["ok"]:
        kind = " (self-signed)" if cert.get("self_signed") else ""
        return failed(f"certificate verification failed{kind}: {chain.get('reason')}", pointer="/chain",
                      evidence=evidence)
    return passed(f"the chain verifies ({cert.get('issuer')})", pointer="/chain", evidence=evidence)


@check("tls.expiry", kind=KIND, title="The certificate is valid for at least 21 more days",
       severity=Severity.DANGER, items=ITEMS, section="7.1",
       remediation="Renew the certificate and automate renewal (cert-manager, ACME) well before expiry.")
def tls_expiry(snapshot: Snapshot, target: Target) -> Outcome:
    """Days left on the leaf certificate against ``expiry_days`` (21), recomputed at evaluation time."""
    cert = snapshot.section("certificate")
    if not cert:
        return errored("the server presented no certificate", pointer="/certificate")
    limit = _opts(target).expiry_days if target.options else 21
    not_after = datetime.fromisoformat(cert["not_after"])
    left = (not_after - snapshot.collected_at.astimezone(UTC)).total_seconds() / 86400
    evidence = {"not_after": cert["not_after"], "days_left": round(left, 1), "limit_days": limit}
    if left < 0:
        return failed(f"the certificate expired on {not_after:%Y-%m-%d}", pointer="/certificate/not_after",
                      evidence=evidence)
    if left < limit:
        return failed(f"the certificate expires in {left:.0f} days ({not_after:%Y-%m-%d}), within {limit}",
                      pointer="/certificate/not_after", evidence=evidence)
    return passed(f"the certificate is valid for {left:.0f} more days ({not_after:%Y-%m-%d})",
                  pointer="/certificate/not_after", evidence=evidence)


@check("tls.hsts", kind=KIND, title="HTTPS responses carry HSTS", severity=Severity.WARNING, items=ITEMS,
       section="7.1", remediation="Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every "
                                  "HTTPS response.")
def tls_hsts(snapshot: Snapshot, target: Target) -> Outcome:
    """A Strict-Transport-Security header with max-age of 180 days or more."""
    hsts = snapshot.section("hsts")
    if not hsts.get("checked"):
        return skipped("HSTS not looked for (hsts: false on this target)")
    if hsts.get("reason"):
        return errored(f"the HTTPS request failed: {hsts['reason']}", pointer="/hsts")
    header = hsts.get("header")
    if not header:
        return failed(f"no Strict-Transport-Security header (HTTP {hsts.get('status')})", pointer="/hsts")
    match = _MAX_AGE.search(header)
    age = int(match.group(1)) if match else 0
    if age < HSTS_MIN_AGE:
        return warned(f"HSTS max-age is {age} s, under 180 days", pointer="/hsts", header=header)
    return passed(f"HSTS: {header}", pointer="/hsts", header=header)


@check("tls.mtls", kind=KIND, title="An internal service requires a client certificate (mTLS)",
       severity=Severity.DANGER, items=ITEMS, section="7.1",
       remediation="Require client certificates (ssl_verify_client on, or the mesh's STRICT mTLS) and give each "
                   "caller a certificate from the internal CA; configure client_cert/client_key here to prove it.")
def tls_mtls(snapshot: Snapshot, target: Target) -> Outcome:
    """Without a certificate the handshake is refused; with the configured one it succeeds."""
    endpoint = snapshot.section("endpoint")
    if not endpoint.get("internal"):
        return skipped("not an internal service (set internal: true to require mutual TLS)")
    without = snapshot.section("without_client_cert")
    with_cert = snapshot.section("client_cert")
    evidence = {"without_cert": without, "with_cert": with_cert}
    chain = snapshot.data.get("chain") or {}
    if chain.get("ok") is False and without.get("reason") == chain.get("reason"):
        return errored(f"cannot tell whether a client certificate is required: the chain failed first "
                       f"({chain.get('reason')}); set ca_file to the internal CA", evidence=evidence)
    if without.get("accepted"):
        return failed("the server accepted a client without a certificate", pointer="/without_client_cert",
                      evidence=evidence)
    if not with_cert.get("configured"):
        return errored(f"a client without a certificate was refused ({without.get('reason')}), but no client_cert "
                       "is configured to prove the right one is accepted", evidence=evidence)
    if not with_cert.get("accepted"):
        return failed(f"the configured client certificate was refused: {with_cert.get('reason')}",
                      pointer="/client_cert", evidence=evidence)
    return passed(f"refuses clients without a certificate ({without.get('reason')}) and accepts the configured one",
                  pointer="/client_cert", evidence=evidence)
