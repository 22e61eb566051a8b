"""The knee model and the capacity answer: closed forms at the limits, monotone in load, and a
capacity interval that contains the model's own crossing."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from simulator import simulate
from simulator.capacity import capacity, crossing, scenario_capacity
from simulator.commands import simulate as simulate_cmd
from simulator.knee import KneeParams, Paths, fit_light_load, latencies_ms, paths_from_result, predict, ps_sojourn

from .conftest import BASE, make

PARAMS = KneeParams(instances=2, cores=1.0, cpu_hit_ms=0.5, cpu_miss_ms=1.5, cpu_cv=1.0, l2_ms=0.1, db_ms=0.2,
                    overhead_ms=0.4, discipline="ps")
"""Processor sharing, the discipline these tests are about (test_rounds.py has the round model's)."""
PATHS = Paths(l1=0.5, l2=0.25, db=0.25, write_ratio=0.02)


def _poisson(rate: float, n: int, seed: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))


@pytest.mark.parametrize("sizes", ["exp", "lognormal-cv2"])
def test_ps_mean_sojourn_is_insensitive_to_the_size_law(sizes):
    """M/G/1-PS: E[T] = E[S] / (1 - rho) whatever the service law (the PS insensitivity result)."""
    rng = np.random.default_rng(5)
    n, rho = 300_000, 0.7
    s = rng.exponential(1.0, n) if sizes == "exp" else rng.lognormal(-math.log(5) / 2, math.sqrt(math.log(5)), n)
    t = ps_sojourn(_poisson(rho, n), s, 1.0)
    assert t.mean() == pytest.approx(1 / (1 - rho), rel=0.04)


def test_ps_slows_every_job_by_the_same_factor():
    """M/G/1-PS: E[T | S = x] = x / (1 - rho): short and long jobs alike (FCFS would add one wait)."""
    rng = np.random.default_rng(6)
    n, rho = 300_000, 0.6
    s = rng.lognormal(-0.5, 1.0, n)
    t = ps_sojourn(_poisson(rho, n, 2), s, 1.0)
    for lo, hi in ((0.05, 0.2), (2.0, 4.0)):
        sel = (s >= lo) & (s < hi)
        assert (t[sel] / s[sel]).mean() == pytest.approx(1 / (1 - rho), rel=0.08)


def test_ps_with_a_server_per_job_never_waits():
    arrival = _poisson(5.0, 2000)
    work = np.random.default_rng(1).exponential(1.0, 2000)
    assert np.allclose(ps_sojourn(arrival, work, servers=1e9), work)


def _in_system(arrival: np.ndarray, sojourn: np.ndarray) -> int:
    """The most jobs ever in the system at once."""
    events = np.concatenate([np.stack([arrival, np.ones_like(arrival)], 1),
                             np.stack([arrival + sojourn, -np.ones_like(arrival)], 1)])
    events = events[np.lexsort((events[:, 1], events[:, 0]))]  # a departure before an arrival at the same time
    return int(np.cumsum(events[:, 1]).max())


def test_a_cap_that_light_load_never_reaches_leaves_ps_unchanged():
    """With at most C in service and fewer than C ever present, nobody waits for a connection: the
    capped model is exactly uncapped PS, job by job (and so are its P99s in the full model)."""
    rng = np.random.default_rng(11)
    arrival, work = _poisson(0.3, 50_000, 3), rng.lognormal(-0.5, 1.0, 50_000)
    free = ps_sojourn(arrival, work, 1.0)
    cap = _in_system(arrival, free) + 1
    assert cap < 30
    assert np.array_equal(ps_sojourn(arrival, work, 1.0, cap=cap), free)
    capped = replace(PARAMS, max_in_service=64)
    rate = 0.3 * PARAMS.saturation_rate(PATHS)
    assert np.array_equal(latencies_ms(capped, PATHS, rate, duration_s=60, seed=2),
                          latencies_ms(PARAMS, PATHS, rate, duration_s=60, seed=2))


