"""The http kind end to end against a real local API: right behaviour passes, wrong fails."""

from __future__ import annotations

import asyncio
import json

import pytest

import checks.http as http_checks
from scaleready import engine
from scaleready.api import Finding, Status, Target
from scaleready.plugins import Registry
from tests.http.server import PRIVATE_PEM, PUBLIC_PEM, Behaviour, free_port, self_signed, serve, valid_token

ACTIVE_OFF = "active probes are off for this target; set active: true"
ALL_CHECKS = {"http.health", "http.latency", "http.problem_json", "http.metrics_endpoint",
              "http.security_headers", "http.rate_limit", "http.jwt", "http.sql_injection"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    reg.add_module(http_checks, "scaleready", "test")
    return reg


def options(url: str, **extra) -> dict:
    opts = {"url": url, "samples": 5, "protected_path": "/me", "query_path": "/products", "query_param": "q",
            "rate_limit": {"requests": 40, "per_seconds": 60, "burst_max": 80},
            "jwt_token": valid_token(), "jwt_signing_key": PRIVATE_PEM, "jwt_algorithm": "RS256",
            "jwt_public_key": PUBLIC_PEM}
    opts.update(extra)
    return opts


def run_target(registry: Registry, target: Target):
    snapshot = asyncio.run(engine.collect_target(target, registry))
    return snapshot, engine.evaluate(snapshot, target, registry)


def verdicts(findings: list[Finding]) -> dict[str, list[Status]]:
    out: dict[str, list[Status]] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f.status)
    return out


def by_check(findings: list[Finding], check: str) -> Finding:
    (found,) = [f for f in findings if f.check == check]
    return found


def test_well_behaved_service_passes(registry):
    with serve(Behaviour()) as url:
        snapshot, findings = run_target(registry, Target("api", "http", options(url), active=True))
    assert snapshot.error is None and snapshot.errors == {}
    v = verdicts(findings)
    assert set(v) == ALL_CHECKS
    for cid in ALL_CHECKS - {"http.security_headers"}:
        assert v[cid] == [Status.PASS], (cid, by_check(findings, cid).message)
    headers = {f.subject: f.status for f in findings if f.check == "http.security_headers"}
    assert headers == {"X-Content-Type-Options": Status.PASS, "framing": Status.PASS,
                       "Strict-Transport-Security": Status.SKIP, "version disclosure": Status.PASS}
    rl = by_check(findings, "http.rate_limit")
    assert rl.evidence["retry_after"] and rl.evidence["accepted"] <= 40
    assert rl.evidence["statuses"]["429"] >= 1
    jwt = by_check(findings, "http.jwt")
    assert jwt.evidence["answers"] == {"alg_none": 401, "bad_signature": 401, "expired": 401, "key_confusion": 401}
    assert jwt.evidence["valid_token"] == 200 and jwt.evidence["missing_token"] == 401
    lat = by_check(findings, "http.latency")
    assert lat.evidence["samples"] == 5 and lat.evidence["p99_ms"] < 500
    assert by_check(findings, "http.latency").items == ["metrics.p99_latency"]


def test_careless_service_fails(registry):
    careless = Behaviour(rate_limit=None, verify_signature=False, parameterised_sql=False, problem_json=False,
                         security_headers=False, full_metrics=False)
    with serve(careless) as url:
        _, findings = run_target(registry, Target("api", "http", options(url), active=True))
    v = verdicts(findings)
    assert v["http.health"] == [Status.PASS]
    assert v["http.problem_json"] == [Status.WARN]  # JSON, but not problem+json
    assert v["http.metrics_endpoint"] == [Status.WARN]  # no status label
    assert v["http.rate_limit"] == [Status.FAIL]
    assert v["http.jwt"] == [Status.FAIL]
    assert v["http.sql_injection"] == [Status.FAIL]
    rl = by_check(findings, "http.rate_limit")
    assert rl.evidence["sent"] == 80 and rl.evidence["first_429_after"] is None
    jwt = by_check(findings, "http.jwt")
    assert "alg_none" in jwt.message and "bad_signature" in jwt.message
    sqli = by_check(findings, "http.sql_injection")
    assert "sqlite3.OperationalError" in json.dumps(sqli.evidence["offending"])
    headers = {f.subject: f.status for f in findings if f.check == "http.security_headers"}
    assert headers["X-Content-Type-Options"] == Status.WARN and headers["version disclosure"] == Status.WARN


