"""Closed forms: TTL hit ratios, invalidation, Che, against direct single-key simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.closedform import che_time, hit_ratio, mean_life


def test_ttl_without_writes_is_lambda_t_over_one_plus():
    lam = np.array([0.01, 1.0, 50.0])
    assert hit_ratio(lam, 0.0, 5.0) == pytest.approx(lam * 5 / (1 + lam * 5))


def test_invalidation_shortens_the_life():
    life = mean_life(np.array([1.0]), np.array([0.2]), 10.0)[0]
    assert life == pytest.approx((1 - math.exp(-2.0)) / 0.2)


def _single_key(lam: float, mu: float, ttl: float, tc: float, n: int, seed: int) -> float:
    """Event-by-event: Poisson reads and invalidating writes on one key of a TTL + LRU-gap tier."""
    rng = np.random.default_rng(seed)
    reads = np.cumsum(rng.exponential(1 / lam, n))
    writes = np.cumsum(rng.exponential(1 / mu, n)) if mu > 0 else np.array([np.inf])
    hits = 0
    alive, fill, last, w = False, 0.0, 0.0, 0
    for r in reads:
        while writes[w] < r:
            alive = False
            w += 1
        if alive and r - fill < ttl and r - last < tc:
            hits += 1
        else:
            alive, fill = True, r
        last = r
    return hits / n


@pytest.mark.parametrize("lam,mu,ttl,tc", [(1.0, 0.0, 5.0, 1.0), (3.0, 0.2, 10.0, 0.7), (0.5, 0.0, 100.0, 3.0),
                                           (2.0, 0.05, 1000.0, 0.3), (0.2, 0.01, 30.0, math.inf)])
def test_ttl_lru_gap_model_matches_single_key_simulation(lam, mu, ttl, tc):
    got = hit_ratio(np.array([lam]), mu, ttl, tc)[0]
    assert got == pytest.approx(_single_key(lam, mu, ttl, tc, 300_000, seed=7), abs=0.005)


def test_che_time_bisects_occupancy_and_reports_fit():
    lam = 1.0 / np.arange(1, 1001)

    def occ(tc: float) -> float:
        return float(hit_ratio(lam, 0.0, 1e9, tc).sum())

    tc = che_time(occ, 100.0, hi=1e9)
    assert occ(tc) == pytest.approx(100.0, rel=1e-4)
    assert math.isinf(che_time(lambda tc: 5.0, 10.0, hi=100.0))


def test_own_stream_discounted_by_frequent_writes_never_negative():
    """Far beyond E[X] with fast invalidation the discounted renewal count is small and positive."""
    from simulator.closedform import own_stream_hits

    lam, life = np.array([8.4]), np.array([5.0])
    got = own_stream_hits(lam, life, np.array([27.0]), 3600.0)[0]
    f = math.exp(-27.0 * 5.0) * 8.4 / (8.4 + 27.0)
    assert 0.0 <= got == pytest.approx(f / (1 - f), abs=1e-9)
    # without writes: the renewal function's asymptote T/E[X] + (cv^2 - 1)/2
    ex = 5.0 + 1 / 8.4
    cv2 = (1 / 8.4) ** 2 / ex**2
    assert own_stream_hits(lam, life, np.array([0.0]), 3600.0)[0] == pytest.approx(3600 / ex + (cv2 - 1) / 2)