def test_a_cap_of_one_is_fcfs():
    """C = 1: one job in service at a time, the rest in arrival order: exactly FCFS M/G/1 (Lindley), and
    for exponential sizes the M/M/1 sojourn quantile ln(100) / (mu - lambda)."""
    from simulator.queueing import fcfs_waits

    rng = np.random.default_rng(12)
    n, lam, mu = 300_000, 0.7, 1.0
    arrival = _poisson(lam, n, 4)
    work = rng.lognormal(-0.5, 1.0, n)
    assert np.allclose(ps_sojourn(arrival, work, 1.0, cap=1), fcfs_waits(arrival, work, 1) + work)
    expo = rng.exponential(1 / mu, n)
    t = ps_sojourn(arrival, expo, 1.0, cap=1)
    assert np.quantile(t, 0.99) == pytest.approx(math.log(100) / (mu - lam), rel=0.05)
    # and the full model with the cap at 1 equals the model with FCFS CPU (no wake-up, one loop)
    one = replace(PARAMS, instances=1, max_in_service=1)
    assert np.allclose(latencies_ms(one, PATHS, 300.0, duration_s=20, seed=3),
                       latencies_ms(replace(one, discipline="fcfs", max_in_service=0), PATHS, 300.0, duration_s=20,
                                    seed=3))


@pytest.mark.parametrize("cap", [2, 8])
def test_capped_ps_keeps_the_mm1_mean_and_lies_between_ps_and_fcfs(cap):
    """Exponential sizes: any work-conserving order keeps the M/M/1 queue length, so the mean sojourn
    stays 1 / (mu - lambda) whatever C; the tail moves from PS (C large) towards FCFS (C = 1)."""
    rng = np.random.default_rng(13)
    n, lam = 300_000, 0.8
    arrival, work = _poisson(lam, n, 5), rng.exponential(1.0, n)
    capped = ps_sojourn(arrival, work, 1.0, cap=cap)
    assert capped.mean() == pytest.approx(1 / (1 - lam), rel=0.05)
    p99 = {c: np.quantile(ps_sojourn(arrival, work, 1.0, cap=c), 0.99) for c in (1, cap, 0)}
    assert p99[1] < p99[cap] < p99[0]


def test_capped_model_is_monotone_in_load():
    params = replace(PARAMS, max_in_service=16, wake_ms=0.3)
    sat = params.saturation_rate(PATHS)
    p99 = [predict(params, PATHS, f * sat, duration_s=30).p99_ms for f in (0.2, 0.5, 0.7, 0.85, 0.95, 1.05)]
    assert all(b >= a for a, b in itertools.pairwise(p99)), p99


def test_fcfs_discipline_matches_mm1_sojourn_quantile():
    """M/M/1 FCFS: the sojourn time is Exp(mu - lambda), so P99 = ln(100) / (mu - lambda)."""
    p = KneeParams(instances=1, cores=1.0, cpu_hit_ms=1.0, cpu_miss_ms=1.0, cpu_cv=1.0, l2_ms=0.0, db_ms=0.0,
                   db_write_ms=0.0, discipline="fcfs")
    paths = Paths(l1=1.0, l2=0.0, db=0.0)
    rng = np.random.default_rng(3)
    n, lam, mu = 400_000, 700.0, 1000.0
    from simulator.queueing import fcfs_waits

    s = rng.exponential(1 / mu, n)
    t = fcfs_waits(_poisson(lam, n), s, 1) + s
    assert np.quantile(t, 0.99) == pytest.approx(math.log(100) / (mu - lam), rel=0.05)
    # the model with FCFS at light load: nobody waits, P99 is the lognormal (cv 1, mean 1 ms) quantile
    light = latencies_ms(p, paths, rate=1.0, duration_s=200_000, seed=4)
    sigma = math.sqrt(math.log(2.0))
    expected = math.exp(-sigma**2 / 2 + stats.norm.ppf(0.99) * sigma)
    assert np.quantile(light, 0.99) == pytest.approx(expected, rel=0.05)


def test_light_load_limit_is_the_service_law_plus_overhead():
    """rate -> 0: nobody queues, so P99 is the closed-form lognormal quantile of the CPU time + I/O + overhead."""
    p = replace(PARAMS, cpu_hit_ms=2.0, cpu_cv=0.5, overhead_ms=1.0)
    paths = Paths(l1=1.0, l2=0.0, db=0.0)
    got = np.quantile(latencies_ms(p, paths, rate=0.5, duration_s=100_000, seed=2), 0.99)
    sigma = math.sqrt(math.log1p(0.25))
    expected = 2.0 * math.exp(-sigma**2 / 2 + stats.norm.ppf(0.99) * sigma) + 1.0
    assert got == pytest.approx(expected, rel=0.04)


