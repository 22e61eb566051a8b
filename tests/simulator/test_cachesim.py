"""The compiled cache loop makes exactly the decisions of the plain-Python reference model."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cachesim import SERVED_DB, SERVED_L1, SERVED_L2, run_cache
from simulator.reference import run_reference, run_reference_ttl
from simulator.workload import zipf_sample


def _trace(seed: int, n: int = 20_000, keys: int = 300, inst: int = 3, write_share: float = 0.05):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(0.01, n))
    op = (rng.random(n) < write_share).astype(np.int8)
    key = zipf_sample(rng, keys, 0.9, n)
    ins = rng.integers(0, inst, n, dtype=np.int32)
    lag = rng.exponential(0.05, n)
    key_type = (np.arange(keys) % 2).astype(np.int8)
    key_bytes = np.where(key_type == 0, 100.0, 300.0)
    return t, op, key, ins, lag, key_type, key_bytes


CASES = [
    # (l1_entries, l2_bytes, invalidate_l2, invalidate_l1, replicas, use_l1, use_l2)
    (10_000, 1e9, True, "local", 0, True, True),     # unbounded fast path
    (10_000, 1e9, False, "none", 2, True, True),     # no invalidation, replica lag
    (8, 1e9, True, "all", 1, True, True),            # L1 LRU limit
    (10_000, 6_000.0, True, "local", 2, True, True),  # L2 byte limit, mixed value sizes
    (8, 5_000.0, True, "local", 3, True, True),      # both limited
    (8, 5_000.0, True, "local", 0, False, True),     # L2 only
    (8, 5_000.0, True, "all", 1, True, False),       # L1 only
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_kernel_matches_reference(index):
    case = CASES[index]
    l1_entries, l2_bytes, inv2, inv1, replicas, use_l1, use_l2 = case
    t, op, key, ins, lag, key_type, key_bytes = _trace(seed=index)
    l2_ttl = np.array([2.0, 7.0])
    kw = dict(l1_ttl=0.5, l1_entries=l1_entries, l2_bytes=l2_bytes, n_inst=3, use_l1=use_l1, use_l2=use_l2,
              invalidate_l2=inv2, invalidate_l1=inv1, replicas=replicas)
    out = run_cache(t, op, key, ins, lag, key_type, key_bytes, l2_ttl, **kw)
    served, stale, node = run_reference(t, op, key, ins, lag, key_type, key_bytes, l2_ttl, **kw)
    assert np.array_equal(out.served, served)
    assert np.array_equal(out.stale, stale)
    assert np.array_equal(out.node, node)
    # the case exercises what it claims
    counts = np.bincount(out.served, minlength=4)
    if use_l1:
        assert counts[SERVED_L1] > 0
    if use_l2:
        assert counts[SERVED_L2] > 0
    assert counts[SERVED_DB] > 0
    if l1_entries < 20 and use_l1:
        assert out.l1_evictions > 0
    if l2_bytes < 1e6 and use_l2:
        assert out.l2_evictions > 0
    if not inv2 or replicas:
        assert stale.any()


def test_fast_path_matches_dict_baseline():
    t, op, key, ins, _lag, key_type, key_bytes = _trace(seed=5, n=50_000)
    l2_ttl = np.array([2.0, 7.0])
    out = run_cache(t, op, key, ins, np.zeros(0), key_type, key_bytes, l2_ttl, l1_ttl=0.5, l1_entries=10**6,
                    l2_bytes=1e12, n_inst=3, invalidate_l1="local")
    counts = np.bincount(out.served, minlength=4)
    assert run_reference_ttl(t, op, key, ins, key_type, l2_ttl, l1_ttl=0.5) == tuple(int(c) for c in counts[:3])


def test_ttl_expiry_is_not_reset_by_hits():
    # one key read every 0.1 s for 10 s with a 1 s L2 TTL and no L1: a miss about once a second
    n = 100
    t = np.arange(n) * 0.1 + 0.05
    out = run_cache(t, np.zeros(n, np.int8), np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(0),
                    np.zeros(1, np.int8), np.ones(1), np.array([1.0]), l1_ttl=1.0, l1_entries=10, l2_bytes=10.0,
                    n_inst=1, use_l1=False)
    assert int((out.served == SERVED_DB).sum()) == 10


def test_write_invalidates_and_replica_lag_serves_old_version():
    # write at t=1, read at t=1.01 from a replica lagging 0.1 s: the old version, cached in L2
    t = np.array([0.0, 1.0, 1.01, 1.5, 1.6])
    op = np.array([0, 1, 0, 0, 1], np.int8)
    lag = np.full(5, 0.1)
    out = run_cache(t, op, np.zeros(5, np.int32), np.zeros(5, np.int32), lag, np.zeros(1, np.int8), np.ones(1),
                    np.array([100.0]), l1_ttl=5.0, l1_entries=10, l2_bytes=10.0, n_inst=1, use_l1=False,
                    replicas=1)
    assert out.served.tolist() == [SERVED_DB, 3, SERVED_DB, SERVED_L2, 3]
    assert out.stale.tolist() == [False, False, True, True, False]


@pytest.mark.parametrize("l1_ttl,l2_ttl", [(1e6, 1e6), (0.5, 1e6), (1e6, 7.0)])
def test_untimed_tiers_skip_expiry_and_still_match(l1_ttl, l2_ttl):
    """TTLs longer than the trace switch the expiry lists off; decisions must not change."""
    t, op, key, ins, lag, key_type, key_bytes = _trace(seed=11)
    kw = dict(l1_ttl=l1_ttl, l1_entries=8, l2_bytes=5_000.0, n_inst=3, invalidate_l1="local", replicas=1)
    ttl = np.array([l2_ttl, l2_ttl])
    out = run_cache(t, op, key, ins, lag, key_type, key_bytes, ttl, **kw)
    served, stale, node_ = run_reference(t, op, key, ins, lag, key_type, key_bytes, ttl, **kw)
    assert np.array_equal(out.served, served) and np.array_equal(out.stale, stale)
    assert np.array_equal(out.node, node_)
    assert out.l1_evictions > 0 and out.l2_evictions > 0
