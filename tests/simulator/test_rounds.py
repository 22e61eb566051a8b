"""The event-loop round model (simulator/rounds.py): exact at light load, work-conserving, a pool
that queues like M/D/1, loops that share a core fairly, and the mechanism it exists for: under
load a request waits a round per await, so latency follows the awaits, not the CPU."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from simulator import rounds
from simulator.knee import KneeParams, Paths, predict, ps_sojourn
from simulator.knee_trace import loops_of
from simulator.queueing import fcfs_waits

IO = {"io_l2": 0.0, "io_db": 0.0, "io_db_write": 0.0}
QUIET = {"steps": 1, "statements_per_write": 1, "pool": 8, "callback": 0.0, "wake": 0.0, "slice_s": 0.0015}


def _poisson(rate: float, n: int, seed: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))


def _replay(arrival, path, cpu, loop=None, cores=1, **kw):
    loop = np.zeros(arrival.size, np.int64) if loop is None else loop
    args = {**IO, **QUIET, **kw}
    return rounds.replay(arrival, loop, np.asarray(path, np.int64), cpu, cores=cores, **args)[0]


def test_alone_a_request_takes_its_cpu_plus_its_round_trips():
    """Far apart nobody waits: latency = CPU + the I/O of its path (an L2 read: one Redis trip; a
    database read: Redis miss, the query, the Redis store; a write: its statements and one invalidation)."""
    n = 40
    arrival = np.arange(n) * 1.0
    path = np.tile([rounds.HIT, rounds.L2, rounds.DB, rounds.WRITE], n // 4)
    cpu = np.full(n, 0.002)
    io = {"io_l2": 0.0001, "io_db": 0.0003, "io_db_write": 0.0004}
    got = _replay(arrival, path, cpu, **io, statements_per_write=3)
    want = {rounds.HIT: 0.002, rounds.L2: 0.0021, rounds.DB: 0.002 + 2 * 0.0001 + 0.0003,
            rounds.WRITE: 0.002 + 3 * 0.0004 + 0.0001}
    assert np.allclose(got, [want[p] for p in path])
    # alone, the loop sleeps in epoll at the arrival and at every await: each wakes it once
    sleeps = {rounds.HIT: 1, rounds.L2: 2, rounds.DB: 4, rounds.WRITE: 5}
    woken, wakes, _ = rounds.replay(arrival, np.zeros(n, np.int64), np.asarray(path, np.int64), cpu, cores=1,
                                    **{**QUIET, **io, "statements_per_write": 3, "wake": 0.0005})
    assert wakes[:, 0].tolist() == [sleeps[p] for p in path] and not wakes[:, 1].any()
    assert np.allclose(woken - got, [0.0005 * sleeps[p] for p in path])


@pytest.mark.parametrize("loops", [1, 3])
def test_a_busy_core_is_work_conserving(loops):
    """Without I/O or wake-ups the core never idles while work is waiting, whatever the order: each
    busy period ends when FCFS's would, so the last request finishes at the FCFS time."""
    rng = np.random.default_rng(3)
    n = 20_000
    arrival = _poisson(800.0, n, 4)
    cpu = rng.lognormal(np.log(0.001) - 0.5, 1.0, n)  # mean 1 ms: rho 0.8
    loop = rng.integers(0, loops, n)
    got = _replay(arrival, np.full(n, rounds.HIT), cpu, loop=loop)
    fcfs = fcfs_waits(arrival, cpu, 1) + cpu
    assert (arrival + got).max() == pytest.approx((arrival + fcfs).max(), rel=1e-9)
    assert got.mean() > fcfs.mean() * 0.5  # and it does queue


