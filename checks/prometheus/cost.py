"""Cost management from live evidence (9): the three cost alerts' figures and cache warming.

With OpenCost/Kubecost metrics in Prometheus the checks compute monthly compute-cost growth
(guide 9.2: warn at 15 %, critical at 30 %), weekly storage growth (10 %/25 %) and the monthly
data transfer cost ($500/$1000). Without cost metrics they ``skip`` and say how to get them:
a cost that was never measured is never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from checks.prometheus.evidence import evidence_options, finite, probe, scalar
from scaleready.api import (
    Outcome,
    Severity,
    Snapshot,
    Target,
    check,
    errored,
    failed,
    passed,
    skipped,
    warned,
)

KIND = "prometheus"
HOW_TO_GET = ("install OpenCost (or Kubecost) in the cluster and scrape it: it exports node_total_hourly_cost, "
              "pv_hourly_cost and the kubecost_network_* prices")
COMPUTE = (0.15, 0.30)
STORAGE = (0.10, 0.25)
TRANSFER = (500.0, 1000.0)


def _cost_series(snapshot: Snapshot) -> list[str]:
    entry = probe(snapshot, "cost_series")
    return sorted({str(v["labels"].get("__name__")) for v in entry.get("values") or []})


def _judge(value: float, limits: tuple[float, float], message: str, **evidence: Any) -> Outcome:
    warn, crit = limits
    if value > crit:
        return failed(f"{message}, above the critical level", **evidence)
    if value > warn:
        return warned(f"{message}, above the warning level", **evidence)
    return passed(message, **evidence)


def _growth(snapshot: Snapshot, now_key: str, before_key: str, period: str, limits: tuple[float, float],
            what: str) -> Outcome:
    now, before = probe(snapshot, now_key), probe(snapshot, before_key)
    pointer = f"/evidence/probes/{now_key}"
    current, earlier = scalar(now), scalar(before)
    evidence = {"now": current, "before": earlier, "period": period, "query": now.get("query"),
                "warning": f"{limits[0] * 100:.0f} %", "critical": f"{limits[1] * 100:.0f} %"}
    if current is None:
        return errored(f"{what} could not be read: {now.get('reason') or 'no data'}", pointer=pointer,
                       evidence=evidence)
    if earlier is None or earlier <= 0:
        why = before.get("reason") or "no data"
        return errored(f"no {what} value {period} ago to compare with ({why}; is Prometheus retention shorter "
                       f"than {period}?)", pointer=f"/evidence/probes/{before_key}", evidence=evidence)
    growth = current / earlier - 1
    evidence["growth"] = growth
    return _judge(growth, limits, f"{what} grew {growth * 100:+.1f} % over {period} "
                  f"({earlier:.4g} → {current:.4g})", pointer=pointer, evidence=evidence)


@check("prometheus.cost.metrics", kind=KIND, title="Cost metrics are collected (OpenCost/Kubecost)",
       severity=Severity.WARNING, items=["roadmap.p4.cost_monitoring"], section="9.2",
       remediation=f"To monitor cost, {HOW_TO_GET}; then alert on the 9.2 thresholds.")
def cost_metrics(snapshot: Snapshot, target: Target) -> Outcome:
    """Cost series exist in Prometheus; without them, ``skip`` saying how to get them."""
    entry = probe(snapshot, "cost_series")
    if entry.get("reason") and entry["reason"] != "the query returned no series":
        return errored(f"could not look for cost metrics: {entry['reason']}")
    names = _cost_series(snapshot)
    if not names:
        return skipped(f"no cost metrics in Prometheus: {HOW_TO_GET}", pointer="/evidence/probes/cost_series")
    return passed(f"cost metrics collected: {', '.join(names[:8])}", pointer="/evidence/probes/cost_series",
                  series=names)


@check("prometheus.cost.compute_growth", kind=KIND, title="Compute cost growth (warn 15 %, critical 30 % a month)",
       severity=Severity.WARNING, items=["cost.alert.compute", "roadmap.p4.cost_monitoring"], section="9.2",
       remediation="Find the services whose node cost grew (OpenCost allocation by namespace), right-size "
                   "requests and autoscaling, and alert on the growth.")
def compute_growth(snapshot: Snapshot, target: Target) -> Outcome:
    """Hourly node cost now against the same figure ``month`` ago."""
    if not _cost_series(snapshot):
        return skipped(f"no cost metrics in Prometheus: {HOW_TO_GET}")
    period = evidence_options(target.option("evidence")).month
    return _growth(snapshot, "compute_cost_now", "compute_cost_before", period, COMPUTE, "compute cost")


@check("prometheus.cost.storage_growth", kind=KIND, title="Storage growth (warn 10 %, critical 25 % a week)",
       severity=Severity.WARNING, items=["cost.alert.storage"], section="9.2",
       remediation="Find the volumes that grow (retention, logs, bloat), archive or expire old data, and alert "
                   "on the weekly growth.")
def storage_growth(snapshot: Snapshot, target: Target) -> Outcome:
    """Bytes used on volumes now against ``week`` ago (kubelet volume stats, else PV capacity)."""
    now = probe(snapshot, "storage_now")
    if now.get("reason") == "the query returned no series":
        return skipped("no volume metrics (kubelet_volume_stats_used_bytes or kube_persistentvolume_capacity_bytes)"
                       "; scrape the kubelet and kube-state-metrics, or set evidence.queries.storage")
    period = evidence_options(target.option("evidence")).week
    return _growth(snapshot, "storage_now", "storage_before", period, STORAGE, "storage used")


@check("prometheus.cost.transfer", kind=KIND, title="Data transfer cost (warn $500, critical $1000 a month)",
       severity=Severity.WARNING, items=["cost.alert.transfer"], section="9.2",
       remediation="Keep traffic in-zone, cache at the edge (CDN), compress responses, and alert on egress cost.")
def transfer_cost(snapshot: Snapshot, target: Target) -> Outcome:
    """Internet egress bytes over ``month`` times OpenCost's egress price per GiB."""
    if not _cost_series(snapshot):
        return skipped(f"no cost metrics in Prometheus: {HOW_TO_GET}")
    entry = probe(snapshot, "transfer_cost")
    value = scalar(entry)
    period = evidence_options(target.option("evidence")).month
    evidence = {"cost_usd": value, "period": period, "query": entry.get("query"), "warning": "$500",
                "critical": "$1000"}
    if value is None:
        return errored(f"data transfer cost could not be computed: {entry.get('reason') or 'NaN'} (needs "
                       "kubecost_pod_network_egress_bytes_total and kubecost_network_internet_egress_cost, or "
                       "evidence.queries.transfer_cost)", pointer="/evidence/probes/transfer_cost", evidence=evidence)
    return _judge(value, TRANSFER, f"data transfer cost ${value:,.2f} over {period}",
                  pointer="/evidence/probes/transfer_cost", evidence=evidence)


