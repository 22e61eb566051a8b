"""Read-replica routing (guide 3.2): writes to the primary, reads round-robin over replicas.

A background probe reads each replica's replay position and lag once a second; a replica that
lags beyond ``replica_max_lag_s`` or fails the probe (or a query) is skipped until it recovers.
Read-your-writes: after a write, the writer's session and the keys it wrote remember the
primary's WAL position; their reads go only to replicas that have replayed past it (else to the
primary), so neither the writer nor a cache fill of a just-written key sees the old row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from refservice.db import Node
from refservice.metrics import Metrics

log = logging.getLogger("refservice.routing")

_REPLICA_PROBE = (
    "SELECT pg_is_in_recovery(), "
    "COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint, "
    "CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8"
)
_PRIMARY_LSN = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"


@dataclass
class ReplicaState:
    node: Node
    healthy: bool = False
    lag_s: float = 0.0
    replay_lsn: int = 0
    last_error: str | None = None


class Router:
    """Chooses the node for each statement and keeps replica health current."""

    def __init__(self, primary: Node, replicas: list[Node], metrics: Metrics, *, max_lag_s: float,
                 ryw_window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.replicas = [ReplicaState(n) for n in replicas]
        self.metrics = metrics
        self.max_lag_s = max_lag_s
        self.ryw_window_s = ryw_window_s
        self.clock = clock
        self._next = 0
        self._pending: dict[str, tuple[int, float]] = {}  # session or key -> (write LSN, when)

    # -- choosing ------------------------------------------------------------------------------
    def writer(self) -> Node:
        return self.primary

    def reader(self, *tokens: str | None) -> Node:
        """A node for a read; ``tokens`` are the session id and/or cache keys this read concerns."""
        if not self.replicas:
            return self.primary
        need = 0
        now = self.clock()
        for token in tokens:
            if token is None:
                continue
            entry = self._pending.get(token)
            if entry is not None:
                if now - entry[1] > self.ryw_window_s:
                    del self._pending[token]
                else:
                    need = max(need, entry[0])
        n = len(self.replicas)
        for _ in range(n):
            state = self.replicas[self._next % n]
            self._next += 1
            if state.healthy and state.replay_lsn >= need:
                return state.node
        return self.primary

    def mark_failed(self, node: Node, error: BaseException) -> None:
        """A query on a replica failed: stop sending reads there until the probe says otherwise."""
        for state in self.replicas:
            if state.node is node and state.healthy:
                state.healthy = False
                state.last_error = type(error).__name__
                self.metrics.replica_healthy.labels(node.name).set(0)
                log.warning("replica failed, skipping it", extra={"node": node.name, "error": state.last_error})

    # -- read-your-writes ----------------------------------------------------------------------
    async def note_write(self, *tokens: str | None) -> None:
        """Remember the primary's WAL position after a committed write, for ``tokens``."""
        if not self.replicas:
            return
        row = await self.primary.fetchone(_PRIMARY_LSN)
        lsn = int(row[0]) if row else 0
        now = self.clock()
        for token in tokens:
            if token is not None:
                self._pending[token] = (lsn, now)
        if len(self._pending) > 50_000:  # bound the bookkeeping
            cutoff = now - self.ryw_window_s
            self._pending = {k: v for k, v in self._pending.items() if v[1] >= cutoff}

    # -- health --------------------------------------------------------------------------------
    async def probe(self) -> None:
        """Probe every replica once: replay position, lag, in-recovery."""
        for state in self.replicas:
            name = state.node.name
            try:
                row = await asyncio.wait_for(state.node.fetchone(_REPLICA_PROBE), timeout=2.0)
                assert row is not None
                in_recovery, replay_lsn, lag = bool(row[0]), int(row[1]), float(row[2])
            except Exception as exc:
                state.healthy, state.last_error = False, type(exc).__name__
                self.metrics.replica_healthy.labels(name).set(0)
                continue
            state.replay_lsn, state.lag_s, state.last_error = replay_lsn, lag, None
            state.healthy = in_recovery and lag <= self.max_lag_s
            if not in_recovery:
                state.last_error = "not in recovery"
            self.metrics.replication_lag.labels(name).set(lag)
            self.metrics.replica_healthy.labels(name).set(1 if state.healthy else 0)

    async def run_probes(self, interval_s: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.probe()
            await asyncio.sleep(interval_s)

    def status(self) -> list[dict[str, object]]:
        return [{"node": s.node.name, "healthy": s.healthy, "lag_s": round(s.lag_s, 3),
                 "replay_lsn": s.replay_lsn, "error": s.last_error} for s in self.replicas]