def test_under_load_latency_follows_the_awaits_not_the_cpu():
    """Two kinds of request with the same CPU, one answering from L1 and one awaiting Redis (a 10 us
    trip): processor sharing gives them the same latency; an event loop makes the second wait three
    more rounds (flush, reader, resumed task), which at 80 % load is most of its latency."""
    rng = np.random.default_rng(5)
    n = 60_000
    arrival = _poisson(800.0, n, 6)
    cpu = np.full(n, 0.001)
    path = np.where(rng.random(n) < 0.5, rounds.HIT, rounds.L2)
    got = _replay(arrival, path, cpu, io_l2=1e-5)
    hit, l2 = got[path == rounds.HIT].mean(), got[path == rounds.L2].mean()
    assert l2 > 1.5 * hit
    ps = ps_sojourn(arrival, cpu, 1.0)
    assert ps[path == rounds.L2].mean() == pytest.approx(ps[path == rounds.HIT].mean(), rel=0.05)


def test_the_pool_is_a_fcfs_queue_of_connection_holds():
    """One connection, database reads at 60/s, a 10 ms query and almost no CPU: the connection is an
    M/D/1 server, so the mean wait is rho S / (2 (1 - rho)) (Pollaczek-Khinchine) on top of the query."""
    n, rate, query = 60_000, 60.0, 0.010
    arrival = _poisson(rate, n, 7)
    got = _replay(arrival, np.full(n, rounds.DB), np.full(n, 1e-7), io_db=query, pool=1)
    rho = rate * query
    assert got.mean() == pytest.approx(query + rho * query / (2 * (1 - rho)), rel=0.05)
    eight = _replay(arrival, np.full(n, rounds.DB), np.full(n, 1e-7), io_db=query, pool=8)
    assert eight.mean() == pytest.approx(query, rel=0.02)  # enough connections: nobody waits for one


def test_loops_on_their_own_cores_do_not_interact():
    rng = np.random.default_rng(8)
    n = 10_000
    arrival = _poisson(1500.0, n, 9)
    cpu = rng.exponential(0.001, n)
    path = rng.integers(0, 4, n)
    loop = rng.integers(0, 2, n)
    together = _replay(arrival, path, cpu, loop=loop, cores=2, io_l2=1e-4, io_db=2e-4)
    for k in (0, 1):
        sel = loop == k
        alone = _replay(arrival[sel], path[sel], cpu[sel], io_l2=1e-4, io_db=2e-4)
        assert np.allclose(together[sel], alone)


