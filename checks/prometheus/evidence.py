"""The PromQL behind the guide's sections that live systems prove beyond the 1.2 signals.

Circuit breakers (4.1), event consumers (4.2), spans reaching the OpenTelemetry collector
(8, phase 3), OpenCost/Kubecost cost series (9), cache warm-up (9.1), the emergency playbooks'
extra triggers (10) and the service's emergency switches. The collector runs every probe and
files its result under the snapshot's ``evidence`` section; the checks in ``resilience``,
``cost`` and ``playbooks`` judge them.

Every probe is a template a target may override under ``evidence.queries`` (teams name their
metrics differently). Placeholders that never occur in PromQL: ``$window`` (rate window),
``$stuck`` (how long a breaker must stay open to be "stuck"), ``$bound`` (the window a consumer
lag must stay bounded over), ``$step`` (subquery resolution), ``$month`` / ``$week`` (the cost
comparison periods) and ``$offset`` (empty for "now", ``offset $month`` for "a month ago": one
template gives both sides of a growth figure).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from checks.prometheus.queries import parse_duration
from checks.prometheus.results import instant_values
from scaleready.api import EvidenceUnavailable, Snapshot

# gobreaker / refservice: 0 closed, 1 half-open, 2 open; resilience4j: one 0/1 series per state;
# Hystrix: a 0/1 "open" gauge per command. The expression is 1 per breaker while it is open.
BREAKER_OPEN = (
    "max by (name) (circuit_breaker_state == bool 2)"
    ' or max by (name) (resilience4j_circuitbreaker_state{state=~"open|forced_open"})'
    ' or max by (name) (label_replace(hystrix_circuit_breaker_open, "name", "$1", "command_name", "(.*)"))'
)
CONSUMER_LAG = (
    "sum by (consumergroup, topic) (kafka_consumergroup_lag)"
    " or sum by (group, stream) (redis_stream_group_messages_pending)"
)
COMPUTE_COST = "sum(node_total_hourly_cost $offset)"
STORAGE_BYTES = "sum(kubelet_volume_stats_used_bytes $offset) or sum(kube_persistentvolume_capacity_bytes $offset)"
TRANSFER_COST = (
    'sum(increase(kubecost_pod_network_egress_bytes_total{internet="true"}[$month])) / 1073741824'
    " * scalar(avg(kubecost_network_internet_egress_cost))"
)
COST_SERIES = (
    'group by (__name__) ({__name__=~"node_total_hourly_cost|node_cpu_hourly_cost|node_ram_hourly_cost'
    '|pv_hourly_cost|container_cpu_allocation|kubecost_.+|opencost_.+"})'
)
_SPANS = '{{__name__=~"otelcol_{0}_spans(_total)?"}}'

PROBES: dict[str, str] = {
    "breaker_open": BREAKER_OPEN,
    "breaker_stuck": f"min_over_time(({BREAKER_OPEN})[$stuck:$step])",
    "breaker_samples": f"count_over_time(({BREAKER_OPEN})[$stuck:$step])",
    "consumer_lag": CONSUMER_LAG,
    "consumer_lag_peak": f"max_over_time(({CONSUMER_LAG})[$bound:$step])",
    "spans_accepted": f"sum(rate({_SPANS.format('receiver_accepted')}[$window]))",
    "spans_refused": f"sum(rate({_SPANS.format('receiver_refused')}[$window]))",
    "spans_sent": f"sum(rate({_SPANS.format('exporter_sent')}[$window]))",
    "spans_failed": f"sum(rate({_SPANS.format('exporter_send_failed')}[$window]))",
    "cost_series": COST_SERIES,
    "compute_cost_now": COMPUTE_COST.replace("$offset", ""),
    "compute_cost_before": COMPUTE_COST.replace("$offset", "offset $month"),
    "storage_now": STORAGE_BYTES.replace("$offset", ""),
    "storage_before": STORAGE_BYTES.replace("$offset", "offset $week"),
    "transfer_cost": TRANSFER_COST,
    "cache_warmed": 'max by (job, instance) ({__name__=~"cache_warm(ed|up)?_keys(_total)?"})',
    "process_start": "max by (job, instance) (process_start_time_seconds)",
    "db_connections": "sum(pg_stat_activity_count) / sum(pg_settings_max_connections)",
    "replication_lag": "max(pg_replication_lag_seconds) or max(pg_replication_lag)",
    "switches": "max by (switch) (emergency_switch)",
}
"""Default template per probe; ``compute_cost``/``storage`` overrides use ``$offset`` for both sides."""

_PAIRED = {"compute_cost": ("compute_cost_now", "compute_cost_before", "$month"),
           "storage": ("storage_now", "storage_before", "$week")}
MAX_VALUES = 50


class EvidenceOptions(BaseModel):
    """The ``evidence:`` key of a ``prometheus`` target: query overrides and the guide's limits."""

    model_config = ConfigDict(extra="forbid")

    queries: dict[str, str] = Field(default_factory=dict, description="override a probe's PromQL")
    breakers: list[str] = Field(default_factory=list, description="dependencies that must have a breaker")
    breaker_stuck_after: str = "15m"
    consumer_lag_max: float = Field(10_000, gt=0, description="messages a consumer group may lag")
    lag_window: str = "1h"
    month: str = "30d"
    week: str = "7d"

    @field_validator("breaker_stuck_after", "lag_window", "month", "week")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("queries")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        known = set(PROBES) | set(_PAIRED)
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown evidence quer(y/ies) {unknown}; known: {sorted(known)}")
        return value


