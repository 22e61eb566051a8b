"""A realistic run built in code: several areas, every status, waivers, with and without locations."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from scaleready.api import Finding, Severity, Status
from scaleready.results import AreaScore, ItemScore, PhaseProgress, RunResult, Scorecard, SnapshotRef

CHECKS = {"security.rate_limiting": ["http.rate_limit"], "metrics.p99_latency": ["http.latency", "prometheus.p99"]}


def _item(id_: str, area: str, status: str, section: str, phase: int | None = None) -> ItemScore:
    value = {"pass": 1.0, "warn": 0.5}.get(status, 0.0)
    return ItemScore(id=id_, title=id_.replace(".", " ").title(), area=area, section=section, kind="auto",
                     weight=1.0, status=status, source="evidence" if status != "unknown" else "none",
                     value=value, phase=phase, checks=CHECKS.get(id_, []))


def make_run() -> RunResult:
    areas = [
        AreaScore("metrics", "Critical metrics", 50.0, 1.0, [_item("metrics.p99_latency", "metrics", "warn", "1.2")]),
        AreaScore("cache", "Caching", 0.0, 0.0, [_item("cache.tiered", "cache", "unknown", "2.1")]),
        AreaScore("security", "Security checklist", 33.3, 1.0, [
            _item("security.rate_limiting", "security", "fail", "7.1"),
            _item("security.jwt", "security", "pass", "7.1"),
            _item("security.sql_injection", "security", "unknown", "7.1"),
        ]),
        AreaScore("roadmap", "Implementation roadmap", 25.0, 0.5, [
            _item("roadmap.p1.api_standardization", "roadmap", "fail", "8", 1),
            _item("roadmap.p1.redis_caching", "roadmap", "unknown", "8", 1),
        ]),
    ]
    findings = [
        Finding("http.rate_limit", "api", Status.FAIL, Severity.DANGER, "Rate limiting is enforced",
                "no 429 after 1200 requests in 3.1 s", {"sent": 1200, "first_429": None, "limit": 1000},
                "Enforce 1000 requests/min/IP and answer 429 with Retry-After.", ["security.rate_limiting"], "7.1"),
        Finding("http.jwt", "api", Status.PASS, Severity.DANGER, "JWT signatures are verified",
                "all 4 tampered tokens were refused", {"answers": {"alg_none": 401, "expired": 401}},
                "Verify signatures and expiry.", ["security.jwt"], "7.1"),
        Finding("http.latency", "api", Status.WARN, Severity.WARNING, "P99 latency under 500 ms",
                "P99 420 ms is within 20% of the 500 ms target", {"p50_ms": 80.5, "p99_ms": 420.0},
                "Profile the slowest endpoints; add caching.",
                ["metrics.p99_latency", "roadmap.p1.api_standardization"], "1.2"),
        Finding("gitops.canary", "repo", Status.FAIL, Severity.WARNING, "Canary analysis is configured",
                "Rollout has no analysis template", {"kind": "Rollout"}, "Add an AnalysisTemplate | with thresholds.",
                ["deploy.canary"], "5.2", subject="prod/Rollout/web", location="k8s/canary.yaml:12"),
        Finding("redis.hit_ratio", "cache", Status.ERROR, Severity.WARNING, "Cache hit ratio above 90%",
                "connection refused at 127.0.0.1:6399", {}, "", ["metrics.cache_hit_ratio", "cache.tiered"], "1.2"),
        Finding("http.sql_injection", "api", Status.SKIP, Severity.DANGER, "No SQL injection",
                "active probes are off for this target; set active: true", {}, "Use parameterised queries.",
                ["security.sql_injection"], "7.1"),
        Finding("http.problem_json", "api", Status.FAIL, Severity.INFO, "Errors use problem+json",
                "404 answered text/html <script>alert(1)</script>", {"content_type": "text/html", "body": "a|b"},
                "Answer errors as application/problem+json.", ["roadmap.p1.api_standardization"], "8",
                waived=True, waiver_reason="legacy API retired in Q3"),
        Finding("postgres.work_mem", "db", Status.PASS, Severity.WARNING, "work_mem sized for the workload",
                "work_mem is 16MB", {"observed": "16MB"}, "", ["db.work_mem"], "3.1", subject="settings/work_mem",
                location="/etc/postgresql/15/main/postgresql.conf:130"),
    ]
    started = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    return RunResult(
        id="run-0001",
        started_at=started,
        finished_at=datetime(2026, 11, 24, 10, 0, 7, 250000, tzinfo=UTC),
        framework={"id": "scaling-guide", "title": "Ultimate Scaling Guide", "version": "1.0"},
        findings=findings,
        score=Scorecard(overall=37.5, coverage=0.625, areas=areas, level=0, phases=[
            PhaseProgress(1, "Quick Wins", 0, 3), PhaseProgress(2, "Resilience", 0, 3)]),
        snapshots=[
            SnapshotRef("api", "http", hashlib.sha256(b"api").hexdigest(), None, 3100.0),
            SnapshotRef("cache", "redis", hashlib.sha256(b"cache").hexdigest(), "connection refused", 2.0),
        ],
        tool_version="0.1.0",
        environment="staging",
    )


@pytest.fixture
def run() -> RunResult:
    return make_run()