def test_loops_sharing_a_core_share_it_fairly():
    """An overloaded loop does not starve its neighbour on the same core: the kernel gives each
    runnable loop its turn, so the light loop's requests wait slices, not the other loop's queue."""
    n = 6_000
    heavy_arr = _poisson(1500.0, n, 10)  # 1.5 x the core on its own
    light_arr = _poisson(100.0, n // 15, 11)
    arrival = np.concatenate([heavy_arr, light_arr])
    loop = np.concatenate([np.zeros(heavy_arr.size, np.int64), np.ones(light_arr.size, np.int64)])
    got = _replay(arrival, np.full(arrival.size, rounds.HIT), np.full(arrival.size, 0.001), loop=loop)
    heavy, light = got[loop == 0], got[loop == 1]
    assert np.quantile(light, 0.99) < 0.02  # a few slices of 1.5 ms at most
    assert heavy.max() > 1.0  # while the overloaded loop's queue grows without bound


def test_instances_get_a_loop_per_spare_core():
    params = KneeParams(instances=2, cores=4.0, cpu_hit_ms=1, cpu_miss_ms=1, pool_per_instance=10)
    u = np.linspace(0, 0.999, 1000)
    loop, cores, speed, pool = loops_of(params, u)
    assert (cores, speed, pool) == (4, 1.0, 5) and set(loop) == {0, 1, 2, 3}
    assert np.bincount(loop).min() >= 240  # spread evenly
    loop, cores, speed, pool = loops_of(replace(params, instances=4, cores=1.5), u)
    assert (cores, speed, pool) == (2, 0.75, 10) and set(loop) == {0, 1, 2, 3}


ROUNDS = KneeParams(instances=2, cores=1.0, cpu_hit_ms=0.5, cpu_miss_ms=1.5, cpu_cv=1.0, l2_ms=0.1, db_ms=0.2,
                    overhead_ms=0.4, steps=4, statements_per_write=3, wake_ms=0.3)
PATHS = Paths(l1=0.5, l2=0.25, db=0.25, write_ratio=0.02)


def test_p99_is_monotone_in_load_and_explodes_past_saturation():
    """What `capacity`'s bisection relies on; past saturation the queue grows with the trace."""
    sat = ROUNDS.saturation_rate(PATHS)
    p99 = [predict(ROUNDS, PATHS, f * sat, duration_s=30).p99_ms for f in (0.2, 0.5, 0.7, 0.85, 0.9, 0.95, 1.05)]
    assert all(b >= a * 0.98 for a, b in itertools.pairwise(p99)), p99
    assert p99[-1] > 20 * p99[0]


def test_wake_ups_fall_with_load_and_the_cpu_per_request_with_them():
    """At a trickle every arrival and every await finds the loop asleep (path-weighted 1/2/4/5 wake-ups);
    in overload the loops never sleep, so the CPU per request is the busy-loop CPU and the saturation
    rate is where `KneeParams.saturation_rate` puts it."""
    from simulator.knee import load_profile

    trickle = load_profile(ROUNDS, PATHS, rate=1.0, duration_s=4000)
    reads = 1 - PATHS.write_ratio
    expected = reads * (PATHS.l1 * 1 + PATHS.l2 * 2 + PATHS.db * 4) + PATHS.write_ratio * 5
    assert trickle.wakes == pytest.approx(expected, rel=0.03)
    busy_cpu = ROUNDS.mean_cpu_ms(PATHS)
    assert trickle.cpu_ms == pytest.approx(busy_cpu + expected * ROUNDS.wake_ms, rel=0.03)
    sat = ROUNDS.saturation_rate(PATHS)
    profiles = [load_profile(ROUNDS, PATHS, f * sat, duration_s=30) for f in (0.3, 0.6, 0.85, 1.2)]
    wakes = [p.wakes for p in profiles]
    assert all(b < a for a, b in itertools.pairwise(wakes)), wakes
    assert wakes[-1] < 0.02 * expected
    assert profiles[-1].cpu_ms == pytest.approx(busy_cpu, rel=0.03)


def test_two_loops_in_overload_switch_once_per_slice_and_pay_for_it():
    """Both loops always have work: the core changes hands when a slice is used up, so there are
    (CPU per request / slice) preemptions per request, each charged ``switch`` once."""
    n, cpu_s = 4000, 0.002
    arrival = np.zeros(n)  # all at once: both loops backlogged until the end
    loop = np.arange(n) % 2
    args = {**IO, **QUIET, "slice_s": 0.005}
    paid = rounds.replay(arrival, loop, np.full(n, rounds.HIT), np.full(n, cpu_s), cores=1, **args).paid
    assert paid[:, 1].sum() / n == pytest.approx(cpu_s / 0.005, rel=0.05)
    costly, paid2, _ = rounds.replay(arrival, loop, np.full(n, rounds.HIT), np.full(n, cpu_s), cores=1,
                                     **{**args, "switch": 0.0003})
    total = cpu_s * n + 0.0003 * paid2[:, 1].sum()
    assert costly.max() == pytest.approx(total, rel=1e-9)  # the core was never idle: the last ends at the sum


def test_a_loop_that_wakes_takes_the_core_at_the_next_callback():
    """Loop 0 has a long backlog; a request for the idle loop 1 runs at the next callback boundary
    (wake-up preemption), not after loop 0's slice, and that preemption is counted."""
    backlog = np.zeros(50)
    arrival = np.concatenate([backlog, [0.0101]])
    loop = np.concatenate([np.zeros(50, np.int64), [1]])
    cpu = np.full(51, 0.001)  # callbacks of 0.5 ms (parse + one step)
    got, paid, _ = rounds.replay(arrival, loop, np.full(51, rounds.HIT), cpu, cores=1,
                                 **{**IO, **QUIET, "slice_s": 0.05})
    assert got[-1] <= 0.0005 + 0.001 + 1e-9  # waited at most the callback in progress
    assert paid[:, 1].sum() >= 1
