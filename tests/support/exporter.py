"""A tiny metrics exporter for tests: serves known, steadily growing series a real Prometheus scrapes.

Each profile is served at ``/<profile>/metrics``. Counters grow linearly with wall-clock
time from the moment the exporter starts, so ``rate()`` over them equals the configured
rate exactly, whatever the scrape timing: a profile with ``error_ratio=0.05`` yields an
error rate of 5 %, ``cache_hit_ratio=0.95`` a hit ratio of 95 %, and latency buckets give
a P99 that ``histogram_quantile`` interpolates inside a known bucket.

    with Exporter({"healthy": Profile(), "degraded": Profile(error_ratio=0.05)}) as exp:
        exp.target  # "127.0.0.1:PORT", metrics at exp.path("healthy")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from tests.support.text_exporter import TextExporter

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# Cumulative fraction of requests at or under each bucket bound.
FAST = {0.05: 0.60, 0.1: 0.90, 0.25: 0.995, 0.5: 0.999, 1.0: 1.0, 2.5: 1.0}  # p99 ≈ 0.23 s
SLOW = {0.05: 0.30, 0.1: 0.50, 0.25: 0.70, 0.5: 0.80, 1.0: 0.90, 2.5: 1.0}  # p99 ≈ 2.35 s


@dataclass(frozen=True)
class Profile:
    """What one simulated service looks like to Prometheus."""

    rps: float = 200.0
    error_ratio: float = 0.0
    latency: Mapping[float, float] = field(default_factory=lambda: dict(FAST))
    cache_hit_ratio: float = 0.95
    cache_ops: float = 500.0
    cpu_busy: float = 0.30  # fraction of each CPU not idle
    cpus: int = 2
    status_label: str = "status"  # "code" for promhttp-style counters
    omit: frozenset[str] = frozenset()  # metric families not to serve


def render(profile: Profile, elapsed: float) -> str:
    """The exposition text of ``profile`` after ``elapsed`` seconds."""
    t = max(elapsed, 0.0)
    lines: list[str] = []

    def family(name: str, kind: str, samples: list[tuple[str, float]]) -> None:
        if name in profile.omit:
            return
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:.6f}" for labels, value in samples)

    total = profile.rps * t
    errors = total * profile.error_ratio
    label = profile.status_label
    family("http_requests_total", "counter", [
        (f'{{method="GET",{label}="200"}}', total - errors),
        (f'{{method="GET",{label}="500"}}', errors),
    ])
    hist = [(f'{{le="{b}"}}', total * profile.latency.get(b, 1.0)) for b in BUCKETS]
    hist.append(('{le="+Inf"}', total))
    if "http_request_duration_seconds" not in profile.omit:
        lines.append("# TYPE http_request_duration_seconds histogram")
        lines.extend(f"http_request_duration_seconds_bucket{lbl} {v:.6f}" for lbl, v in hist)
        lines.append(f"http_request_duration_seconds_sum {total * 0.05:.6f}")
        lines.append(f"http_request_duration_seconds_count {total:.6f}")
    ops = profile.cache_ops * t
    family("redis_keyspace_hits_total", "counter", [("", ops * profile.cache_hit_ratio)])
    family("redis_keyspace_misses_total", "counter", [("", ops * (1 - profile.cache_hit_ratio))])
    family("redis_memory_used_bytes", "gauge", [("", 64 * 2**20)])
    cpu_samples = []
    for cpu in range(profile.cpus):
        cpu_samples.append((f'{{cpu="{cpu}",mode="idle"}}', t * (1 - profile.cpu_busy)))
        cpu_samples.append((f'{{cpu="{cpu}",mode="user"}}', t * profile.cpu_busy))
    family("node_cpu_seconds_total", "counter", cpu_samples)
    family("node_memory_MemAvailable_bytes", "gauge", [("", 2 * 2**30)])
    family("node_network_receive_bytes_total", "counter", [('{device="eth0"}', 1e6 * t)])
    family("pg_stat_database_xact_commit", "counter", [('{datname="app"}', 300 * t)])
    family("pg_replication_lag", "gauge", [("", 0.2)])
    return "\n".join(lines) + "\n"


class Exporter(TextExporter):
    """Serves profiles (``/<profile>/metrics``) over HTTP on 127.0.0.1 from a daemon thread until closed."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = dict(profiles)
        super().__init__({name: partial(render, profile) for name, profile in self.profiles.items()})
