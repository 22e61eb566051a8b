"""Loaded rules, scrape targets and essential series, read from the two live Prometheus servers."""

from __future__ import annotations

import pytest

from scaleready.api import Status
from tests.prometheus.conftest import by_check, status_of

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]


def test_demo_rules_satisfy_high_error_rate_and_burn_rate(healthy_run):
    _, findings = healthy_run
    (finding,) = by_check(findings, "prometheus.rules.high_error_rate")
    assert finding.status is Status.PASS
    assert finding.subject == "api-alerts/HighErrorRate"
    assert finding.evidence["observed"]["threshold"] == pytest.approx(0.01)
    (burn,) = by_check(findings, "prometheus.rules.burn_rate")
    assert burn.status is Status.PASS
    names = {b["alert"] for b in burn.evidence["observed"]}
    assert names == {"ErrorBudgetBurnFast", "ErrorBudgetBurnSlow"}  # found through the recording rules
    assert status_of(findings, "prometheus.rules.health") is Status.PASS


def test_a_high_error_rate_in_name_only_fails_and_says_why(degraded_run):
    _, findings = degraded_run
    (finding,) = by_check(findings, "prometheus.rules.high_error_rate")
    assert finding.status is Status.FAIL
    assert "HighErrorRate (fires only above 5 %)" in finding.message
    assert status_of(findings, "prometheus.rules.burn_rate") is Status.WARN


def test_a_rule_in_error_fails_rules_health(degraded_run):
    _, findings = degraded_run
    failing = [f for f in by_check(findings, "prometheus.rules.health") if f.status is Status.FAIL]
    assert [f.subject for f in failing] == ["loose-alerts/BrokenJoin"]
    assert "many-to-many" in failing[0].message


def test_down_target_fails_and_is_named(healthy_run, degraded_run):
    assert status_of(healthy_run[1], "prometheus.targets.up") is Status.PASS
    down = [f for f in by_check(degraded_run[1], "prometheus.targets.up") if f.status is Status.FAIL]
    assert len(down) == 1 and down[0].subject.startswith("broken/127.0.0.1:")
    assert "refused" in down[0].message


def test_essential_metrics_pass_when_served_and_fail_when_missing(healthy_run, degraded_run):
    healthy = {f.subject: f.status for f in by_check(healthy_run[1], "prometheus.metrics.essential")}
    assert len(healthy) == 10 and set(healthy.values()) == {Status.PASS}
    degraded = {f.subject: f.status for f in by_check(degraded_run[1], "prometheus.metrics.essential")}
    assert {k for k, v in degraded.items() if v is Status.FAIL} == {"db.replication_lag", "cache.memory"}
    assert degraded["api.error_rate"] is Status.PASS


def test_essential_selectors_can_be_overridden(degraded):
    from tests.prometheus.conftest import run

    _, findings = run({"url": degraded.url, "essential": {"cache.memory": ['{__name__="redis_keyspace_hits_total"}']}})
    statuses = {f.subject: f.status for f in by_check(findings, "prometheus.metrics.essential")}
    assert statuses["cache.memory"] is Status.PASS and statuses["db.replication_lag"] is Status.FAIL
    snapshot, _ = run({"url": degraded.url, "essential": {"cache.size": ["x"]}})
    assert snapshot.error and "cache.size" in snapshot.error
