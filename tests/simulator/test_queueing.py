"""Queueing: the FCFS recursion against hand cases and M/M/c theory; Erlang C against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.queueing import erlang_c, fcfs_waits, mmc_wait_quantile


def test_single_server_lindley_by_hand():
    arrival = np.array([0.0, 1.0, 1.5, 10.0])
    service = np.array([2.0, 2.0, 1.0, 1.0])
    # job 0: 0..2, job 1 waits 1 (2..4), job 2 waits 2.5 (4..5), job 3 finds the server idle
    assert fcfs_waits(arrival, service, 1).tolist() == [0.0, 1.0, 2.5, 0.0]


def test_two_servers_by_hand_and_unsorted_input():
    arrival = np.array([0.5, 0.0, 0.1, 0.2])
    service = np.array([1.0, 1.0, 1.0, 1.0])
    # sorted: 0.0 -> s1 (free 1.0), 0.1 -> s2 (free 1.1), 0.2 waits 0.8 (s1, free 2.0), 0.5 waits 0.6
    waits = fcfs_waits(arrival, service, 2)
    assert waits == pytest.approx([0.6, 0.0, 0.0, 0.8])


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)          # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)        # c=2, A=1
    assert erlang_c(4, 4.0) == 1.0 and erlang_c(3, 0.0) == 0.0


@pytest.mark.parametrize("servers,rho", [(1, 0.7), (4, 0.8), (16, 0.9)])
def test_recursion_matches_mmc_theory(servers, rho):
    rng = np.random.default_rng(servers)
    n = 400_000
    mean_s = 0.01
    lam = rho * servers / mean_s
    arrival = np.cumsum(rng.exponential(1 / lam, n))
    waits = fcfs_waits(arrival, rng.exponential(mean_s, n), servers)[n // 10:]
    pw = erlang_c(servers, lam * mean_s)
    mean_theory = pw / (servers / mean_s - lam)
    assert waits.mean() == pytest.approx(mean_theory, rel=0.1)
    assert (waits > 0).mean() == pytest.approx(pw, abs=0.02)
    assert np.quantile(waits, 0.99) == pytest.approx(mmc_wait_quantile(0.99, servers, lam, mean_s), rel=0.1)


def test_overloaded_quantile_is_infinite():
    assert math.isinf(mmc_wait_quantile(0.99, 2, 300.0, 0.01))
    assert mmc_wait_quantile(0.5, 4, 10.0, 0.01) == 0.0