@pytest.mark.parametrize(("behaviour", "extra", "accepted"), [
    (Behaviour(key_confusion=True), {}, ["key_confusion"]),
    (Behaviour(key_confusion=True), {"jwt_public_key": None}, ["key_confusion"]),  # key found in the JWKS
    (Behaviour(verify_exp=False), {}, ["expired"]),
])
def test_jwt_probe_names_the_weakness(registry, behaviour, extra, accepted):
    with serve(behaviour) as url:
        opts = options(url, query_path=None, rate_limit={"requests": 1000, "per_seconds": 60, "burst_max": 1},
                       **extra)
        _, findings = run_target(registry, Target("api", "http", opts, active=True))
    jwt = by_check(findings, "http.jwt")
    assert jwt.status == Status.FAIL
    assert [n for n, s in jwt.evidence["answers"].items() if s == 200] == accepted
    if "jwt_public_key" in extra:
        assert "/.well-known/jwks.json" in jwt.evidence["how"]["key_confusion"]
    assert by_check(findings, "http.sql_injection").status == Status.SKIP


def test_rate_limit_above_the_configured_limit_or_without_retry_after_warns(registry):
    with serve(Behaviour(rate_limit=60)) as url:
        opts = options(url, protected_path=None, query_path=None,
                       rate_limit={"requests": 20, "per_seconds": 60, "burst_max": 100})
        _, findings = run_target(registry, Target("api", "http", opts, active=True))
    rl = by_check(findings, "http.rate_limit")
    assert rl.status == Status.WARN and "above the limit of 20" in rl.message
    with serve(Behaviour(rate_limit=10, retry_after=False)) as url:
        opts = options(url, samples=2, protected_path=None, query_path=None,
                       rate_limit={"requests": 20, "per_seconds": 60, "burst_max": 40})
        _, findings = run_target(registry, Target("api", "http", opts, active=True))
    rl = by_check(findings, "http.rate_limit")
    assert rl.status == Status.WARN and "without a Retry-After" in rl.message


def test_passive_target_sends_no_probes(registry):
    careless = Behaviour(rate_limit=None, verify_signature=False, parameterised_sql=False)
    with serve(careless) as url:
        snapshot, findings = run_target(registry, Target("api", "http", options(url), active=False))
    assert careless.protected_hits == []  # no forged token ever sent
    assert not {"jwt", "sql_injection", "rate_limit"} & set(snapshot.data)
    for cid in ("http.rate_limit", "http.jwt", "http.sql_injection"):
        f = by_check(findings, cid)
        assert (f.status, f.message) == (Status.SKIP, ACTIVE_OFF)


def test_slow_service_fails_latency(registry):
    with serve(Behaviour(delay_s=0.55)) as url:
        opts = {"url": url, "samples": 2, "metrics_path": None}
        _, findings = run_target(registry, Target("api", "http", opts))
    lat = by_check(findings, "http.latency")
    assert lat.status == Status.FAIL and lat.evidence["p99_ms"] >= 500
    assert by_check(findings, "http.metrics_endpoint").status == Status.SKIP


def test_unreachable_url_is_an_error_for_every_check(registry):
    target = Target("down", "http", {"url": f"http://127.0.0.1:{free_port()}"}, timeout=5)
    snapshot, findings = run_target(registry, target)
    assert "cannot reach http://127.0.0.1:" in snapshot.error
    assert {f.check for f in findings} == ALL_CHECKS
    assert all(f.status == Status.ERROR and "cannot reach" in f.message for f in findings)


