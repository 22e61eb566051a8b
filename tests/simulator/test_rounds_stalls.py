"""Full garbage collections in the knee model: a stop of one worker's loop for the collection's length,
at the pace the light-load runs measured (refservice's ``python_gc_pause_seconds``). The knee bench's
workers stopped ~0.1 s once every few thousand requests; at 85 % load the requests behind one such
stop made a large part of P99, while at light load it barely shows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench import knee_counts
from simulator import rounds
from simulator.knee import KneeParams, Paths, load_profile, predict
from simulator.knee_trace import stalls

QUIET = {"steps": 1, "statements_per_write": 1, "pool": 8, "callback": 0.0, "wake": 0.0, "slice_s": 0.0015,
         "io_l2": 0.0, "io_db": 0.0, "io_db_write": 0.0}


def test_a_stall_holds_up_its_loop_and_the_backlog_drains_behind_it():
    """Requests every 10 ms of 5 ms CPU (50 % busy); a 100 ms stop at 0.5 s: the request arriving just
    after it waits out the stop, and the backlog then drains at the spare half of the core."""
    arrival = np.arange(0.0, 2.0, 0.010)
    n = arrival.size
    path = np.full(n, rounds.HIT)
    got = rounds.replay(np.append(arrival, 0.5), np.zeros(n + 1, np.int64), np.append(path, rounds.STALL),
                        np.append(np.full(n, 0.005), 0.100), cores=1, **QUIET)
    assert 0.100 <= got.latency[-1] <= 0.100 + 0.0025 + 1e-9  # one piece of CPU, after the callback in progress
    lat = got.latency[:n]
    before, behind = lat[arrival < 0.5], lat[(arrival > 0.5) & (arrival < 0.52)]
    assert np.allclose(before, 0.005)
    # arrived 10 ms into the stop: waits out the other 90 ms, then a round behind everything that queued meanwhile
    assert 0.090 <= behind[0] <= 0.130
    # ~100 ms of backlog drains at 5 ms per 10 ms: gone after ~200 ms, so requests from 0.75 s on are untouched
    assert np.allclose(lat[arrival >= 0.75], 0.005) and lat[(arrival > 0.5) & (arrival < 0.68)].min() > 0.005


def _knee(**kw) -> KneeParams:
    return KneeParams(instances=2, cores=1.0, cpu_hit_ms=1.8, cpu_miss_ms=2.1, l2_ms=0.06, db_ms=0.1, db_write_ms=0.3,
                      steps=4, statements_per_write=3, wake_ms=0.28, **kw)


def test_stalls_come_at_the_measured_pace_per_worker_and_keep_the_cpu_per_request():
    """One stop per ``gc_every`` requests a worker serves; the collections' CPU is already in the calibrated
    CPU per request, so adding them as stops leaves the model's CPU per request where it was."""
    params = _knee(gc_pause_ms=100.0, gc_every=2000.0)
    at, loop = stalls(params, rate=400.0, until=60.0, loops=2, seed=1)
    per_loop = np.bincount(loop, minlength=2)
    assert per_loop.tolist() in ([6, 6], [5, 6], [6, 5], [5, 5])  # 200 requests/s per worker: every 10 s
    assert np.allclose(np.diff(np.sort(at[loop == 0])), 10.0)
    paths = Paths(l1=0.5, l2=0.2, db=0.3, write_ratio=0.02)
    plain = load_profile(replace(params, gc_every=0.0), paths, 250.0, 60.0)
    stalled = load_profile(params, paths, 250.0, 60.0)
    assert stalled.cpu_ms == pytest.approx(plain.cpu_ms, rel=0.01)


def test_a_stall_costs_p99_more_the_busier_the_service():
    paths = Paths(l1=0.5, l2=0.2, db=0.3, write_ratio=0.02)
    plain, stalled = _knee(), _knee(gc_pause_ms=100.0, gc_every=4000.0)

    def growth(rate: float) -> float:
        return (predict(stalled, paths, rate, duration_s=30.0).p99_ms
                / predict(plain, paths, rate, duration_s=30.0).p99_ms)

    light, busy = growth(150.0), growth(420.0)  # ~35 % and ~85 % of the core
    assert light < 1.3 < busy


def test_the_collections_pace_is_pooled_over_the_light_runs():
    runs = [{"gc_full_collections": 1, "gc_full_pause_s": 0.09, "served_reads": 2900, "served_writes": 100},
            {"gc_full_collections": 2, "gc_full_pause_s": 0.24, "served_reads": 2950, "served_writes": 50},
            {"gc_full_collections": 0, "gc_full_pause_s": 0.0, "served_reads": 3000, "served_writes": 0}]
    gc = knee_counts.gc_calibration(runs)
    assert gc["full_collections"] == 3 and gc["pause_ms"] == pytest.approx(110.0)
    assert gc["requests_per_collection"] == pytest.approx(3000.0)
    none = knee_counts.gc_calibration(runs[2:])
    assert none["pause_ms"] is None and none["requests_per_collection"] is None


