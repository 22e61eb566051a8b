"""The http checks' rules on hand-made snapshots: the edge cases a live server rarely shows."""

from __future__ import annotations

import pytest

from checks.http import api as hc
from scaleready.api import EvidenceUnavailable, Snapshot, Status, Target

TARGET = Target("api", "http", {"url": "http://127.0.0.1"})
ACTIVE = Target("api", "http", {"url": "http://127.0.0.1"}, active=True)


def snap(**sections) -> Snapshot:
    return Snapshot("api", "http", data=sections)


def status(check, snapshot, target=TARGET) -> Status:
    (outcome,) = check.evaluate(snapshot, target)
    return outcome.status


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert hc.percentile(values, 50) == 50 and hc.percentile(values, 99) == 99
    assert hc.percentile([3.0, 1.0, 2.0], 99) == 3.0


@pytest.mark.parametrize(("health", "expected"), [
    ({"status": 200, "elapsed_ms": 3, "path": "/healthz", "body": {"status": "ok"}}, Status.PASS),
    ({"status": 200, "elapsed_ms": 3, "path": "/healthz", "body": {"status": "DOWN"}}, Status.FAIL),
    ({"status": 503, "elapsed_ms": 3, "path": "/healthz", "body": "unavailable"}, Status.FAIL),
    ({"status": 200, "elapsed_ms": 1500, "path": "/healthz", "body": "ok"}, Status.WARN),
])
def test_health(health, expected):
    assert status(hc.health, snap(health=health)) == expected


@pytest.mark.parametrize(("nf", "expected"), [
    ({"status": 404, "content_type": "application/problem+json", "body": {"type": "x", "title": "t", "status": 404}},
     Status.PASS),
    ({"status": 404, "content_type": "application/problem+json; charset=utf-8", "body": {"title": "t"}}, Status.FAIL),
    ({"status": 404, "content_type": "application/problem+json", "body": {"type": "x", "title": "t", "status": 500}},
     Status.WARN),
    ({"status": 404, "content_type": "text/html", "body": "<h1>Not Found</h1>"}, Status.FAIL),
    ({"status": 200, "content_type": "text/html", "body": "spa fallback"}, Status.WARN),
])
def test_problem_json(nf, expected):
    assert status(hc.problem_json, snap(not_found={"path": "/x", **nf})) == expected


def _fam(type_, samples, labels):
    return {"type": type_, "samples": samples, "labels": labels}


@pytest.mark.parametrize(("families", "expected"), [
    ({"http_requests": _fam("counter", ["http_requests_total"], ["code", "method"]),
      "http_request_duration_seconds": _fam("histogram", ["http_request_duration_seconds_bucket"], [])}, Status.PASS),
    ({"http_requests": _fam("counter", ["http_requests_total"], ["status"]),
      "http_request_duration_seconds": _fam("summary", ["http_request_duration_seconds_count"], [])}, Status.WARN),
    ({"http_requests": _fam("counter", ["http_requests_total"], ["status"])}, Status.FAIL),
    ({}, Status.FAIL),
])
def test_metrics_endpoint(families, expected):
    section = {"configured": True, "path": "/metrics", "status": 200, "content_type": "text/plain",
               "families": families}
    assert status(hc.metrics_endpoint, snap(metrics=section)) == expected


def test_https_without_hsts_fails():
    outcomes = hc.security_headers.evaluate(snap(headers={"url": "https://x/", "scheme": "https", "headers": {
        "x-content-type-options": "nosniff", "x-frame-options": "DENY"}}), TARGET)
    by_subject = {o.subject: o.status for o in outcomes}
    assert by_subject["Strict-Transport-Security"] == Status.FAIL
    assert by_subject["framing"] == Status.PASS


def test_active_checks_skip_when_passive_and_error_without_evidence():
    for c in (hc.rate_limit, hc.jwt_verification, hc.sql_injection):
        (o,) = c.evaluate(snap(), TARGET)
        assert (o.status, o.message) == (Status.SKIP, hc.ACTIVE_OFF)
        with pytest.raises(EvidenceUnavailable):
            c.evaluate(snap(), ACTIVE)


def test_jwt_rules():
    base = {"configured": True, "path": "/me", "method": "GET", "notes": {}, "valid": None}
    refused = {"alg_none": 401, "bad_signature": 403, "expired": 401}
    assert status(hc.jwt_verification, snap(jwt={**base, "missing": 401, "probes": refused}), ACTIVE) == Status.PASS
    assert status(hc.jwt_verification, snap(jwt={**base, "missing": 200, "probes": refused}), ACTIVE) == Status.FAIL
    odd = {**refused, "expired": 500}
    assert status(hc.jwt_verification, snap(jwt={**base, "missing": 401, "probes": odd}), ACTIVE) == Status.WARN
    blanket = {**base, "missing": 401, "probes": refused, "valid": 401}
    assert status(hc.jwt_verification, snap(jwt=blanket), ACTIVE) == Status.WARN


def test_sql_injection_tautology_warns():
    probes = [{"payload": p, "status": 200, "length": 40, "db_error": None} for p in ("'", "\\")]
    probes.append({"payload": "' OR '1'='1", "status": 200, "length": 9000, "db_error": None})
    section = {"configured": True, "path": "/p", "param": "q", "probes": probes,
               "baseline": {"payload": "scaleready", "status": 200, "length": 40, "db_error": None}}
    assert status(hc.sql_injection, snap(sql_injection=section), ACTIVE) == Status.WARN
