"""Small helpers the postgres checks share: target options with defaults, host facts, formatting.

Checks read thresholds from the target's options (validated by the collector's model) and fall
back to the model's defaults, so a snapshot re-scored offline with a bare target still works.
"""

from __future__ import annotations

from typing import Any

from checks.postgres.collector import PostgresOptions
from checks.postgres.tuning import Host, human_bytes, parse_size
from scaleready.api import Snapshot, Target

__all__ = ["host_of", "human_bytes", "human_seconds", "opt", "pct"]


def opt(target: Target, key: str) -> Any:
    """A target option, or the collector model's default for it."""
    value = target.option(key)
    if value is None:
        field = PostgresOptions.model_fields[key]
        value = field.get_default(call_default_factory=True)
    return value


def host_of(snapshot: Snapshot, target: Target) -> Host:
    """Host facts from the target (current config) or, failing that, from the snapshot."""
    recorded = snapshot.data.get("host") or {}
    memory = target.option("memory")
    mem_bytes = parse_size(memory) if memory is not None else recorded.get("memory")
    return Host(
        memory=mem_bytes,
        cpus=target.option("cpus") or recorded.get("cpus"),
        storage=target.option("storage") or recorded.get("storage"),
        workload=target.option("workload") or recorded.get("workload") or "web",
    )


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def pct(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"
