"""The PromQL the Prometheus checks run by default, and the guide's thresholds they compare to.

Teams name their metrics differently, so every signal is a template a target may override in
``queries:``. Templates use two placeholders that never occur in PromQL itself: ``$window``
(the rate window, e.g. ``5m``) and ``$selector`` (extra label matchers for the API signals,
e.g. ``job="checkout"``, empty by default). Shared by the collector (which runs the
queries) and the checks (which name them), so the two can never drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HTTP_TOTAL = "http_requests_total"
_HTTP_BUCKET = "http_request_duration_seconds_bucket"
_DB_JOBS = '(?i).*(postgres|pg|db|database|mysql|rds).*'
_5XX = '"5.."'


@dataclass(frozen=True)
class Signal:
    """One guide 1.2 metric: its default query, unit, threshold and which way is good."""

    key: str
    title: str
    template: str
    unit: str  # "seconds" or "ratio" (0..1)
    threshold: float
    better: str  # "below" or "above"
    worst: str  # how to pick among several series: "max" or "min"
    item: str

    def ok(self, value: float) -> bool:
        return value < self.threshold if self.better == "below" else value > self.threshold


def _matchers(*parts: str) -> str:
    return "{" + ",".join(p for p in parts if p) + "}"


SIGNALS: dict[str, Signal] = {
    s.key: s
    for s in (
        Signal(
            "p99_latency", "P99 latency",
            f"histogram_quantile(0.99, sum by (le) (rate({_HTTP_BUCKET}{{$selector}}[$window])))",
            "seconds", 0.5, "below", "max", "metrics.p99_latency",
        ),
        Signal(
            "error_rate", "Error rate",
            f"(sum(rate({_HTTP_TOTAL}{{status=~{_5XX},$selector}}[$window]))"
            f" or sum(rate({_HTTP_TOTAL}{{code=~{_5XX},$selector}}[$window])) or vector(0))"
            f" / sum(rate({_HTTP_TOTAL}{{$selector}}[$window]))",
            "ratio", 0.001, "below", "max", "metrics.error_rate",
        ),
        Signal(
            "db_cpu", "Database CPU",
            f'1 - avg(rate(node_cpu_seconds_total{{mode="idle",job=~"{_DB_JOBS}"}}[$window]))',
            "ratio", 0.70, "below", "max", "metrics.db_cpu",
        ),
        Signal(
            "cache_hit_ratio", "Cache hit ratio",
            "sum(rate(redis_keyspace_hits_total[$window])) / (sum(rate(redis_keyspace_hits_total[$window]))"
            " + sum(rate(redis_keyspace_misses_total[$window])))",
            "ratio", 0.90, "above", "min", "metrics.cache_hit_ratio",
        ),
    )
}


@dataclass(frozen=True)
class Essential:
    """A guide 6.1 signal and the series selectors any one of which proves it is collected."""

    key: str
    title: str
    item: str
    selectors: tuple[str, ...]


_REQ_COUNTERS = (
    "http_requests_total|http_server_requests_seconds_count|http_server_request_duration_seconds_count"
    "|http_server_duration_milliseconds_count|nginx_ingress_controller_requests"
)
_LATENCY = (
    "http_request_duration_seconds_bucket|http_server_requests_seconds_bucket"
    "|http_server_request_duration_seconds_bucket|http_server_duration_milliseconds_bucket"
    "|nginx_ingress_controller_request_duration_seconds_bucket|http_request_duration_seconds"
)


def _names(regex: str, *extra: str) -> str:
    return _matchers(f'__name__=~"{regex}"', *extra)


ESSENTIALS: dict[str, Essential] = {
    e.key: e
    for e in (
        Essential("api.request_rate", "API request rate", "monitoring.metrics.api", (_names(_REQ_COUNTERS),)),
        Essential(
            "api.error_rate", "API error rate", "monitoring.metrics.api",
            tuple(_names(_REQ_COUNTERS, f'{label}=~".+"') for label in ("status", "code", "status_code")),
        ),
        Essential("api.latency", "API latency", "monitoring.metrics.api", (_names(_LATENCY),)),
        Essential(
            "db.queries", "Database queries/s", "monitoring.metrics.database",
            (_names("pg_stat_database_xact_commit(_total)?|pg_stat_statements_calls(_total)?"
                    "|mysql_global_status_queries|mysql_global_status_questions"),),
        ),
        Essential(
            "db.replication_lag", "Database replication lag", "monitoring.metrics.database",
            (_names("pg_replication_lag(_seconds)?|pg_stat_replication_.*lag.*"
                    "|mysql_slave_status_seconds_behind_master|aws_rds_replica_lag.*"),),
        ),
        Essential(
            "cache.hit_ratio", "Cache hit ratio", "monitoring.metrics.cache",
            (_names("redis_keyspace_hits_total|cache_hits_total|memcached_commands_total"),),
        ),
        Essential(
            "cache.memory", "Cache memory usage", "monitoring.metrics.cache",
            (_names("redis_memory_used_bytes|memcached_current_bytes"),),
        ),
        Essential(
            "infra.cpu", "Infrastructure CPU", "monitoring.metrics.infrastructure",
            (_names("node_cpu_seconds_total|container_cpu_usage_seconds_total"),),
        ),
        Essential(
            "infra.memory", "Infrastructure memory", "monitoring.metrics.infrastructure",
            (_names("node_memory_MemAvailable_bytes|container_memory_working_set_bytes"),),
        ),
        Essential(
            "infra.network", "Infrastructure network", "monitoring.metrics.infrastructure",
            (_names("node_network_(receive|transmit)_bytes_total|container_network_(receive|transmit)_bytes_total"),),
        ),
    )
}

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (``5m``, ``1h30m``, ``90s``); ValueError if malformed."""
    raw = str(text).strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not raw or pos != len(raw) or total <= 0:
        raise ValueError(f"not a Prometheus duration: {text!r} (use e.g. 30s, 5m, 1h)")
    return total


def render(template: str, window: str, selector: str = "") -> str:
    """Fill ``$window`` and ``$selector``; drops the comma a blank selector would leave behind."""
    query = template.replace("$window", window).replace("$selector", selector.strip())
    return query.replace(",}", "}")