@pytest.mark.parametrize("wake_ms", [0.0, 0.4])
def test_p99_is_monotone_in_load_and_explodes_past_saturation(wake_ms):
    params = replace(PARAMS, wake_ms=wake_ms)
    sat = params.saturation_rate(PATHS)
    rates = [f * sat for f in (0.2, 0.5, 0.7, 0.85, 0.9, 0.95, 0.98, 1.05)]
    p99 = [predict(params, PATHS, r, duration_s=30).p99_ms for r in rates]
    assert all(b >= a for a, b in itertools.pairwise(p99)), p99
    assert p99[-1] > 20 * p99[0]


def test_interval_brackets_the_central_prediction():
    sat = PARAMS.saturation_rate(PATHS)
    pred = predict(PARAMS, PATHS, 0.8 * sat, duration_s=30, cpu_low=0.9, cpu_high=1.1)
    assert pred.p99_low_ms < pred.p99_ms < pred.p99_high_ms
    assert pred.utilisation == pytest.approx(0.8)


def test_crossing_finds_a_known_root():
    assert crossing(lambda r: r**2, 400.0, 1.0, 100.0, rel_tol=1e-4) == pytest.approx(20.0, rel=1e-3)
    assert crossing(lambda r: 1e9, 1.0, 1.0, 10.0) == 1.0  # missed even at the bottom
    assert crossing(lambda r: 0.0, 1.0, 1.0, 10.0) == 10.0  # met everywhere


def test_capacity_interval_contains_the_models_own_crossing():
    target = 100.0
    cap = capacity(PARAMS, lambda r: PATHS, target, duration_s=30, cpu_low=0.9, cpu_high=1.1)
    assert cap.rate_low < cap.rate < cap.rate_high
    assert cap.contains(cap.rate)
    assert cap.rate < cap.saturation_rate * 1.05

    def p99(rate: float) -> float:
        return float(np.mean([np.quantile(latencies_ms(PARAMS, PATHS, rate, 30, seed=s), 0.99) for s in (1, 2, 3)]))

    assert p99(cap.rate * 0.98) < target <= p99(cap.rate * 1.02)


@pytest.mark.parametrize("discipline", ["ps", "rounds"])
def test_fit_light_load_reproduces_its_own_run(discipline):
    """Calibrating on a run the model itself produced gives back its overhead and cv."""
    params = replace(PARAMS, discipline=discipline, steps=4, statements_per_write=3, wake_ms=0.3)
    truth = replace(params, cpu_cv=1.5, overhead_ms=0.8)
    lat = latencies_ms(truth, PATHS, 200.0, 60, seed=11)
    fitted = fit_light_load(params, PATHS, 200.0, float(np.quantile(lat, 0.5)), float(np.quantile(lat, 0.99)))
    assert fitted.overhead_ms == pytest.approx(0.8, abs=0.2)
    assert fitted.cpu_cv == pytest.approx(1.5, abs=0.3)


def test_paths_come_from_the_cache_simulator_per_instance():
    one, four = (paths_from_result(simulate(make(**{"app.instances": n}), "analytic")) for n in (1, 4))
    for p in (one, four):
        assert p.l1 + p.l2 + p.db == pytest.approx(1.0)
    assert four.l1 < one.l1  # every instance keeps its own L1: more instances, fewer L1 hits


def test_scenario_capacity_answers_in_requests_and_users():
    sc = make(**{"app.service.mean_ms": 1.0, "app.instances": 2, "targets.p99_ms": 50.0})
    doc = scenario_capacity(sc, duration_s=20)
    assert doc["rate_low"] <= doc["rate"] <= doc["rate_high"]
    assert 0.3 * doc["saturation_rate"] < doc["rate"] < 1.1 * doc["saturation_rate"]
    assert doc["users"] == pytest.approx(doc["rate"] / sc.requests_per_user_s, rel=1e-6)
    tighter = scenario_capacity(sc, 10.0, duration_s=20)
    assert tighter["rate"] < doc["rate"]


def test_simulate_command_prints_capacity(tmp_path):
    path = tmp_path / "sc.json"
    path.write_text(json.dumps({**BASE, "users": 500, "targets": {"p99_ms": 40.0}}))
    res = CliRunner().invoke(simulate_cmd, [str(path), "--engine", "analytic", "--capacity", "--format", "json"])
    assert res.exit_code in (0, 3), res.output  # 3: this small scenario may miss the guide's other targets
    doc = json.loads(res.output)
    cap = doc["capacity"]
    assert cap["target_p99_ms"] == 40.0
    assert cap["rate_low"] <= cap["rate"] <= cap["rate_high"]
    assert "hit_ratio" in doc  # the usual answer is still there


