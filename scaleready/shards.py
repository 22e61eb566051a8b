"""Sharded runs: one run over hundreds of targets split across separate processes (Kubernetes Jobs).

Every shard reads the same config and picks its own targets (``--shard i/n``: round-robin over
the selected targets in config order, so shards stay balanced whatever the targets' names).
All shards of one run share a *run key* (the Job's name, a CI pipeline id); the run id is
derived from it, so the shards need no coordinator: each one stores its findings under that
id and the store re-scores the merged run (`scaleready.shard_store`). A shard that never
reports leaves the run incomplete and its targets unknown, never silently passing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from scaleready.config import Config, ConfiguredTarget, redacted_target_summary
from scaleready.framework import Framework
from scaleready.plugins import Registry
from scaleready.results import RunResult
from scaleready.runner import execute, resolve_framework
from scaleready.shard_store import ShardStatus, save_shard
from scaleready.store import Store

_SHARD_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_RUN_KEY_NAMESPACE = uuid.UUID("6d1f3c2e-6a43-4f5e-9a57-2f0d3a9c51b7")
MAX_SHARDS = 1000


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, 1-based as people say it ("shard 2 of 4")."""

    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"2/4"`` → Shard(2, 4); ValueError with a readable reason otherwise."""
        match = _SHARD_SPEC.match(spec or "")
        if not match:
            raise ValueError(f"--shard '{spec}': expected INDEX/COUNT, e.g. 2/4")
        index, count = int(match.group(1)), int(match.group(2))
        if not 1 <= count <= MAX_SHARDS:
            raise ValueError(f"--shard '{spec}': COUNT must be between 1 and {MAX_SHARDS}")
        if not 1 <= index <= count:
            raise ValueError(f"--shard '{spec}': INDEX must be between 1 and {count} (1-based)")
        return cls(index, count)

    def owns(self, position: int) -> bool:
        """Whether the target at ``position`` (0-based, in config order) belongs to this shard."""
        return position % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(position: int, count: int) -> int:
    """The 1-based shard that owns the target at ``position``."""
    return position % count + 1


def run_id_for(run_key: str, environment: str | None = None) -> str:
    """The merged run's id: the same for every shard that names the same key and environment."""
    if not run_key.strip():
        raise ValueError("a sharded run needs a run key (--run-key), shared by all its shards")
    return str(uuid.uuid5(_RUN_KEY_NAMESPACE, f"{run_key}\x1f{environment or ''}"))


def expected_targets(selected: list[ConfiguredTarget], count: int) -> list[dict[str, Any]]:
    """Every target of the run with the shard that owns it (what the store needs to say which
    targets are unknown when a shard is missing). Names and kinds only, never options."""
    return [{**summary, "shard": shard_of(i, count)}
            for i, summary in enumerate(redacted_target_summary(selected))]


@dataclass
class ShardOutcome:
    """What one shard process reports: its own findings and the merged run's state."""

    shard_run: RunResult
    status: ShardStatus


def execute_shard(
    config: Config,
    shard: Shard,
    run_key: str,
    store: Store,
    *,
    environment: str | None = None,
    registry: Registry | None = None,
    framework: Framework | None = None,
    actor: str = "scaleready",
) -> ShardOutcome:
    """Run this shard's targets with the same runner as an unsharded run, then merge into the store."""
    base_dir = config.path.parent if config.path else None
    framework = framework or resolve_framework(config.framework, base_dir)
    selected = config.select(environment)
    mine = [t for i, t in enumerate(selected) if shard.owns(i)]
    run_id = run_id_for(run_key, environment or config.environment)
    shard_run, snapshots = execute(replace(config, targets=mine), store=store, registry=registry,
                                   framework=framework, environment=environment, save=False)
    shard_run = replace(shard_run, id=run_id)
    status = save_shard(store, shard_run, snapshots, framework, shard=(shard.index, shard.count),
                        run_key=run_key, expected=expected_targets(selected, shard.count),
                        config_path=str(config.path) if config.path else None, actor=actor)
    return ShardOutcome(shard_run, status)
