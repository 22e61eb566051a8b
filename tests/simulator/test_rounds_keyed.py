"""The keyed round replay (simulator/rounds.py with ``key``): a read's path is found when its lookup
runs, as the reference service finds it (refservice/cache.py: L1, then Redis, then one fill per key
at a time), so fills that land late and reads that wait on another's fill change the path mix."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator import rounds
from simulator.knee import Keys, KneeParams, Paths, predict

IO = {"io_l2": 0.0001, "io_db": 0.0003, "io_db_write": 0.0004}
QUIET = {"steps": 1, "statements_per_write": 1, "pool": 8, "callback": 0.0, "wake": 0.0, "slice_s": 0.0015}
HIT_S, MISS_S = 0.001, 0.0015


def _keyed(arrival, key, *, loop=None, writes=None, cache=None, **kw):
    n = arrival.size
    loop = np.zeros(n, np.int64) if loop is None else np.asarray(loop, np.int64)
    path = np.where(np.zeros(n, bool) if writes is None else np.asarray(writes), rounds.WRITE, rounds.HIT)
    cache = cache or rounds.CacheState.empty(int(loop.max()) + 1, int(np.max(key)) + 1, l1_ttl_s=5.0, l2_ttl_s=20.0)
    done = rounds.replay(arrival, loop, path, np.full(n, HIT_S), cores=1, key=np.asarray(key, np.int64),
                         miss_cpu=np.full(n, MISS_S), cache=cache, **{**IO, **QUIET, **kw})
    return done, cache


def test_alone_each_tier_answers_in_turn_as_the_ttls_run_out():
    """One key, requests far apart: the first fills (database), the next within L1's 5 s hits L1, after
    it Redis (20 s) answers and refills L1, after Redis's TTL the database again; a write deletes both."""
    arrival = np.array([0.0, 1.0, 7.0, 8.0, 30.0, 31.0, 32.0])
    writes = [False, False, False, False, False, True, False]
    done, cache = _keyed(arrival, np.zeros(7), writes=writes)
    assert done.path.tolist() == [rounds.DB, rounds.HIT, rounds.L2, rounds.HIT, rounds.DB, rounds.WRITE, rounds.DB]
    # a lone request's latency is its CPU (an L1 hit's, or the full path's) plus its round trips
    want = {rounds.HIT: HIT_S, rounds.L2: MISS_S + IO["io_l2"], rounds.DB: MISS_S + 2 * IO["io_l2"] + IO["io_db"]}
    reads = done.path != rounds.WRITE
    assert np.allclose(done.latency[reads], [want[p] for p in done.path[reads]])
    filled = cache.l2_expires[0] - 20.0  # Redis holds it from the fill's last step, not from its lookup
    assert 32.0 + done.latency[-1] - (MISS_S - HIT_S) <= filled <= 32.0 + done.latency[-1]


def test_reads_of_a_key_being_filled_wait_for_that_fill():
    """Single flight: while a slow fill of key 0 runs, later reads of it on the same worker miss L1,
    miss Redis and wait for that fill (no second query); they finish just after it. Another worker
    has its own L1 and its own flight."""
    slow = {"io_db": 0.050}
    arrival = np.array([0.0, 0.005, 0.010, 0.020, 0.021])
    loop = [0, 0, 0, 1, 1]
    done, _ = _keyed(arrival, np.zeros(5), loop=loop, **slow)
    assert done.path.tolist() == [rounds.DB, rounds.WAIT, rounds.WAIT, rounds.DB, rounds.WAIT]
    end = arrival + done.latency
    assert end[1] > end[0] and end[2] > end[0] and end[1] - end[0] < 0.003
    # after the fill, the same worker hits L1
    done, _ = _keyed(np.append(arrival, 0.2), np.zeros(6), loop=[*loop, 0], **slow)
    assert done.path[-1] == rounds.HIT