@check("prometheus.cache.warming", kind=KIND, title="The cache is warmed after a restart",
       severity=Severity.WARNING, items=["cost.cache_warming"], section="9.1",
       remediation="Pre-load the hottest keys into the cache when the service starts (after deploys and flushes) "
                   "and export how many it loaded, e.g. a cache_warmed_keys gauge set by the warm-up.")
def cache_warming(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Per instance: the warm-up gauge it sets at start is > 0 (the process's own start, i.e. the last restart)."""
    warmed = probe(snapshot, "cache_warmed")
    starts = {(v["labels"].get("job"), v["labels"].get("instance")): v["value"]
              for v in finite(probe(snapshot, "process_start"))}
    if warmed.get("reason") and warmed["reason"] != "the query returned no series":
        yield errored(f"could not read the warm-up series: {warmed['reason']}")
        return
    values = finite(warmed)
    if not values:
        yield warned("no cache warm-up seen: no cache_warmed_keys series in Prometheus",
                     pointer="/evidence/probes/cache_warmed", query=warmed.get("query"))
        return
    for value in values:
        labels = value["labels"]
        subject = f"{labels.get('job')}/{labels.get('instance')}"
        started = starts.get((labels.get("job"), labels.get("instance")))
        since = (f" at its start {datetime.fromtimestamp(started, UTC):%Y-%m-%d %H:%M} UTC"
                 if started else "")
        if value["value"] > 0:
            yield passed(f"{subject} warmed {value['value']:.0f} keys{since}", subject=subject,
                         pointer="/evidence/probes/cache_warmed", keys=value["value"], started=started)
        else:
            yield failed(f"{subject} loaded no keys into the cache{since}", subject=subject,
                         pointer="/evidence/probes/cache_warmed", keys=value["value"], started=started)