def test_a_request_that_finds_the_loop_idle_pays_the_wake_up():
    arrival = np.arange(100) * 10.0  # far apart: every job finds the node empty
    work = np.full(100, 0.5)
    assert np.allclose(ps_sojourn(arrival, work, 1.0, wake=0.2), 0.7)
    together = ps_sojourn(np.zeros(4), np.full(4, 1.0), 1.0, wake=0.2)  # a burst: only the first wakes the loop
    assert together.max() == pytest.approx(4.2)


def test_wake_up_cost_moves_saturation_to_the_busy_loop_cost():
    """CPU per request falls with load when waking the loop costs CPU: at 80 % of the busy-loop
    capacity the model stays stable, while folding the light-load average into every request
    (1.5 ms here) would put the same rate at 120 % and explode."""
    paths = Paths(l1=1.0, l2=0.0, db=0.0)
    woken = KneeParams(instances=1, cores=1.0, cpu_hit_ms=1.0, cpu_miss_ms=1.0, cpu_cv=0.5, l2_ms=0, db_ms=0,
                       wake_ms=0.5, discipline="ps")
    folded = replace(woken, cpu_hit_ms=1.5, cpu_miss_ms=1.5, wake_ms=0.0)
    assert woken.saturation_rate(paths) == pytest.approx(1000.0)
    assert woken.utilisation(800.0, paths) == pytest.approx(0.8 * 1.5 / (1 + 0.8 * 0.5))
    stable = predict(woken, paths, 800.0, duration_s=30).p99_ms
    exploding = predict(folded, paths, 800.0, duration_s=30).p99_ms
    assert stable < 100 < exploding


def test_simulate_command_summary_states_the_capacity(tmp_path):
    path = tmp_path / "sc.json"
    path.write_text(json.dumps({**BASE, "users": 500, "targets": {"p99_ms": 40.0}}))
    res = CliRunner().invoke(simulate_cmd, [str(path), "--engine", "analytic", "--capacity"])
    assert res.exit_code in (0, 3), res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("capacity:"))
    assert "P99 reaches 40 ms at" in line and "req/s" in line and "interval" in line


def test_the_stated_bias_matches_the_kept_validation_results():
    """The capacity answer tells users how far off the model was; that sentence must describe the
    results file it points to, so a rerun of bench/validate_knee.py that changes them fails here."""
    import re

    from simulator.capacity import VALIDATION

    results = json.loads((Path(__file__).resolve().parents[2] / "bench" / "results" / "simulator-knee.json").read_text())
    cap = results["capacity"]
    off = 100 * (cap["measured_crossing"] / cap["centre"] - 1)
    pct, side = re.search(r"crossing came ([\d.]+) % (above|below) the predicted centre", VALIDATION).groups()
    assert (1 if side == "above" else -1) * float(pct) == pytest.approx(off, abs=0.5)
    ratios = [r["p99_measured_ms"] / r["p99_predicted_ms"] for r in results["rows"]
              if r.get("kind") == "sweep" and r["utilisation"] <= 0.95]
    first, last = (float(x) for x in re.search(r"P99 was ([\d.]+)-([\d.]+)x the predicted", VALIDATION).groups())
    assert first == pytest.approx(min(ratios), abs=0.05) and last == pytest.approx(max(ratios), abs=0.05), ratios


def test_a_scenario_can_state_its_workers_garbage_collections():
    """A Python service's full collections (its own ``python_gc_pause_seconds``) go into the capacity answer
    as stops of the workers' loops: at the same average CPU per request, long stops cross a tight P99 target
    at a lower rate. Inconsistent figures are refused with a reason."""
    base = {"app.service.mean_ms": 2.0, "app.instances": 2, "targets.p99_ms": 60.0}
    plain = scenario_capacity(make(**base), duration_s=30)
    stalled = scenario_capacity(make(**base, **{"app.gc_pause_ms": 40.0, "app.gc_every_requests": 400.0}),
                                duration_s=30)
    assert stalled["rate"] < 0.95 * plain["rate"]
    assert "40 ms stop of a worker's loop every 400" in stalled["model"] and "no garbage" in plain["model"]
    assert KneeParams.from_scenario(make(**base, **{"app.gc_pause_ms": 40.0, "app.gc_every_requests": 400.0})
                                    ).gc_ms_per_request == pytest.approx(0.1)
    with pytest.raises(ValueError, match="gc_every_requests"):
        make(**base, **{"app.gc_pause_ms": 40.0})
    with pytest.raises(ValueError, match="fastest service time"):
        make(**base, **{"app.gc_pause_ms": 40.0, "app.gc_every_requests": 10.0})
