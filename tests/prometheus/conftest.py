"""Two real Prometheus servers for the whole directory: one scraping a healthy service, one a degraded one.

They start together (each is ready in well under a second) and the fixtures wait until
every series has samples spanning the test window, so absolute rates (CPU) are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import checks.prometheus
from scaleready.api import Finding, Snapshot, Status, Target
from scaleready.engine import collect_target, evaluate
from scaleready.plugins import Registry
from tests.support.exporter import SLOW, Exporter, Profile
from tests.support.prometheus_server import PrometheusServer, ScrapeJob, free_port

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
DEMO_RULES = ROOT / "data" / "demo" / "prometheus" / "rules.yml"
WINDOW = "5s"  # short rate window: samples cover it a few seconds after start

HEALTHY = Profile()
DEGRADED = Profile(
    error_ratio=0.05, latency=SLOW, cache_hit_ratio=0.60, cpu_busy=0.85,
    omit=frozenset({"pg_replication_lag", "redis_memory_used_bytes"}),
)


def registry() -> Registry:
    reg = Registry()
    reg.add_module(checks.prometheus, "prometheus", "test")
    return reg


def run(options: dict[str, Any], timeout: float = 30.0) -> tuple[Snapshot, list[Finding]]:
    """Collect through the engine and evaluate every prometheus check."""
    target = Target("prom", "prometheus", options, timeout=timeout)
    reg = registry()
    snapshot = asyncio.run(collect_target(target, reg))
    return snapshot, evaluate(snapshot, target, reg)


def by_check(findings: list[Finding], check_id: str) -> list[Finding]:
    return [f for f in findings if f.check == check_id]


def status_of(findings: list[Finding], check_id: str) -> Status:
    (only,) = by_check(findings, check_id)
    return only.status


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    with Exporter({"healthy": HEALTHY, "degraded": DEGRADED}) as exp:
        yield exp


@pytest.fixture(scope="session")
def servers(exporter: Exporter) -> Iterator[dict[str, PrometheusServer]]:
    healthy = PrometheusServer(
        [ScrapeJob("api", [exporter.target], exporter.path("healthy")),
         ScrapeJob("db", [exporter.target], exporter.path("healthy"))],
        rule_files=[DEMO_RULES],
    )
    degraded = PrometheusServer(
        [ScrapeJob("api", [exporter.target], exporter.path("degraded")),
         ScrapeJob("db-node", [exporter.target], exporter.path("degraded")),
         ScrapeJob("broken", [f"127.0.0.1:{free_port()}"])],
        rule_files=[DATA / "degraded_rules.yml"],
    )
    try:
        healthy.start()
        degraded.start()
        for prom in (healthy, degraded):
            prom.wait_samples("node_cpu_seconds_total", n=6, window="8s", timeout=30)
            prom.wait_rules_evaluated(timeout=30)
            prom.wait_targets_scraped(timeout=30)
        yield {"healthy": healthy, "degraded": degraded}
    finally:
        healthy.stop()
        degraded.stop()


@pytest.fixture(scope="session")
def healthy(servers: dict[str, PrometheusServer]) -> PrometheusServer:
    return servers["healthy"]


@pytest.fixture(scope="session")
def degraded(servers: dict[str, PrometheusServer]) -> PrometheusServer:
    return servers["degraded"]


@pytest.fixture(scope="session")
def healthy_run(healthy: PrometheusServer) -> tuple[Snapshot, list[Finding]]:
    return run({"url": healthy.url, "window": WINDOW, "series_range": "20s"})


@pytest.fixture(scope="session")
def degraded_run(degraded: PrometheusServer) -> tuple[Snapshot, list[Finding]]:
    return run({"url": degraded.url, "window": WINDOW, "series_range": "20s"})
