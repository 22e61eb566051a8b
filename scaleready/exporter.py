"""Readiness as Prometheus gauges, so Grafana and alerting follow it over time.

A custom prometheus-client collector reads the store on every scrape and exposes the newest
run of each environment: score, coverage, level, per-area score, the run's age, whether a
sharded run is complete, and per (target, check) the worst status of its findings. Labels:
``project``, ``environment`` and (where it applies) ``target``. Only complete runs are kept
between scrapes (they never change once stored); the list of runs and shard states are read
fresh every time.

Status gauges are one-hot (``scaleready_check_status{status="fail"} 1``) so an alert can say
``scaleready_check_status{status="fail",severity="danger"} == 1`` without magic numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from scaleready.api import Status
from scaleready.results import RunResult
from scaleready.shard_store import shard_status
from scaleready.store import RunSummary, Store, StoreError

# Worst first: a check with one failing and one passing subject reads as failing; an error
# (could not look) outranks a pass, because unknown is never pass. A waived failure is
# accepted risk: "waived", below warn, so alerts on "fail" leave it alone.
WORST_FIRST = ("fail", "error", "warn", "waived", "pass", "skip")
_SEVERITY_RANK = {"danger": 2, "warning": 1, "info": 0}
RECENT_RUNS = 500


@dataclass(frozen=True)
class LatestRun:
    environment: str
    run: RunResult
    complete: bool


def latest_runs(store: Store, environment: str | None = None,
                cache: dict[str, RunResult] | None = None) -> list[LatestRun]:
    """The newest stored run of every environment (runs without one are labelled ``default``).
    ``cache`` keeps complete runs by id across calls; a sharded run still merging is re-read."""
    cache = {} if cache is None else cache
    newest: dict[str, RunSummary] = {}
    for summary in store.runs(RECENT_RUNS):  # newest first
        env = summary.environment or "default"
        if env not in newest and (environment is None or env == environment):
            newest[env] = summary
    out = []
    for env, summary in sorted(newest.items()):
        status = shard_status(store, summary.id)
        complete = status is None or status.complete
        run = cache.get(summary.id) or store.load_run(summary.id)
        if complete:
            cache[summary.id] = run
        out.append(LatestRun(env, run, complete))
    for stale in set(cache) - {latest.run.id for latest in out}:
        del cache[stale]
    return out


def effective_status(status: Status, waived: bool) -> str:
    return "waived" if waived and status in (Status.FAIL, Status.WARN) else status.value


def worst_status(statuses: list[str]) -> str:
    return next(s for s in WORST_FIRST if s in statuses)


class ReadinessCollector(Collector):
    """Reads the store at scrape time; a store that cannot be read is reported, not raised."""

    def __init__(self, store: Store, project: str, environment: str | None = None) -> None:
        self.store = store
        self.project = project
        self.environment = environment
        self._complete_runs: dict[str, RunResult] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("scaleready_store_up", "1 when the exporter could read the store", labels=["project"])
        try:
            runs = latest_runs(self.store, self.environment, self._complete_runs)
        except (StoreError, SQLAlchemyError):  # the database is down or unreadable: say so, do not fail the scrape
            up.add_metric([self.project], 0)
            yield up
            return
        up.add_metric([self.project], 1)
        yield up
        yield from readiness_families(runs, self.project)


class _OneRun(Collector):
    def __init__(self, latest: LatestRun, project: str) -> None:
        self.latest, self.project = latest, project

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from readiness_families([self.latest], self.project)


def push_run(run: RunResult, gateway: str, project: str, complete: bool = True, timeout: float = 10.0) -> None:
    """Push one run's gauges to a Pushgateway, replacing the group (job ``scaleready``, project,
    environment) so the newest run is what Prometheus scrapes there. Raises OSError on failure."""
    from prometheus_client import CollectorRegistry, push_to_gateway

    environment = run.environment or "default"
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OneRun(LatestRun(environment, run, complete), project))
    push_to_gateway(gateway, job="scaleready", registry=registry, timeout=timeout,
                    grouping_key={"project": project, "environment": environment})


def readiness_families(runs: list[LatestRun], project: str) -> Iterator[GaugeMetricFamily]:
    """Every readiness gauge for these runs (one per environment)."""
    base = ["project", "environment"]
    score = GaugeMetricFamily("scaleready_score", "Overall readiness score of the newest run (0-100)",
                              labels=base)
    coverage = GaugeMetricFamily("scaleready_coverage_ratio",
                                 "Items evaluated / all items in the newest run (0-1)", labels=base)
    level = GaugeMetricFamily("scaleready_level", "Readiness level (roadmap phases done)", labels=base)
    area = GaugeMetricFamily("scaleready_area_score", "Score per framework area (0-100)",
                             labels=[*base, "area"])
    stamp = GaugeMetricFamily("scaleready_run_timestamp_seconds", "When the newest run finished (Unix time)",
                              labels=base)
    complete = GaugeMetricFamily("scaleready_run_complete",
                                 "1 when every shard of the newest run reported (always 1 unsharded)",
                                 labels=base)
    check = GaugeMetricFamily("scaleready_check_status",
                              "1 for the worst status of a check's findings on a target "
                              "(one-hot: fail error warn waived pass skip)",
                              labels=[*base, "target", "check", "severity", "status"])
    findings = GaugeMetricFamily("scaleready_findings", "Findings of the newest run per target and status",
                                 labels=[*base, "target", "status"])
    collected = GaugeMetricFamily("scaleready_target_collected",
                                  "1 when the target's snapshot was collected, 0 when it could not be read",
                                  labels=[*base, "target", "kind"])
    for latest in runs:
        labels = [project, latest.environment]
        run = latest.run
        score.add_metric(labels, run.score.overall)
        coverage.add_metric(labels, run.score.coverage)
        level.add_metric(labels, run.score.level)
        complete.add_metric(labels, 1 if latest.complete else 0)
        stamp.add_metric(labels, (run.finished_at or run.started_at).timestamp())
        for snap in run.snapshots:
            collected.add_metric([*labels, snap.target, snap.kind], 0 if snap.error else 1)
        for a in run.score.areas:
            area.add_metric([*labels, a.id], a.score)
        per_check: dict[tuple[str, str], list[str]] = defaultdict(list)
        severity: dict[tuple[str, str], str] = {}
        counts: dict[tuple[str, Status], int] = defaultdict(int)
        for f in run.findings:
            key = (f.target, f.check)
            per_check[key].append(effective_status(f.status, f.waived))
            if _SEVERITY_RANK.get(f.severity.value, 0) >= _SEVERITY_RANK.get(severity.get(key, "info"), 0):
                severity[key] = f.severity.value
            counts[(f.target, f.status)] += 1
        for (target, check_id), statuses in sorted(per_check.items()):
            check.add_metric([*labels, target, check_id, severity[(target, check_id)],
                              worst_status(statuses)], 1)
        for (target, status), n in sorted(counts.items()):
            findings.add_metric([*labels, target, status.value], n)
    yield from (score, coverage, level, area, stamp, complete, check, findings, collected)
