"""The guide 1.2 signals come out pass or fail exactly as the exporter's served numbers dictate."""

from __future__ import annotations

import json

import pytest

from scaleready.api import Status
from tests.prometheus.conftest import WINDOW, by_check, run, status_of
from tests.support.prometheus_server import PrometheusServer, free_port

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

SLO = ("p99_latency", "error_rate", "db_cpu", "cache_hit_ratio")


def test_healthy_service_passes_every_signal_with_the_served_values(healthy_run):
    snapshot, findings = healthy_run
    assert snapshot.error is None and snapshot.errors == {}
    for key in SLO:
        assert status_of(findings, f"prometheus.slo.{key}") is Status.PASS, key
    slo = snapshot.data["slo"]
    # FAST buckets: 0.99 falls in (0.1, 0.25] between 90 % and 99.5 % → 0.1 + 0.09/0.095 * 0.15
    assert slo["p99_latency"]["value"] == pytest.approx(0.1 + 0.09 / 0.095 * 0.15, rel=0.01)
    assert slo["error_rate"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert slo["db_cpu"]["value"] == pytest.approx(0.30, abs=0.05)
    assert slo["cache_hit_ratio"]["value"] == pytest.approx(0.95, abs=0.005)


def test_degraded_service_fails_every_signal(degraded_run):
    snapshot, findings = degraded_run
    for key in SLO:
        assert status_of(findings, f"prometheus.slo.{key}") is Status.FAIL, key
    slo = snapshot.data["slo"]
    assert slo["p99_latency"]["value"] == pytest.approx(1.0 + 0.09 / 0.10 * 1.5, rel=0.01)
    assert slo["error_rate"]["value"] == pytest.approx(0.05, rel=0.01)
    assert slo["db_cpu"]["value"] == pytest.approx(0.85, abs=0.05)
    assert slo["cache_hit_ratio"]["value"] == pytest.approx(0.60, abs=0.01)
    (p99,) = by_check(findings, "prometheus.slo.p99_latency")
    assert "ms" in p99.message and p99.evidence["observed"].endswith("ms")


def test_findings_report_value_window_query_and_a_series_for_plotting(healthy_run):
    snapshot, findings = healthy_run
    (finding,) = by_check(findings, "prometheus.slo.error_rate")
    assert finding.evidence["window"] == WINDOW
    assert "http_requests_total" in finding.evidence["query"]
    assert finding.evidence["pointer"] == "/slo/error_rate"
    series = snapshot.data["slo"]["error_rate"]["series"]
    assert series and len(series[0]["points"]) >= 2
    assert all(len(p) == 2 for p in series[0]["points"])
    assert finding.evidence["series"]["points"]
    assert set(finding.items) == {"metrics.error_rate"}


def test_query_override_and_selector_change_what_is_measured(degraded, healthy):
    # An override replaces the default PromQL (here: a query that is always 0 → pass on degraded data).
    _, findings = run({"url": degraded.url, "window": WINDOW, "series_range": "10s",
                       "queries": {"error_rate": 'sum(rate(http_requests_total{status="200"}[$window])) * 0'}})
    assert status_of(findings, "prometheus.slo.error_rate") is Status.PASS
    # A selector that matches nothing is "no data": error with the reason, never a pass.
    snapshot, findings = run({"url": healthy.url, "window": WINDOW, "selector": 'job="nope"'})
    (finding,) = by_check(findings, "prometheus.slo.p99_latency")
    assert finding.status is Status.ERROR
    assert "no series" in finding.message or "NaN" in finding.message
    assert 'job="nope"' in snapshot.data["slo"]["p99_latency"]["query"]
    assert status_of(findings, "prometheus.slo.db_cpu") is Status.PASS  # selector is for the API signals only


def test_a_broken_override_query_is_an_error_for_that_signal_only(healthy):
    _, findings = run({"url": healthy.url, "window": WINDOW, "queries": {"cache_hit_ratio": "sum(rate(("}})
    (finding,) = by_check(findings, "prometheus.slo.cache_hit_ratio")
    assert finding.status is Status.ERROR and "parse error" in finding.message
    assert status_of(findings, "prometheus.slo.p99_latency") is Status.PASS


def test_unreachable_prometheus_is_an_error_with_a_readable_reason():
    port = free_port()
    snapshot, findings = run({"url": f"http://127.0.0.1:{port}"}, timeout=10)
    assert snapshot.error == f"cannot reach Prometheus at http://127.0.0.1:{port}: connection refused"
    assert findings and all(f.status is Status.ERROR for f in findings)
    assert all("connection refused" in f.message and "Traceback" not in f.message for f in findings)


def test_unreachable_prometheus_still_lints_configured_rule_files():
    from tests.prometheus.conftest import DEMO_RULES

    snapshot, findings = run({"url": f"http://127.0.0.1:{free_port()}", "rule_files": [str(DEMO_RULES)]})
    assert snapshot.error is None and "slo" in snapshot.errors
    assert status_of(findings, "prometheus.slo.error_rate") is Status.ERROR
    assert [f.status for f in by_check(findings, "prometheus.rules.files")] == [Status.PASS]


def test_non_prometheus_http_server_is_an_error(exporter):
    snapshot, findings = run({"url": f"http://{exporter.target}"})
    assert snapshot.error and "HTTP 404 without JSON" in snapshot.error
    assert all(f.status is Status.ERROR for f in findings)


def test_invalid_options_are_one_readable_error():
    snapshot, _ = run({"url": "http://127.0.0.1:1", "window": "five minutes"})
    assert snapshot.error and "window" in snapshot.error and "Traceback" not in snapshot.error
    snapshot, _ = run({"url": "http://127.0.0.1:1", "queries": {"p95": "x"}})
    assert snapshot.error and "p95" in snapshot.error


def test_secrets_never_reach_the_snapshot_or_findings(healthy: PrometheusServer):
    host = healthy.url.removeprefix("http://")
    options = {"url": f"http://scrapeuser:hunter2-url@{host}", "window": WINDOW}
    snapshot, findings = run(options)
    assert snapshot.error is None
    text = snapshot.canonical() + json.dumps([f.to_json() for f in findings], default=str)
    assert "hunter2" not in text and "scrapeuser" not in text
    snapshot, findings = run({"url": healthy.url, "bearer_token": "tok-s3cret-xyz", "window": WINDOW})
    assert snapshot.error is None
    text = snapshot.canonical() + json.dumps([f.to_json() for f in findings], default=str)
    assert "tok-s3cret-xyz" not in text
