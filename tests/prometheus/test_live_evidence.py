"""Breakers, consumer lag, spans, cost, cache warming, log analysis and playbooks on a real Prometheus.

Two services are scraped by two real Prometheus servers: one doing everything the guide asks
(breakers closed and alerted, consumers keeping up, spans flowing, cost flat, cache warmed,
emergency switches exported) and one in trouble (a breaker open throughout, a consumer 50 000
messages behind, no spans, cost growing 40 % per period, egress worth $1500, 5 % errors and
90 % DB CPU). Periods are shortened through the target's ``evidence`` options so the figures
exist within seconds; the values come from exporters whose series are known functions of time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaleready.api import Finding, Snapshot, Status
from tests.prometheus.conftest import WINDOW, by_check, run, status_of
from tests.support.exporter import SLOW, Profile, render
from tests.support.prometheus_server import PrometheusServer, ScrapeJob
from tests.support.text_exporter import TextExporter

DATA = Path(__file__).parent / "data"
PERIOD = 8.0  # seconds standing in for the guide's month and week
GIB = 2**30
EGRESS_PRICE = 0.09  # $ per GiB, OpenCost's default internet egress price
ALL_BUT_CPU = frozenset({"http_requests_total", "http_request_duration_seconds", "redis_keyspace_hits_total",
                         "redis_keyspace_misses_total", "redis_memory_used_bytes", "node_memory_MemAvailable_bytes",
                         "node_network_receive_bytes_total", "pg_stat_database_xact_commit"})


def _egress_rate(dollars: float) -> float:
    """Bytes/s of internet egress that cost ``dollars`` over one PERIOD at EGRESS_PRICE."""
    return dollars / EGRESS_PRICE * GIB / PERIOD


def good_page(t: float) -> str:
    return render(Profile(), t) + "\n".join([
        'circuit_breaker_state{name="payment"} 0',
        'circuit_breaker_state{name="search"} 0',
        'kafka_consumergroup_lag{consumergroup="search-index",topic="product.deleted",partition="0"} 7',
        'kafka_consumergroup_lag{consumergroup="search-index",topic="product.deleted",partition="1"} 5',
        f'otelcol_receiver_accepted_spans{{receiver="otlp"}} {100 * t:.3f}',
        'otelcol_receiver_refused_spans{receiver="otlp"} 0',
        f'otelcol_exporter_sent_spans{{exporter="otlp"}} {100 * t:.3f}',
        'node_total_hourly_cost{node="n1"} 0.5',
        'node_total_hourly_cost{node="n2"} 0.5',
        f'kubelet_volume_stats_used_bytes{{persistentvolumeclaim="data"}} {1e9 * 1.05 ** (t / PERIOD):.1f}',
        f'kubecost_pod_network_egress_bytes_total{{internet="true",pod="api"}} {_egress_rate(300) * t:.1f}',
        f"kubecost_network_internet_egress_cost {EGRESS_PRICE}",
        "cache_warmed_keys 2000",
        "process_start_time_seconds 1.7e9",
        'emergency_switch{switch="read_only"} 0',
        'emergency_switch{switch="serve_stale"} 0',
        'emergency_switch{switch="disable_search"} 0',
        'log_messages_total{level="error"} 3',
        "pg_stat_activity_count 20",
        "pg_settings_max_connections 200",
    ]) + "\n"


def bad_page(t: float) -> str:
    profile = Profile(error_ratio=0.05, latency=SLOW)
    return render(profile, t) + "\n".join([
        'circuit_breaker_state{name="payment"} 2',
        'circuit_breaker_state{name="search"} 0',
        'kafka_consumergroup_lag{consumergroup="analytics",topic="product.deleted",partition="0"} 50000',
        f'node_total_hourly_cost{{node="n1"}} {1.4 ** (t / PERIOD):.6f}',
        f'kubelet_volume_stats_used_bytes{{persistentvolumeclaim="data"}} {1e9 * 1.15 ** (t / PERIOD):.1f}',
        f'kubecost_pod_network_egress_bytes_total{{internet="true",pod="api"}} {_egress_rate(1500) * t:.1f}',
        f"kubecost_network_internet_egress_cost {EGRESS_PRICE}",
        "cache_warmed_keys 0",
        "pg_stat_activity_count 190",
        "pg_settings_max_connections 200",
    ]) + "\n"


def db_page(busy: float) -> Any:
    return lambda t: render(Profile(cpu_busy=busy, omit=ALL_BUT_CPU), t)


EVIDENCE = {"month": f"{PERIOD:g}s", "week": f"{PERIOD:g}s", "breaker_stuck_after": "6s", "lag_window": "6s",
            "breakers": ["payment", "search"]}


@pytest.fixture(scope="module")
def evidence_servers() -> Iterator[dict[str, PrometheusServer]]:
    with TextExporter({"good": good_page, "bad": bad_page, "db-good": db_page(0.3),
                       "db-bad": db_page(0.9)}) as exp:
        good = PrometheusServer([ScrapeJob("api", [exp.target], exp.path("good")),
                                 ScrapeJob("db", [exp.target], exp.path("db-good"))],
                                rule_files=[DATA / "evidence_rules.yml"])
        bad = PrometheusServer([ScrapeJob("api", [exp.target], exp.path("bad")),
                                ScrapeJob("db", [exp.target], exp.path("db-bad"))],
                               rule_files=[DATA / "evidence_bare_rules.yml"])
        try:
            good.start()
            bad.start()
            for prom in (good, bad):
                # the comparison periods reach PERIOD back: wait until samples cover more than that
                prom.wait_samples("node_cpu_seconds_total", n=int(PERIOD) + 3, window=f"{PERIOD + 4:g}s",
                                  timeout=40)
                prom.wait_rules_evaluated(timeout=30)
            yield {"good": good, "bad": bad}
        finally:
            good.stop()
            bad.stop()


def _run(prom: PrometheusServer, **extra: Any) -> tuple[Snapshot, list[Finding]]:
    return run({"url": prom.url, "window": WINDOW, "series_range": "20s", "evidence": dict(EVIDENCE, **extra)})


@pytest.fixture(scope="module")
def good_run(evidence_servers: dict[str, PrometheusServer]) -> tuple[Snapshot, list[Finding]]:
    return _run(evidence_servers["good"])


@pytest.fixture(scope="module")
def bad_run(evidence_servers: dict[str, PrometheusServer]) -> tuple[Snapshot, list[Finding]]:
    return _run(evidence_servers["bad"])


GOOD_PASS = [
    "prometheus.breakers.exported", "prometheus.breakers.alerted", "prometheus.tracing.spans",
    "prometheus.logs.analysis", "prometheus.cost.metrics", "prometheus.cost.compute_growth",
    "prometheus.cost.storage_growth", "prometheus.cost.transfer", "prometheus.playbook.db_overload",
    "prometheus.playbook.api_degradation",
]


@pytest.mark.parametrize("check_id", GOOD_PASS)
def test_good_service_passes(good_run: tuple[Snapshot, list[Finding]], check_id: str) -> None:
    snapshot, findings = good_run
    assert "evidence" in snapshot.data, snapshot.errors
    assert status_of(findings, check_id) is Status.PASS, [f.message for f in by_check(findings, check_id)]


def test_good_per_subject_checks(good_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = good_run
    breakers = by_check(findings, "prometheus.breakers.stuck_open")
    assert {f.subject: f.status for f in breakers} == {"payment": Status.PASS, "search": Status.PASS}
    (lag,) = by_check(findings, "prometheus.events.consumer_lag")
    assert lag.status is Status.PASS and lag.subject == "search-index/product.deleted"
    assert lag.evidence["lag"] == 12  # two partitions summed
    (warm,) = by_check(findings, "prometheus.cache.warming")
    assert warm.status is Status.PASS and "2000 keys" in warm.message


def test_good_figures_are_the_served_ones(good_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = good_run
    (compute,) = by_check(findings, "prometheus.cost.compute_growth")
    assert compute.evidence["growth"] == pytest.approx(0.0, abs=1e-9)
    (storage,) = by_check(findings, "prometheus.cost.storage_growth")
    assert storage.evidence["growth"] == pytest.approx(0.05, abs=0.02)
    (transfer,) = by_check(findings, "prometheus.cost.transfer")
    # increase() extrapolates to the window edges: within a few % of the served $300
    assert transfer.evidence["cost_usd"] == pytest.approx(300, rel=0.2)
    (playbook,) = by_check(findings, "prometheus.playbook.db_overload")
    triggers = {t["signal"]: t["value"] for t in playbook.evidence["triggers"]}
    assert triggers["db_connections"] == pytest.approx(0.1)
    assert triggers["db_cpu"] == pytest.approx(0.3, abs=0.05)


def test_bad_service_fails(bad_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = bad_run
    assert status_of(findings, "prometheus.breakers.alerted") is Status.FAIL
    assert status_of(findings, "prometheus.logs.analysis") is Status.FAIL
    assert status_of(findings, "prometheus.tracing.spans") is Status.WARN  # no collector metrics at all
    stuck = {f.subject: f for f in by_check(findings, "prometheus.breakers.stuck_open")}
    assert stuck["payment"].status is Status.FAIL and "open for all of the last 6s" in stuck["payment"].message
    assert stuck["search"].status is Status.PASS
    (lag,) = by_check(findings, "prometheus.events.consumer_lag")
    assert lag.status is Status.FAIL and "50000" in lag.message
    (warm,) = by_check(findings, "prometheus.cache.warming")
    assert warm.status is Status.FAIL


def test_bad_cost_figures(bad_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = bad_run
    (compute,) = by_check(findings, "prometheus.cost.compute_growth")
    assert compute.status is Status.FAIL and compute.evidence["growth"] == pytest.approx(0.40, abs=0.05)
    (storage,) = by_check(findings, "prometheus.cost.storage_growth")
    assert storage.status is Status.WARN and storage.evidence["growth"] == pytest.approx(0.15, abs=0.03)
    (transfer,) = by_check(findings, "prometheus.cost.transfer")
    assert transfer.status is Status.FAIL and transfer.evidence["cost_usd"] == pytest.approx(1500, rel=0.2)


def test_bad_playbooks_say_run_now(bad_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = bad_run
    (db,) = by_check(findings, "prometheus.playbook.db_overload")
    assert db.status is Status.FAIL and "should be running now" in db.message
    assert "Database CPU" in db.message and "Connections used" in db.message
    assert db.evidence["steps"]["immediately"] == ["Enable read-only mode", "Scale up database instance"]
    (api,) = by_check(findings, "prometheus.playbook.api_degradation")
    assert api.status is Status.FAIL and "Error rate 5 %" in api.message
    assert api.evidence["switches_seen"] == {}


def test_missing_breaker_for_a_named_dependency_fails(evidence_servers: dict[str, PrometheusServer]) -> None:
    _, findings = _run(evidence_servers["good"], breakers=["payment", "inventory"])
    (finding,) = by_check(findings, "prometheus.breakers.exported")
    assert finding.status is Status.FAIL and "inventory" in finding.message


def test_query_override_and_bad_override(evidence_servers: dict[str, PrometheusServer]) -> None:
    # a team whose lag metric has another name points the probe at it
    _, findings = _run(evidence_servers["bad"], queries={"consumer_lag": "sum by (group) (pg_stat_activity_count)"})
    (lag,) = by_check(findings, "prometheus.events.consumer_lag")
    assert lag.status is Status.PASS and lag.evidence["lag"] == 190
    # a broken override is an error naming the API's reason, not a pass and not a crash
    _snapshot, findings = _run(evidence_servers["good"], queries={"breaker_open": "max by (name) (("})
    (exported,) = by_check(findings, "prometheus.breakers.exported")
    assert exported.status is Status.ERROR and "parse error" in exported.message
    assert status_of(findings, "prometheus.tracing.spans") is Status.PASS  # the rest still ran


def test_no_cost_metrics_skips_with_how_to(healthy_run: tuple[Snapshot, list[Finding]]) -> None:
    _, findings = healthy_run  # the shared healthy service: no OpenCost series, no breakers
    for check_id in ("prometheus.cost.metrics", "prometheus.cost.compute_growth", "prometheus.cost.transfer"):
        (finding,) = by_check(findings, check_id)
        assert finding.status is Status.SKIP and "OpenCost" in finding.message
    assert status_of(findings, "prometheus.breakers.exported") is Status.FAIL
    assert status_of(findings, "prometheus.events.consumer_lag") is Status.SKIP


def test_unreachable_prometheus_is_error_everywhere() -> None:
    from tests.support.prometheus_server import free_port

    _snapshot, findings = run({"url": f"http://127.0.0.1:{free_port()}", "rule_files": [str(DATA / "evidence_rules.yml")]},
                             timeout=5)
    mine = [f for f in findings if f.check.split(".")[1] in {"breakers", "events", "tracing", "cost", "cache",
                                                             "playbook"}]
    assert mine and all(f.status is Status.ERROR for f in mine), [(f.check, f.status) for f in mine]


def test_live_signals_for_the_pages(evidence_servers: dict[str, PrometheusServer], tmp_path: Path) -> None:
    """The dashboard's live module reads the same figures as the checks, from the configured target."""
    from scaleready import live

    config = tmp_path / "scaleready.yaml"
    config.write_text(f"version: 1\ntargets:\n  - name: prod-prom\n    kind: prometheus\n"
                      f"    url: {evidence_servers['bad'].url}\n    window: {WINDOW}\n")
    (source,), why = live.sources(str(config))
    assert why is None and source.name == "prod-prom"
    series = live.signal_series(source, 30)
    assert series["error_rate"].current == pytest.approx(0.05, rel=0.05) and series["error_rate"].breached
    assert series["p99_latency"].breached and len(series["p99_latency"].series[0]["points"]) >= 10
    fig = live.figure(series["p99_latency"])
    assert fig.layout.shapes[0].y0 == 500 and len(fig.data[0].y) >= 10  # the guide's 500 ms line, in ms
    states = {s.playbook.key: s for s in live.playbook_states(source)}
    assert states["db_overload"].active and states["api_degradation"].active
    from checks.prometheus.collector import PrometheusOptions

    # a 5m rate over the ~30 s these servers have is under-extrapolated: the short test window, as configured
    good_source = live.Source("good", PrometheusOptions(url=evidence_servers["good"].url, window=WINDOW))
    good = {s.playbook.key: s for s in live.playbook_states(good_source)}
    assert not good["db_overload"].active, [t.describe() for t in good["db_overload"].triggers]
    assert not good["db_overload"].missing_switches
    assert not good["api_degradation"].active and not good["api_degradation"].missing_switches


def test_live_sources_explain_what_is_missing(tmp_path: Path) -> None:
    from scaleready import live

    assert live.sources(str(tmp_path / "none.yaml"))[1].startswith("no config file")
    config = tmp_path / "scaleready.yaml"
    config.write_text("version: 1\ntargets:\n  - name: db\n    kind: postgres\n    dsn: postgresql://x@127.0.0.1/db\n")
    assert live.sources(str(config)) == ([], f"{config} has no prometheus target")
    series = live.signal_series(live.source_for_url("http://127.0.0.1:9"), 60, timeout=2)
    assert all(s.current is None and "cannot reach" in (s.reason or "") for s in series.values())