def _light(promoted: float, young: int, long_lived: list[float], *, served: int = 3000,
           lifetime: tuple[int, float] = (2, 0.16)) -> dict:
    return {"gc_full_collections": 0, "gc_full_pause_s": 0.0, "served_reads": served * 0.98,
            "served_writes": served * 0.02, "gc_promoted": promoted, "gc_young_collections": young,
            "gc_long_lived": long_lived, "gc_lifetime_full_collections": lifetime[0],
            "gc_lifetime_full_pause_s": lifetime[1]}


def test_the_pace_of_full_collections_comes_from_what_is_promoted_not_from_collections_seen():
    """Light runs see no full collection in their windows, yet the workers' promotions say when one is due:
    a quarter of the long-lived objects promoted again (CPython's rule), or eleven generation-1 collections
    if that comes later. The pause is every timed full collection's mean (start-up ones included)."""
    runs = [_light(6000.0, 3, [90_000.0, 94_000.0]), _light(6000.0, 3, [92_000.0, 92_000.0])]
    gc = knee_counts.gc_calibration(runs)
    assert gc["promoted_per_request"] == pytest.approx(2.0)
    assert gc["requests_per_collection"] == pytest.approx(92_000 / 4 / 2.0)  # 11,500 > 11 / (6 / 6000) = 11,000
    assert gc["pause_ms"] == pytest.approx(80.0) and gc["full_collections"] == 0
    few = knee_counts.gc_calibration([_light(6000.0, 1, [92_000.0])])  # one young collection per 3000 requests
    assert few["requests_per_collection"] == pytest.approx(33_000.0)
    none = knee_counts.gc_calibration([_light(0.0, 0, [92_000.0])])
    assert none["requests_per_collection"] is None
    assert gc["seen_pause_ms"] is None  # no window saw one
    seen = knee_counts.gc_calibration([{**_light(6000.0, 3, [92_000.0]), "gc_full_collections": 2,
                                        "gc_full_pause_s": 0.09}])
    assert seen["seen_pause_ms"] == pytest.approx(45.0) and seen["pause_ms"] == pytest.approx(80.0)


def test_the_report_shows_what_each_loads_windows_saw_not_the_rules_pace():
    """Per sweep load the report gives the collections the windows saw, requests served per collection and
    their own mean pause; a promotion-paced file's ``pause_ms`` (start-up collections in it) is not shown as
    the windows' pause."""
    from bench.knee_report import _seen_collections

    row = {"full_collections": 6, "requests_served": 47_512.0, "pause_ms": 41.3, "requests_per_collection": 9333.0,
           "since": "start-up", "seen_pause_ms": 52.0}
    assert _seen_collections(row) == "6 (7,919 req, 52 ms)"
    assert _seen_collections({**row, "seen_pause_ms": None}) == "6 (7,919 req)"
    older = {"full_collections": 6, "requests_served": 35_460.0, "pause_ms": 119.2, "requests_per_collection": 5910.0}
    assert _seen_collections(older) == "6 (5,910 req, 119 ms)"
    assert _seen_collections({**older, "full_collections": 0}) == "0"


def test_after_a_start_up_collection_the_first_stall_comes_when_the_warm_up_leaves_it_due():
    """Workers that collected once started and then served ``gc_served_s`` of the same load stop when the rest
    of a period has passed, on every loop, not at a random phase."""
    fresh = _knee(gc_pause_ms=100.0, gc_every=4000.0, gc_served_s=5.5)
    at, loop = stalls(fresh, rate=400.0, until=60.0, loops=2, seed=1)
    period = 4000.0 * 2 / 400.0  # 20 s per loop
    assert sorted(at[loop == 0]) == pytest.approx([14.5, 34.5, 54.5])
    assert sorted(at[loop == 1]) == pytest.approx([14.5, 34.5, 54.5])
    late = replace(fresh, gc_served_s=period + 3.0)  # one already came during the warm-up
    assert sorted(stalls(late, rate=400.0, until=30.0, loops=2, seed=1)[0])[0] == pytest.approx(17.0)
    random_phase = stalls(replace(fresh, gc_served_s=None), rate=400.0, until=60.0, loops=2, seed=1)[0]
    assert not np.allclose(sorted(random_phase)[:2], [14.5, 14.5])
