"""Built-in redis checks and collector (the ``redis`` entry point of ``scaleready.checks``).

Discovery installs every `Check`/`Collector` at this module's top level, so the checks of
the ``_redis_*`` modules are imported here by name.
"""

from __future__ import annotations

from checks._redis_server import clients, eviction_policy, evictions, fragmentation, hit_ratio, maxmemory, slowlog
from checks._redis_ttl import ttl_policy
from checks.collectors.redis import collect

__all__ = ["clients", "collect", "eviction_policy", "evictions", "fragmentation", "hit_ratio", "maxmemory",
           "slowlog", "ttl_policy"]