def evidence_options(raw: Any) -> EvidenceOptions:
    """The validated options (defaults when absent); the collector validated them already."""
    return raw if isinstance(raw, EvidenceOptions) else EvidenceOptions.model_validate(raw or {})


def templates(opts: EvidenceOptions) -> dict[str, str]:
    """Every probe's template after the target's overrides, derived probes following their base."""
    out = dict(PROBES)
    for key, query in opts.queries.items():
        if key in _PAIRED:
            now, before, period = _PAIRED[key]
            out[now] = query.replace("$offset", "")
            out[before] = query.replace("$offset", f"offset {period}")
            continue
        out[key] = query
        if key == "breaker_open":
            out["breaker_stuck"] = f"min_over_time(({query})[$stuck:$step])"
            out["breaker_samples"] = f"count_over_time(({query})[$stuck:$step])"
        elif key == "consumer_lag":
            out["consumer_lag_peak"] = f"max_over_time(({query})[$bound:$step])"
    return out


def step_for(opts: EvidenceOptions) -> str:
    """Subquery resolution: about 30 points over the stuck-breaker window, at least 1 s."""
    return f"{max(1, int(parse_duration(opts.breaker_stuck_after) / 30))}s"


def render_probe(template: str, opts: EvidenceOptions, window: str) -> str:
    values = {"$window": window, "$stuck": opts.breaker_stuck_after, "$bound": opts.lag_window,
              "$step": step_for(opts), "$month": opts.month, "$week": opts.week}
    for key, value in values.items():
        template = template.replace(key, value)
    return template


async def collect_evidence(api: Any, raw: Any, window: str) -> dict[str, Any]:
    """Run every probe at once; each entry keeps its query, values and the reason it has none."""
    opts = evidence_options(raw)
    chosen = templates(opts)
    overridden = {key for key, template in chosen.items() if template != PROBES[key]}
    queries = {key: render_probe(t, opts, window) for key, t in chosen.items()}

    async def one(key: str, query: str) -> dict[str, Any]:
        try:
            data = await api.instant(query)
        except Exception as exc:  # ApiError, phrased for a finding by the collector's Api
            return {"query": query, "values": [], "reason": str(exc)}
        values = instant_values(data, MAX_VALUES)
        reason = None if values else "the query returned no series"
        return {"query": query, "values": values, "reason": reason, "overridden": key in overridden}

    results = await asyncio.gather(*(one(k, q) for k, q in queries.items()))
    return {"options": opts.model_dump(exclude={"queries"}), "probes": dict(zip(queries, results, strict=True))}


def probe(snapshot: Snapshot, key: str) -> dict[str, Any]:
    """One probe's entry from a snapshot's ``evidence`` section (EvidenceUnavailable if absent)."""
    entry = (snapshot.section("evidence").get("probes") or {}).get(key)
    if not isinstance(entry, dict):
        raise EvidenceUnavailable(f"snapshot has no '{key}' evidence probe (collected by an older version?)")
    return entry


def finite(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The probe's series that carry a number."""
    return [v for v in entry.get("values") or [] if v.get("value") is not None]


def scalar(entry: dict[str, Any]) -> float | None:
    """The largest finite value of a probe (most probes aggregate to one series)."""
    values = [v["value"] for v in finite(entry)]
    return max(values) if values else None