@pytest.mark.parametrize(("opts", "reason"), [
    ({"url": "ftp://example.invalid"}, "url must start with http:// or https://"),
    ({"url": "http://127.0.0.1:1", "samples": 0}, "invalid http target options"),
    ({"url": "http://127.0.0.1:1", "bogus": 1}, "invalid http target options"),
])
def test_bad_options_are_one_line_errors(registry, opts, reason):
    snapshot, findings = run_target(registry, Target("bad", "http", opts, timeout=5))
    assert reason in snapshot.error and "\n" not in snapshot.error
    assert all(f.status == Status.ERROR for f in findings)


def test_secrets_stay_out_of_the_snapshot(registry):
    token = valid_token()
    with serve(Behaviour()) as url:
        opts = options(url.replace("http://", "http://user:hunter22@"), headers={"X-Api-Key": "s3cret-api-key"},
                       jwt_token=token, rate_limit={"requests": 1000, "per_seconds": 60, "burst_max": 1})
        snapshot, findings = run_target(registry, Target("api", "http", opts, active=True))
    text = snapshot.canonical() + json.dumps([f.to_json() for f in findings], default=str)
    for secret in ("s3cret-api-key", token, "hunter22", "BEGIN PRIVATE KEY"):
        assert secret not in text
    assert snapshot.data["target"]["url"].startswith("http://127.0.0.1:")


def test_probes_stay_within_the_target_timeout(registry):
    # 0.4 s per request and 40 samples would take 16 s; the target allows 4 s in all.
    with serve(Behaviour(delay_s=0.4, rate_limit=None)) as url:
        opts = {"url": url, "samples": 40, "metrics_path": None,
                "rate_limit": {"requests": 1000, "per_seconds": 60, "burst_max": 6}}
        snapshot, findings = run_target(registry, Target("slow", "http", opts, active=True, timeout=4))
    assert snapshot.error is None  # the collector handed back what it had, before the engine's timeout
    assert snapshot.duration_ms < 4000
    assert 1 <= len(snapshot.data["latency"]["samples_ms"]) < 40
    assert by_check(findings, "http.health").status == Status.PASS
    assert by_check(findings, "http.latency").status in (Status.PASS, Status.WARN)
    later = [f for f in findings if f.check in ("http.problem_json", "http.rate_limit")]
    assert all(f.status in (Status.ERROR, Status.SKIP, Status.FAIL, Status.WARN, Status.PASS) for f in later)
    assert {f.check for f in findings} == ALL_CHECKS
    rl = by_check(findings, "http.rate_limit")
    assert rl.status == Status.SKIP and "before the limit of 1000 could be exceeded" in rl.message


def test_https_target_with_own_ca_and_hsts(registry, tmp_path):
    cert, key = self_signed(tmp_path)
    with serve(Behaviour(), tls=(cert, key)) as url:
        trusting = {"url": url, "samples": 2, "verify_tls": str(cert)}
        _, findings = run_target(registry, Target("tls", "http", trusting, timeout=10))
        hsts = next(f for f in findings if f.subject == "Strict-Transport-Security")
        assert hsts.status == Status.PASS
        assert by_check(findings, "http.health").status == Status.PASS
        snapshot, findings = run_target(registry, Target("tls", "http", {"url": url}, timeout=10))
        assert "cannot reach https://127.0.0.1:" in snapshot.error and "TLS certificate verification failed (self-signed" in snapshot.error
        assert all(f.status == Status.ERROR for f in findings)
    with serve(Behaviour(hsts=False), tls=(cert, key)) as url:
        _, findings = run_target(registry, Target("tls", "http", {"url": url, "samples": 2, "verify_tls": False}))
        hsts = next(f for f in findings if f.subject == "Strict-Transport-Security")
        assert hsts.status == Status.FAIL
