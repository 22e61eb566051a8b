"""Honest uncertainty: trace estimates carry intervals that cover the truth, rare events fall back
to the analytic figure, and an overload reads the same from both engines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulator import simulate
from simulator.uncertainty import BATCHES, MIN_STALE_EVENTS, p99_batch_interval, proportion_batch_interval

from .conftest import make

SHORT = {"duration_s": 120, "warmup_s": 20}


def test_batch_intervals_cover_known_truths_about_95_percent_of_the_time():
    """Independent data with a known answer: Bernoulli(p) flags and exponential latencies."""
    rng = np.random.default_rng(2024)
    p, n, reps = 0.004, 40_000, 300
    batch = np.sort(rng.integers(0, BATCHES, n))
    true_p99_ms = -math.log(0.01) * 10.0  # Exp(mean 10 ms)
    covered_p = covered_q = 0
    for _ in range(reps):
        iv = proportion_batch_interval(rng.random(n) < p, batch)
        covered_p += iv is not None and iv.low <= p <= iv.high
        q = p99_batch_interval(rng.exponential(0.010, n), batch)
        covered_q += q is not None and q.low <= true_p99_ms <= q.high
    assert 0.89 <= covered_p / reps <= 0.99
    assert 0.89 <= covered_q / reps <= 0.99


def test_trace_stale_reads_and_p99_come_with_intervals_that_hold_across_seeds():
    changes = {**SHORT, "db.lag.mean_ms": 200.0, "data_types.product.writes_per_s": 40.0,
               "data_types.listing.writes_per_s": 20.0}
    runs = [simulate(make(**changes, seed=seed), "trace") for seed in (1, 2, 3)]
    for res in runs:
        assert res.stale_read_source == "trace"
        iv, p99 = res.stale_read_interval, res.p99_interval_ms
        assert iv is not None and iv.low <= res.stale_read_probability.total <= iv.high
        assert p99 is not None and p99.low <= res.latency_ms.p99 <= p99.high
    # another seed's figure lies inside a run's interval (independent samples of one truth)
    inside = sum(a.stale_read_interval.low <= b.stale_read_probability.total <= a.stale_read_interval.high
                 for a in runs for b in runs if a is not b)
    assert inside >= 4
    doc = json.loads(runs[0].to_json())
    assert doc["stale_read_interval"]["method"].startswith("batch means")


def test_too_few_stale_events_use_the_analytic_figure_with_a_note():
    sc = make(**SHORT, **{"data_types.product.writes_per_s": 0.05})
    trace = simulate(sc, "trace")
    analytic = simulate(sc, "analytic")
    assert trace.stale_read_source == "analytic" and trace.stale_read_interval is None
    assert trace.stale_read_probability == analytic.stale_read_probability
    assert any(f"too few to estimate (< {MIN_STALE_EVENTS})" in n for n in trace.notes)


@pytest.mark.parametrize("engine", ["analytic", "trace"])
def test_an_overloaded_database_reads_as_offered_load_in_both_engines(engine):
    hot = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.replicas": 0, "db.cores_per_node": 1,
                           "db.read.mean_ms": 0.6})
    res = simulate(hot, engine)
    primary = res.db_nodes[0]
    assert primary.overloaded and primary.mean_wait_ms is None
    assert primary.cpu == 1.0 and primary.offered_load == pytest.approx(1.2, rel=0.03)
    assert math.isinf(res.latency_ms.p99) and res.p99_interval_ms is None
    reasons = "; ".join(res.verdict.reasons)
    assert "offered load 120 % of its CPUs" in reasons and "P99 unbounded" in reasons
    assert "inf" not in reasons and "DB CPU" not in reasons
    doc = json.loads(res.to_json())
    assert doc["latency_ms"]["p99"] is None and doc["db_nodes"][0]["mean_wait_ms"] is None


def test_an_overloaded_app_tier_is_said_by_both_engines():
    sc = make(**SHORT, **{"app.workers": 1, "app.instances": 2, "app.service.mean_ms": 1.5})
    for engine in ("analytic", "trace"):
        res = simulate(sc, engine)
        assert res.app_overloaded and "app instances" in "; ".join(res.verdict.reasons)
        assert math.isinf(res.latency_ms.p50)
