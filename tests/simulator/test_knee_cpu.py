"""The knee bench's CPU calibration (bench/knee_cpu.py) and the counts it stands on: a real worker's
context switches read from /proc, and a regression that gives back the prices it was built from."""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import numpy as np
import pytest
from scipy.optimize import nnls

from bench import knee_cpu, knee_deploy
from tests.refservice.pg_support import REDIS_URL, fresh_database


def _run(hit_share: float, voluntary: float, involuntary: float, *, hit_ms: float, miss_ms: float,
         wake_ms: float, switch_ms: float, speed: float = 1.0, served: int = 3000) -> dict[str, float]:
    cpu = speed * (hit_share * hit_ms + (1 - hit_share) * miss_ms + wake_ms * voluntary + switch_ms * involuntary)
    return {"served_reads": served * 0.98, "served_writes": served * 0.02, "l1_hits": hit_share * served,
            "voluntary_switches_per_request": voluntary, "involuntary_switches_per_request": involuntary,
            "cpu_per_request_ms": cpu}


PATTERNS = ((0.99, 1.0, 0.3), (0.45, 2.2, 0.45), (0.45, 0.3, 0.85), (0.99, 0.1, 0.9))
"""(L1-hit share, voluntary, involuntary switches per request) of the calibration's four run kinds as the
knee bench measured them: hot product, Poisson full mix, full mix in bursts, hot product in bursts."""


def test_the_fit_gives_back_both_prices_and_each_sets_speed():
    prices = {"hit_ms": 1.6, "miss_ms": 2.3, "wake_ms": 0.33, "switch_ms": 0.08}
    sets = [[_run(h, v, i, **prices) for h, v, i in PATTERNS] for _ in range(3)]
    fit = knee_cpu.fit_cpu(sets)
    assert {k: fit[k] for k in prices} == pytest.approx(prices, rel=1e-6)
    assert fit["cpu_spread_per_run"] == pytest.approx([1.0, 1.0, 1.0])
    # a set measured on a host 5 % slower shows up in the spread (the prediction interval), not in the prices
    sets[2] = [_run(h, v, i, **prices, speed=1.05) for h, v, i in PATTERNS]
    fit = knee_cpu.fit_cpu(sets)
    assert max(fit["cpu_spread_per_run"]) / min(fit["cpu_spread_per_run"]) == pytest.approx(1.05, rel=1e-6)
    scale = 1.05 ** (1 / 3)  # the speeds' geometric mean is 1, so the prices are the sets' average host's
    assert {k: fit[k] for k in prices} == pytest.approx({k: v * scale for k, v in prices.items()}, rel=1e-6)
    assert fit["problems"] == []


def test_a_host_slowing_down_while_preempting_more_does_not_price_the_preemptions():
    """The third kept run's failure, rebuilt from its own run counts: its last set ran on a host 7 % faster
    and was preempted less (0.51-0.77 against 0.68-1.13 per request). With one speed for all sets that
    drift was fitted as 0.54 ms per preemption and a hit as dear as a miss; a speed per set keeps it out."""
    prices = {"hit_ms": 1.9, "miss_ms": 2.26, "wake_ms": 0.33, "switch_ms": 0.0}
    counts = [  # (hit share, voluntary, involuntary) of the hot, Poisson, burst and hot-burst runs of each set
        [(0.995, 1.01, 0.32), (0.387, 2.13, 0.51), (0.371, 0.27, 1.13), (0.965, 0.20, 0.68)],
        [(0.996, 0.99, 0.34), (0.401, 2.11, 0.54), (0.372, 0.29, 0.91), (0.966, 0.21, 0.76)],
        [(0.994, 1.05, 0.22), (0.381, 2.17, 0.51), (0.361, 0.36, 0.77), (0.961, 0.21, 0.51)]]
    speeds = (1.04, 1.035, 0.93)
    sets = [[_run(h, v, i, **prices, speed=sp) for h, v, i in runs] for runs, sp in zip(counts, speeds, strict=True)]
    pooled = np.array([[h, 1 - h, v, i] for runs in counts for h, v, i in runs])
    cpu = np.array([r["cpu_per_request_ms"] for s in sets for r in s])
    one_speed, _ = nnls(pooled, cpu)
    assert one_speed[3] > 0.3 and one_speed[0] > one_speed[1]  # the old fit: dear preemptions, hit >= miss
    fit = knee_cpu.fit_cpu(sets)
    scale = float(np.prod(speeds)) ** (1 / 3)
    assert {k: fit[k] for k in prices} == pytest.approx({k: v * scale for k, v in prices.items()}, abs=1e-6)
    ratio = np.array(fit["cpu_spread_per_run"]) / np.array(speeds)
    assert ratio == pytest.approx(np.full(3, ratio[0]), rel=1e-6)  # the speeds, up to their normalisation
    assert fit["problems"] == []


def test_a_fit_that_does_not_separate_the_paths_says_so():
    assert knee_cpu.fit_problems(1.9, 2.3) == []
    assert "did not separate" in knee_cpu.fit_problems(1.58, 1.56)[0]
    assert "no CPU" in knee_cpu.fit_problems(0.0, 0.0)[0]


def test_without_hot_bursts_the_two_prices_are_not_pinned():
    """Why the calibration has a fourth run kind: from the first three alone, different price pairs fit
    every run exactly, so the fit cannot say what a preemption costs (which is all overload pays)."""
    truth = {"hit_ms": 1.6, "miss_ms": 2.3, "wake_ms": 0.33, "switch_ms": 0.08}
    a = np.array([[h, 1 - h, v, i] for h, v, i in PATTERNS[:3]] * 3)  # three sets of the three kinds, as before
    assert np.linalg.matrix_rank(a) == 3  # repeating the sets adds rows, not information
    other = np.array(list(truth.values())) + 0.2 * np.linalg.svd(a)[2][-1]  # moved along the blind direction
    assert np.allclose(a @ other, a @ np.array(list(truth.values())))
    assert abs(other[3] - truth["switch_ms"]) > 0.01
    full = np.array([[h, 1 - h, v, i] for h, v, i in PATTERNS])
    assert np.linalg.matrix_rank(full) == 4


@pytest.fixture
def worker():
    with fresh_database() as dsn:
        settings = {"database_url": dsn, "redis_url": REDIS_URL, "rate_limit_enabled": False, "access_log": False,
                    "run_background": False, "ryw_window_s": 0.0, "l1_ttl_s": 5.0, "ttl_product_s": 60,
                    "log_level": "WARNING", "jwt_secret": secrets.token_hex(32),
                    "key_prefix": f"cpu-test:{uuid.uuid4().hex[:8]}:"}
        workers = knee_deploy.Workers(n=1, settings=settings, keys=20, service_cpus={0, 1})
        try:
            yield workers
        finally:
            workers.stop()


def test_a_sleeping_workers_loop_is_woken_by_every_request(worker):
    """Requests 20 ms apart find the event loop asleep in epoll: each costs at least one voluntary
    context switch, which is what the calibration prices (and the round model counts)."""
    with httpx.Client(base_url=worker.url, timeout=10) as client:
        client.get("/products/1")  # connections to PostgreSQL and Redis opened before counting
        before, _ = worker.context_switches()
        for i in range(40):
            assert client.get(f"/products/{i % 20 + 1}").status_code == 200
            time.sleep(0.02)
        after, _ = worker.context_switches()
    assert after - before >= 40
