"""Built-in postgres checks and collector (the ``postgres`` entry point of ``scaleready.checks``).

Discovery installs every `Check`/`Collector` found at this module's top level, so the checks
written in the ``_pg_*`` modules (grouped by topic: settings, indexes, health, replication)
are imported here by name.
"""

from __future__ import annotations

from checks._pg_config import (
    effective_cache_size,
    maintenance_work_mem,
    max_connections,
    random_page_cost,
    shared_buffers,
    work_mem,
)
from checks._pg_health import (
    cache_hit_ratio,
    connections_usage,
    long_running,
    sequences,
    slow_queries,
    wraparound,
)
from checks._pg_indexes import duplicate, invalid, missing, unused
from checks._pg_replication import lag, replicas, slots
from checks.collectors.postgres import collect

__all__ = [
    "cache_hit_ratio",
    "collect",
    "connections_usage",
    "duplicate",
    "effective_cache_size",
    "invalid",
    "lag",
    "long_running",
    "maintenance_work_mem",
    "max_connections",
    "missing",
    "random_page_cost",
    "replicas",
    "sequences",
    "shared_buffers",
    "slots",
    "slow_queries",
    "unused",
    "work_mem",
    "wraparound",
]
