"""Engine behaviour: determinism, staleness sources, replicas, verdicts, latency, JSON output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulator import simulate
from simulator.workload import build_trace, zipf_pmf

from .conftest import make

SHORT = {"duration_s": 120, "warmup_s": 20}


def test_zipf_sampling_follows_the_pmf():
    sc = make(**SHORT, **{"data_types.product.zipf": 1.3})
    tr = build_trace(sc)
    ks = tr.key[(tr.key < 20000)]
    freq = np.bincount(ks, minlength=20000) / ks.size
    assert freq[:5] == pytest.approx(zipf_pmf(20000, 1.3)[:5], rel=0.05)
    assert tr.t.size == pytest.approx(2000 * 120, rel=0.02)
    assert np.all(np.diff(tr.t) >= 0)


def test_same_seed_same_answer_other_seed_other_sample():
    a = simulate(make(**SHORT), "trace")
    b = simulate(make(**SHORT), "trace")
    c = simulate(make(**SHORT, seed=99), "trace")
    assert a.hit_ratio == b.hit_ratio and a.latency_ms == b.latency_ms
    assert a.hit_ratio != c.hit_ratio


def test_no_writes_means_no_stale_reads():
    for engine in ("trace", "analytic"):
        assert simulate(make(**SHORT), engine).stale_read_probability.total == 0.0


def test_stale_reads_come_from_where_the_config_says():
    writes = {"data_types.product.writes_per_s": 30.0, "data_types.listing.writes_per_s": 20.0}
    # invalidation everywhere and no replicas: nothing can be stale
    clean = make(**SHORT, **writes, **{"invalidation.l1": "all", "db.replicas": 0})
    assert simulate(clean, "trace").stale_read_probability.total == 0.0
    # L1 only dropped on the writer: other instances serve stale L1 copies
    local = simulate(make(**SHORT, **writes, **{"invalidation.l1": "local", "db.replicas": 0}), "trace")
    assert local.stale_read_probability.from_l1 > 0 and local.stale_read_probability.from_l2 == 0
    # replica lag: DB reads right after a write return the old row, and L2 keeps it
    lagged = make(**SHORT, **writes, **{"invalidation.l1": "all", "db.replicas": 2, "db.lag.mean_ms": 500})
    res = simulate(lagged, "trace")
    assert res.stale_read_probability.from_db > 0 and res.stale_read_probability.from_l2 > 0
    # no invalidation at all: far more stale reads, and the analytic engine sees the same ordering
    off = make(**SHORT, **writes, **{"invalidation.enabled": False, "db.replicas": 0})
    for engine in ("trace", "analytic"):
        r_off = simulate(off, engine).stale_read_probability.total
        r_local = simulate(make(**SHORT, **writes, **{"invalidation.l1": "local", "db.replicas": 0}),
                           engine).stale_read_probability.total
        assert r_off > 2 * r_local > 0


@pytest.mark.parametrize("inv,replicas,lag_ms", [("none", 0, 0), ("local", 0, 0), ("local", 2, 200),
                                                  ("all", 2, 50), ("none", 2, 50)])
def test_stale_probability_engines_agree(inv, replicas, lag_ms):
    """Steady state (600 s, TTLs 20-30 s): L1 age, L2 age and replica-lag staleness agree within 10 %."""
    writes = {"data_types.product.writes_per_s": 30.0, "data_types.listing.writes_per_s": 20.0}
    sc = make(**writes, **{"invalidation.l1": inv, "db.replicas": replicas, "db.lag.mean_ms": lag_ms})
    a = simulate(sc, "analytic").stale_read_probability
    t = simulate(sc, "trace").stale_read_probability
    assert a.total == pytest.approx(t.total, rel=0.1)
    assert a.from_l1 == pytest.approx(t.from_l1, rel=0.1)
    if replicas:
        assert a.from_l2 == pytest.approx(t.from_l2, rel=0.15)


def test_replicas_split_reads_and_primary_takes_writes():
    sc = make(**SHORT, **{"db.replicas": 3, "data_types.product.writes_per_s": 10.0})
    for engine in ("trace", "analytic"):
        res = simulate(sc, engine)
        names = [n.name for n in res.db_nodes]
        assert names == ["primary", "replica-1", "replica-2", "replica-3"]
        primary, *reps = res.db_nodes
        assert primary.reads_per_s == 0 and primary.writes_per_s == pytest.approx(10.0, rel=0.1)
        assert all(r.writes_per_s == 0 for r in reps)
        assert max(r.reads_per_s for r in reps) == pytest.approx(min(r.reads_per_s for r in reps), rel=0.02)
        total_reads = sum(r.reads_per_s for r in reps)
        assert total_reads == pytest.approx(res.reads_per_s * (1 - res.hit_ratio.overall), rel=0.01)


def test_latency_engines_agree_on_a_busy_database():
    # no cache: every read queues at one DB node at ~80 % utilisation
    sc = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.replicas": 0, "db.cores_per_node": 4,
                          "db.read.mean_ms": 1.6, "app.service.mean_ms": 1.0})
    a, t = simulate(sc, "analytic"), simulate(sc, "trace")
    assert t.db_nodes[0].utilisation == pytest.approx(0.8, abs=0.03)
    assert a.db_nodes[0].cpu == pytest.approx(t.db_nodes[0].cpu, rel=0.03)
    for q in ("p50", "p95", "p99"):
        assert getattr(a.latency_ms, q) == pytest.approx(getattr(t.latency_ms, q), rel=0.1), q


def test_verdict_follows_the_targets():
    ok = simulate(make(**SHORT), "analytic")
    assert ok.hit_ratio.overall < 0.9 and not ok.verdict.hit_ratio_ok and not ok.verdict.passed
    assert any("hit ratio" in r for r in ok.verdict.reasons)
    relaxed = simulate(make(**SHORT, **{"targets.hit_ratio": 0.5}), "analytic")
    assert relaxed.verdict.passed and relaxed.verdict.reasons == []
    hot = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.replicas": 0, "db.cores_per_node": 1,
                           "db.read.mean_ms": 0.6})
    res = simulate(hot, "analytic")
    assert math.isinf(res.latency_ms.p99) and not res.verdict.db_cpu_ok
    assert any("overloaded" in r for r in res.verdict.reasons)
    doc = json.loads(res.to_json())
    assert doc["latency_ms"]["p99"] is None  # strict JSON: infinity becomes null


def test_result_json_shape():
    doc = json.loads(simulate(make(**SHORT), "trace").to_json())
    for key in ("hit_ratio", "by_type", "db_nodes", "db_queries_per_s", "latency_ms", "stale_read_probability",
                "verdict", "engine"):
        assert key in doc
    assert set(doc["by_type"]) == {"product", "listing"}
    assert set(doc["latency_ms"]) == {"mean", "p50", "p95", "p99"}


def test_warm_start_gives_steady_state_in_a_short_run():
    """A 90 s run under 1 h TTLs: cold caches are still filling, a warm start is at steady state."""
    long_ttl = {"data_types.product.l2_ttl_s": 3600, "data_types.listing.l2_ttl_s": 3600, "duration_s": 90,
                "warmup_s": 10, "db.replicas": 0}
    analytic = simulate(make(**long_ttl), "analytic").hit_ratio.l2
    warm = simulate(make(**long_ttl, warm_start=True), "trace").hit_ratio.l2
    cold = simulate(make(**long_ttl, warm_start=False), "trace").hit_ratio.l2
    assert warm == pytest.approx(analytic, abs=0.01)
    assert cold < warm - 0.05


def test_too_large_for_the_trace_engine_is_a_clear_error():
    huge = make(**{"app.instances": 1000, "data_types.product.keys": 1_000_000, "duration_s": 1, "warmup_s": 0})
    with pytest.raises(ValueError, match="analytic engine"):
        simulate(huge, "trace")
    assert simulate(huge, "analytic").reads_per_s == pytest.approx(2000)


def test_tiny_runs_do_not_crash():
    res = simulate(make(users=0.001, duration_s=1, warmup_s=0), "trace")
    assert res.simulated_requests == 0 and res.hit_ratio.overall == 0.0


@pytest.mark.parametrize("dist", ["const", "lognormal"])
def test_latency_engines_agree_for_other_service_laws(dist):
    """M/D/c and M/G/c nodes: the analytic Allen-Cunneen correction follows the exact recursion."""
    sc = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.replicas": 0, "db.cores_per_node": 4,
                          "db.read.mean_ms": 1.6, "db.read.dist": dist, "db.read.cv": 1.5,
                          "app.service.mean_ms": 0.2})
    a, t = simulate(sc, "analytic"), simulate(sc, "trace")
    assert a.latency_ms.p99 == pytest.approx(t.latency_ms.p99, rel=0.15)
    assert a.latency_ms.mean == pytest.approx(t.latency_ms.mean, rel=0.1)


def test_fast_path_for_l1_hits_in_both_engines():
    """A cheap L1-hit path lowers latency and the app's queueing alike in both engines."""
    base = {**SHORT, "app.workers": 1, "app.instances": 4, "app.service.mean_ms": 1.5,
            "app.service.dist": "const"}
    slow = make(**base)
    fast = make(**base, **{"app.hit_service": {"mean_ms": 0.2, "dist": "const"}})
    for engine in ("analytic", "trace"):
        assert simulate(fast, engine).latency_ms.p50 < simulate(slow, engine).latency_ms.p50
    a, t = simulate(fast, "analytic"), simulate(fast, "trace")
    assert a.latency_ms.mean == pytest.approx(t.latency_ms.mean, rel=0.1)
    assert a.latency_ms.p99 == pytest.approx(t.latency_ms.p99, rel=0.2)
