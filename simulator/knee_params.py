"""What the knee model is given: the path mix, the keys the requests ask for, and one configuration's
service demands (`KneeParams`), calibrated at light load. Kept apart from the replay (`knee_trace`)
and the answers built on it (`knee`), which both take them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .model import Scenario

__all__ = ["Discipline", "Keys", "KneeParams", "Paths", "paths_from_result"]

Discipline = Literal["rounds", "ps", "fcfs"]


@dataclass(frozen=True)
class Paths:
    """Where reads are answered (shares of reads) and how many reads are stale, from the cache model."""

    l1: float
    l2: float
    db: float
    stale: float = 0.0
    write_ratio: float = 0.0  # writes / all requests


@dataclass(frozen=True)
class Keys:
    """Which keys the requests ask for and how long the caches keep them. Given, the round replay finds
    every read's path as the service does, at the moment its lookup runs (`rounds.replay`, keyed), so
    fills that land late near the knee, and reads waiting on another's fill, change the path mix; without
    it, paths are drawn from the cache model's mix (`Paths`), answered as if at arrival."""

    count: int
    zipf: float = 1.0  # P(k) ~ k^-zipf over keys 1..count, reads and writes alike
    l1_ttl_s: float = 5.0
    l2_ttl_s: float = 20.0
    warmup_s: float = 5.0  # the same load replayed first, from empty caches, and left out
    gap_s: float = 0.0  # between the warm-up and the measured window (caches age, queues are gone)

    def of(self, u: np.ndarray) -> np.ndarray:
        """Keys (0-based) for uniform draws ``u`` by the inverse CDF, as the load generator draws them."""
        cdf = np.cumsum(np.arange(1, self.count + 1, dtype=np.float64) ** -self.zipf)
        return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), self.count - 1).astype(np.int64)


@dataclass(frozen=True)
class KneeParams:
    """Service demands of one configuration (ms), as calibrated at light load."""

    instances: int
    cores: float
    cpu_hit_ms: float
    cpu_miss_ms: float
    cpu_cv: float = 1.0
    l2_ms: float = 0.1
    db_ms: float = 0.2
    db_write_ms: float = 0.4
    pool_per_instance: int = 8
    db_cores: int = 2
    overhead_ms: float = 0.0
    wake_ms: float = 0.0
    discipline: Discipline = "rounds"
    # the event-loop round model (`rounds`): task steps of application work before the cache lookup
    # (awaits between computations), CPU of a flush / reader callback, the kernel's time slice when
    # loops share a core, and how many statements a write's transaction sends
    steps: int = 1
    callback_ms: float = 0.02
    slice_ms: float = 1.5
    statements_per_write: int = 1
    # CPU of an involuntary context switch between loops sharing a core (rounds; calibrated beside wake_ms)
    switch_ms: float = 0.0
    # requests in service at once (the clients' connections; 0: unbounded). Beyond it requests wait
    # FCFS at the client, charged from their intended send time as the load generator charges them.
    max_in_service: int = 0
    # the keys and cache TTLs (rounds only): the replay then finds each read's path itself
    keys: Keys | None = None
    # full garbage collections (rounds only): each stops its loop for ``gc_pause_ms`` of CPU, once per
    # ``gc_every`` requests that loop serves (0: none). The CPU times above include their average share.
    gc_pause_ms: float = 0.0
    gc_every: float = 0.0
    # seconds of this load each loop has served since its last full collection when the window opens (the
    # knee bench's workers collect once started, then serve the warm-up); None: a random phase per loop
    # (workers that have run a while)
    gc_served_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.keys, dict):  # as stored by `dataclasses.asdict`
            object.__setattr__(self, "keys", Keys(**self.keys))

    def scaled(self, cpu_scale: float) -> KneeParams:
        """The same configuration on a host that runs the CPU work ``cpu_scale`` times slower."""
        return replace(self, cpu_hit_ms=self.cpu_hit_ms * cpu_scale, cpu_miss_ms=self.cpu_miss_ms * cpu_scale,
                       wake_ms=self.wake_ms * cpu_scale, switch_ms=self.switch_ms * cpu_scale,
                       callback_ms=self.callback_ms * cpu_scale, gc_pause_ms=self.gc_pause_ms * cpu_scale)

    @property
    def gc_ms_per_request(self) -> float:
        """The full collections' CPU averaged over the requests (part of ``cpu_hit_ms`` and ``cpu_miss_ms``)."""
        return self.gc_pause_ms / self.gc_every if self.gc_every > 0 and self.discipline == "rounds" else 0.0

    def mean_cpu_ms(self, paths: Paths) -> float:
        """CPU per request: L1 hits on the fast path, everything else (writes included) on the full one."""
        reads = 1 - paths.write_ratio
        return reads * (paths.l1 * self.cpu_hit_ms + (1 - paths.l1) * self.cpu_miss_ms) \
            + paths.write_ratio * self.cpu_miss_ms

    def saturation_rate(self, paths: Paths) -> float:
        """Requests/s at which the service's cores are 100 % busy (no request then finds a loop idle)."""
        return self.cores * 1000.0 / self.mean_cpu_ms(paths)

    def utilisation(self, rate: float, paths: Paths) -> float:
        """Busy share of the cores at ``rate``: rho = lambda (c + w (1 - rho)) / cores, taking the share
        of requests that find their loop idle (and pay ``wake_ms``) as 1 - rho (PASTA; exact for one
        loop per core and one wake-up per request, as PS and FCFS charge it). Under rounds, where every
        await can find the loop asleep, `load_profile` counts the replay's own wake-ups instead."""
        lam = rate / 1000.0 / self.cores
        return lam * (self.mean_cpu_ms(paths) + self.wake_ms) / (1 + lam * self.wake_ms)

    @classmethod
    def from_scenario(cls, sc: Scenario, cores: float | None = None) -> KneeParams:
        """A scenario's service times. Unless ``cores`` says otherwise, each instance runs ``app.workers``
        event loops (one when 0, "unlimited", which has no CPU queue in the other engines), each on a core."""
        hit = sc.app.hit_service or sc.app.service
        cv = {"exp": 1.0, "const": 1e-3, "lognormal": sc.app.service.cv}[sc.app.service.dist]
        cores = cores or sc.app.instances * max(1, sc.app.workers)
        return cls(instances=sc.app.instances, cores=float(cores), cpu_hit_ms=hit.mean_ms,
                   cpu_miss_ms=sc.app.service.mean_ms, cpu_cv=cv,
                   l2_ms=(sc.l2.rtt_ms + sc.l2.service.mean_ms) if sc.l2.enabled else 0.0,
                   db_ms=sc.db.rtt_ms + sc.db.read.mean_ms,
                   db_write_ms=sc.db.rtt_ms + sc.db.write.mean_ms * sc.db.queries_per_write,
                   pool_per_instance=sc.db.pool_per_instance, db_cores=sc.db.cores_per_node,
                   overhead_ms=sc.app.rtt_ms, gc_pause_ms=sc.app.gc_pause_ms, gc_every=sc.app.gc_every_requests)


def paths_from_result(res: object) -> Paths:
    """The path mix of a `SimulationResult` (either engine)."""
    hit = res.hit_ratio  # type: ignore[attr-defined]
    reads, writes = res.reads_per_s, res.writes_per_s  # type: ignore[attr-defined]
    miss1 = 1 - hit.l1
    return Paths(l1=hit.l1, l2=miss1 * hit.l2, db=miss1 * (1 - hit.l2),
                 stale=res.stale_read_probability.total,  # type: ignore[attr-defined]
                 write_ratio=writes / (reads + writes) if reads + writes > 0 else 0.0)