def test_light_load_l1_hit_ratio_is_the_renewal_closed_form():
    """Independent check: at light load a fill takes microseconds, so each key's L1 is a renewal
    process (a miss, then hits for the TTL): hit ratio r T / (1 + r T) for a key read r times a second
    (Poisson) with TTL T, per worker. Three keys at different rates, two workers; Redis's TTL is longer
    than the run, so every L1 miss after a key's first is an L2 hit."""
    rng = np.random.default_rng(5)
    ttl, duration = 2.0, 2000.0
    rates = {0: 0.2, 1: 1.0, 2: 5.0}  # per worker
    arrival, key, loop = [], [], []
    for k, r in rates.items():
        for w in (0, 1):
            t = np.cumsum(rng.exponential(1 / r, int(r * duration * 1.2)))
            t = t[t < duration]
            arrival.append(t), key.append(np.full(t.size, k)), loop.append(np.full(t.size, w))
    arrival, key, loop = np.concatenate(arrival), np.concatenate(key), np.concatenate(loop)
    cache = rounds.CacheState.empty(2, 3, l1_ttl_s=ttl, l2_ttl_s=10 * duration)
    done, _ = _keyed(arrival, key, loop=loop, cache=cache)
    for k, r in rates.items():
        mine = key == k
        want = r * ttl / (1 + r * ttl)
        spread = 4 * np.sqrt(want * (1 - want) / mine.sum())  # renewal cycles are independent
        assert (done.path[mine] == rounds.HIT).mean() == pytest.approx(want, abs=spread)
        assert (done.path[mine] == rounds.DB).sum() == 1  # one fill in all: Redis, shared, answers every other miss


def _knee(keys: Keys | None) -> KneeParams:
    return KneeParams(instances=2, cores=1.0, cpu_hit_ms=1.8, cpu_miss_ms=2.1, l2_ms=0.06, db_ms=0.1,
                      db_write_ms=0.3, steps=4, statements_per_write=3, wake_ms=0.28, keys=keys)


def test_a_backlog_makes_fills_late_and_l1_hits_fall():
    """The collapse the knee bench measured (bench/results/simulator-knee-tail.md: L1 share 0.50 -> 0.34 once
    a backlog formed): in overload a fill lands seconds after its lookup, so reads that would have hit
    L1 miss and wait on it. At light load the keyed replay serves the cache model's mix."""
    keys = Keys(count=10_000, zipf=1.0, l1_ttl_s=5.0, l2_ttl_s=20.0, warmup_s=5.0)
    paths = Paths(l1=0.5, l2=0.2, db=0.3, write_ratio=0.02)  # used for writes only when keyed
    light = predict(_knee(keys), paths, 420.0, duration_s=20.0, seeds=1)  # ~85 % busy
    over = predict(_knee(keys), paths, 560.0, duration_s=20.0, seeds=1)
    assert over.hit_l1 < light.hit_l1 - 0.1
    assert over.p99_ms > 20 * light.p99_ms
    # without keys the paths are drawn from the given mix, whatever the load
    drawn = predict(_knee(None), paths, 560.0, duration_s=20.0, seeds=1)
    assert drawn.hit_l1 == pytest.approx(0.5, abs=0.02)


def test_keyed_params_survive_their_stored_form():
    """Results files store the model with `dataclasses.asdict`; the knee tail bench rebuilds it."""
    from dataclasses import asdict

    params = _knee(Keys(count=100))
    assert KneeParams(**asdict(params)) == params
    assert replace(params, keys=None).keys is None


def test_a_keyed_replay_needs_its_keys_cpu_and_caches_together():
    """Half the keyed arguments would otherwise fall back silently to the drawn paths."""
    arrival = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="together"):
        rounds.replay(arrival, np.zeros(2, np.int64), np.full(2, rounds.HIT), np.full(2, HIT_S), cores=1,
                      key=np.zeros(2, np.int64), **{**IO, **QUIET})
