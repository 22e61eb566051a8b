"""Built-in http checks: an API's health, latency, error format, metrics, headers and defences.

Registered through the ``scaleready.checks`` entry point. Pure over the snapshot the
collector in ``checks.http.collector`` takes. The active checks (rate limit, JWT, SQL
injection; guide 7.1) read probes that only run with ``active: true`` on the target;
without it they are ``skip`` with the reason, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from checks.http.collector import collect
from scaleready.api import Outcome, Snapshot, Target, check, failed, passed, skipped, warned

__all__ = ["collect"]

KIND = "http"
P99_TARGET_MS = 500.0  # guide 1.2
ACTIVE_OFF = "active probes are off for this target; set active: true"
REFUSED = (401, 403)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples P99 is the slowest one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@check("http.health", kind=KIND, title="Health endpoint answers", severity="danger",
       items=["roadmap.p1.api_standardization"], section="8",
       remediation="Serve a cheap health endpoint (e.g. GET /healthz → 200 {\"status\": \"ok\"}) that load "
                   "balancers and Kubernetes probes can call.")
def health(snap: Snapshot, target: Target) -> Outcome:
    h = snap.section("health")
    ev = {"status": h["status"], "elapsed_ms": h["elapsed_ms"], "path": h["path"]}
    body = h.get("body")
    declared = str(body.get("status", "")).lower() if isinstance(body, dict) else ""
    if not 200 <= h["status"] < 300:
        return failed(f"GET {h['path']} answered {h['status']}", pointer="/health/status", **ev)
    if declared in ("down", "fail", "failed", "error", "unhealthy"):
        return failed(f"GET {h['path']} reports status {declared!r}", pointer="/health/body", **ev)
    if h["elapsed_ms"] > 1000:
        return warned(f"health answered {h['status']} but took {h['elapsed_ms']:.0f} ms", **ev)
    return passed(f"GET {h['path']} answered {h['status']} in {h['elapsed_ms']:.0f} ms", **ev)


@check("http.latency", kind=KIND, title="P99 latency below 500 ms", severity="warning",
       items=["metrics.p99_latency"], section="1.2",
       remediation="Find the slowest endpoints, cache hot reads (section 2), fix slow queries and scale out "
                   "until P99 stays under 500 ms.")
def latency(snap: Snapshot, target: Target) -> Outcome:
    lat = snap.section("latency")
    samples = lat["samples_ms"]
    if not samples:
        return failed(f"none of {lat['requested']} requests to {lat['path']} completed",
                      failures=lat["failures"], pointer="/latency")
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    errors = sum(1 for s in lat["statuses"] if s >= 500)
    ev = {"p50_ms": p50, "p99_ms": p99, "samples": len(samples), "target_ms": P99_TARGET_MS,
          "server_errors": errors, "failed": lat["failed"], "path": lat["path"],
          "cut_short": lat.get("cut_short", False),
          "why": "guide 1.2: P99 latency < 500 ms; a few samples make P99 the slowest one"}
    if p99 >= P99_TARGET_MS:
        return failed(f"P99 {p99:.0f} ms over {len(samples)} samples is not below {P99_TARGET_MS:.0f} ms",
                      pointer="/latency/samples_ms", **ev)
    if errors or lat["failed"]:
        return warned(f"P99 {p99:.0f} ms, but {errors + lat['failed']} of {lat['requested']} requests failed",
                      **ev)
    short = f" (of {lat['requested']} asked; the target's timeout cut sampling short)" if ev["cut_short"] else ""
    return passed(f"P50 {p50:.0f} ms, P99 {p99:.0f} ms over {len(samples)} samples{short}", **ev)


@check("http.problem_json", kind=KIND, title="Errors use application/problem+json", severity="warning",
       items=["roadmap.p1.api_standardization"], section="8",
       remediation="Answer errors with Content-Type application/problem+json and a body carrying type, title "
                   "and status (RFC 9457), the same in every service.")
def problem_json(snap: Snapshot, target: Target) -> Outcome:
    nf = snap.section("not_found")
    ctype = (nf.get("content_type") or "").split(";")[0].strip().lower()
    body = nf.get("body")
    ev = {"path": nf["path"], "status": nf["status"], "content_type": nf.get("content_type")}
    if nf["status"] != 404:
        return warned(f"a path that cannot exist answered {nf['status']}, not 404", pointer="/not_found/status", **ev)
    missing = [k for k in ("type", "title", "status") if not isinstance(body, dict) or k not in body]
    if ctype == "application/problem+json" and not missing:
        if body.get("status") != 404:
            return warned(f"problem+json status member is {body.get('status')!r}, the response was 404", **ev)
        return passed("404 answered application/problem+json with type, title and status", **ev)
    if ctype == "application/problem+json":
        return failed(f"problem+json body lacks {', '.join(missing)}", pointer="/not_found/body", **ev)
    if isinstance(body, dict):
        return warned(f"404 answered JSON as {ctype or 'no content type'}, not application/problem+json",
                      body_keys=sorted(body), **ev)
    return failed(f"404 answered {ctype or 'no content type'}, not application/problem+json", **ev)


def _has(families: dict[str, Any], sample: str) -> dict[str, Any] | None:
    return next((f for f in families.values() if sample in f["samples"]), None)


@check("http.metrics_endpoint", kind=KIND, title="/metrics exposes the API signals", severity="warning",
       items=["monitoring.metrics.api"], section="6.1",
       remediation="Expose http_requests_total (labelled with status) and an http_request_duration_seconds "
                   "histogram on /metrics, and scrape it.")
def metrics_endpoint(snap: Snapshot, target: Target) -> Outcome:
    m = snap.section("metrics")
    if not m.get("configured"):
        return skipped("no metrics_path configured for this target")
    ev = {"path": m["path"], "status": m["status"], "content_type": m.get("content_type")}
    if m["status"] != 200:
        return failed(f"GET {m['path']} answered {m['status']}", pointer="/metrics/status", **ev)
    if m.get("parse_error"):
        return failed(f"{m['path']} is not Prometheus text format: {m['parse_error']}", **ev)
    fams = m.get("families", {})
    requests = _has(fams, "http_requests_total")
    duration = _has(fams, "http_request_duration_seconds_bucket") or _has(fams, "http_request_duration_seconds_count")
    missing = [n for n, f in (("http_requests_total", requests), ("http_request_duration_seconds", duration)) if not f]
    ev["families"] = len(fams)
    if missing:
        return failed(f"{m['path']} lacks {' and '.join(missing)}", missing=missing, pointer="/metrics/families",
                      **ev)
    status_label = next((lb for lb in ("status", "code", "status_code") if lb in requests["labels"]), None)
    ev.update(requests_labels=requests["labels"], duration_type=duration["type"])
    if status_label is None:
        return warned("http_requests_total has no status label, so the error rate (6.2) cannot be computed", **ev)
    if duration["type"] != "histogram":
        return warned("http_request_duration_seconds is a summary; a histogram aggregates P99 across pods", **ev)
    return passed(f"request counter (by {status_label}) and duration histogram are exposed", **ev)


@check("http.security_headers", kind=KIND, title="Security headers are set", severity="warning",
       items=["security.audit.pentest"], section="7.2",
       remediation="Send X-Content-Type-Options: nosniff, forbid framing (CSP frame-ancestors or "
                   "X-Frame-Options), HSTS on HTTPS, and no version-revealing Server/X-Powered-By.")
def security_headers(snap: Snapshot, target: Target) -> Iterator[Outcome]:
    h = snap.section("headers")
    headers: dict[str, str] = h["headers"]
    nosniff = headers.get("x-content-type-options", "")
    if nosniff.lower() == "nosniff":
        yield passed("X-Content-Type-Options: nosniff", subject="X-Content-Type-Options")
    else:
        yield warned("X-Content-Type-Options: nosniff is missing", subject="X-Content-Type-Options",
                     observed=nosniff or None, recommended="nosniff")
    csp, xfo = headers.get("content-security-policy", ""), headers.get("x-frame-options", "")
    if "frame-ancestors" in csp or xfo.upper() in ("DENY", "SAMEORIGIN"):
        yield passed("framing is restricted", subject="framing", observed=csp or xfo)
    else:
        yield warned("neither CSP frame-ancestors nor X-Frame-Options restricts framing", subject="framing",
                     recommended="Content-Security-Policy: frame-ancestors 'none'")
    if h["scheme"] != "https":
        yield skipped("HSTS applies to HTTPS only; this target is plain HTTP", subject="Strict-Transport-Security")
    elif "max-age" in headers.get("strict-transport-security", ""):
        yield passed("Strict-Transport-Security is set", subject="Strict-Transport-Security",
                     observed=headers["strict-transport-security"])
    else:
        yield failed("Strict-Transport-Security is missing on HTTPS", subject="Strict-Transport-Security",
                     recommended="max-age=31536000; includeSubDomains")
    leaks = {k: v for k, v in headers.items() if k in ("server", "x-powered-by") and any(c.isdigit() for c in v)}
    if leaks:
        yield warned("response headers reveal software versions", subject="version disclosure", observed=leaks)
    else:
        yield passed("no software version in Server/X-Powered-By", subject="version disclosure")


@check("http.rate_limit", kind=KIND, title="Rate limiting is enforced (1000 requests/min/IP)",
       severity="danger", items=["security.rate_limiting"], section="7.1",
       remediation="Limit each client IP to 1000 requests per minute at the gateway or in the service, "
                   "answering 429 with Retry-After beyond it.")
def rate_limit(snap: Snapshot, target: Target) -> Outcome:
    if not target.active:
        return skipped(ACTIVE_OFF)
    rl = snap.section("rate_limit")
    limit = rl["limit"]
    ev = {"sent": rl["sent"], "accepted": rl["accepted"], "first_429_after": rl["first_429_after"],
          "retry_after": rl["retry_after"], "elapsed_s": rl["elapsed_s"], "statuses": rl["statuses"],
          "limit": f"{limit['requests']} per {limit['per_seconds']:g} s", "stopped_by": rl["stopped_by"]}
    if rl["first_429_after"] is None:
        if rl["sent"] <= limit["requests"]:
            why = {"burst_max": "burst_max is not above the limit"}.get(rl["stopped_by"], rl["stopped_by"])
            return skipped(f"the probe stopped ({why}) after {rl['sent']} requests, before the limit of "
                           f"{limit['requests']} could be exceeded", **ev)
        return failed(f"no 429 after {rl['accepted']} accepted requests in {rl['elapsed_s']:.1f} s "
                      f"(limit {limit['requests']})", pointer="/rate_limit", **ev)
    if rl["accepted"] > limit["requests"]:
        return warned(f"429 only after {rl['accepted']} requests, above the limit of {limit['requests']}", **ev)
    if not rl["retry_after"]:
        return warned(f"429 after {rl['accepted']} requests, but without a Retry-After header", **ev)
    return passed(f"429 with Retry-After {rl['retry_after']} after {rl['accepted']} requests "
                  f"(limit {limit['requests']})", **ev)


@check("http.jwt", kind=KIND, title="JWT signatures are verified", severity="danger",
       items=["security.jwt"], section="7.1",
       remediation="Verify every JWT's signature with a pinned algorithm list (never none, never HS256 with a "
                   "public key), check exp, and answer 401 to unsigned, tampered or expired tokens.")
def jwt_verification(snap: Snapshot, target: Target) -> Outcome:
    if not target.active:
        return skipped(ACTIVE_OFF)
    j = snap.section("jwt")
    if not j.get("configured"):
        return skipped("no protected_path configured for this target")
    probes: dict[str, Any] = j["probes"]
    ev = {"path": j["path"], "method": j["method"], "missing_token": j["missing"], "answers": probes,
          "valid_token": j["valid"], "how": j["notes"]}
    if isinstance(j["missing"], int) and 200 <= j["missing"] < 400:
        return failed(f"{j['method']} {j['path']} answered {j['missing']} without any token: not protected", **ev)
    accepted = sorted(n for n, s in probes.items() if isinstance(s, int) and 200 <= s < 400)
    if accepted:
        return failed(f"forged token(s) accepted: {', '.join(accepted)}", pointer="/jwt/probes", **ev)
    odd = sorted(n for n, s in probes.items() if s not in REFUSED)
    if odd:
        return warned(f"forged token(s) answered neither 401 nor 403: "
                      f"{', '.join(f'{n}={probes[n]}' for n in odd)}", **ev)
    if j["valid"] is not None and not (isinstance(j["valid"], int) and 200 <= j["valid"] < 300):
        return warned(f"all forged tokens were refused, but so was the valid token ({j['valid']}): the probe "
                      "cannot tell verification from a blanket refusal", **ev)
    return passed(f"all {len(probes)} forged tokens were refused ({', '.join(sorted(probes))})", **ev)


@check("http.sql_injection", kind=KIND, title="No SQL injection in query parameters", severity="danger",
       items=["security.sql_injection"], section="7.1",
       remediation="Use parameterised queries everywhere, never string-built SQL; return a generic error "
                   "without database messages.")
def sql_injection(snap: Snapshot, target: Target) -> Outcome:
    if not target.active:
        return skipped(ACTIVE_OFF)
    s = snap.section("sql_injection")
    if not s.get("configured"):
        return skipped("no query_path configured for this target")
    probes = s["probes"]
    crashed = [p for p in probes if isinstance(p["status"], int) and p["status"] >= 500]
    leaked = [p for p in probes if p.get("db_error")]
    ev = {"path": s["path"], "param": s["param"], "baseline": s["baseline"],
          "answers": [{"payload": p["payload"], "status": p["status"]} for p in probes]}
    if crashed or leaked:
        bad = {p["payload"]: (p.get("db_error") or p["status"]) for p in crashed + leaked}
        return failed(f"{len(bad)} payload(s) caused a server error or a database message", pointer="/sql_injection",
                      offending=bad, **ev)
    base = s["baseline"]
    tautology = next((p for p in probes if p["payload"] == "' OR '1'='1"), None)
    if (tautology and base.get("status") == tautology["status"] == 200
            and tautology["length"] > 2 * base.get("length", 0) + 200):
        return warned("the tautology payload returned far more data than a normal value: possible injection",
                      baseline_length=base.get("length"), tautology_length=tautology["length"], **ev)
    return passed(f"{len(probes)} payloads in '{s['param']}' gave no 5xx and no database error text", **ev)
