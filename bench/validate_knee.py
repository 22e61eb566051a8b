"""Validate the knee model (simulator/knee.py, simulator/capacity.py) against a scaled reference
deployment driven to saturation.

Run: ``python bench/validate_knee.py [--workers 2] [--duration 30] [--repeats 3] [--quick]``
Writes bench/results/simulator-knee.json and bench/results/simulator-knee.md.

Deployment (bench/knee_deploy.py): N reference-service workers on one SO_REUSEPORT port, each its
own L1, pinned to the service core; the load generator (this process) and a throw-away PostgreSQL
primary + streaming replica pinned to the other core; Redis (shared server) db 9 with a unique
key prefix per run. Every run starts fresh workers (empty L1s) under a new prefix (empty L2).

Steps, each bounded:
1. calibration, at light load only: the L1-hit fast path's CPU (one hot product), then repeated
   runs at ~30 % of a first capacity estimate giving the full path's CPU per request (from /proc
   of the workers), its spread between repeats (the host's speed drift: the prediction interval),
   the loop's wake-up cost (the same light load once more, sent in bursts of 8: only the first of a
   burst can find the loop idle), and the client overhead and CPU-time cv that reproduce the light
   run's own P50/P99;
2. the measured capacity: a short overload run; its completion rate is the most the service did;
3. the sweep: open-loop runs at 50/70/85/95 % of that capacity (plus 98 and 103 % to see the
   P99 target crossed), each repeated on fresh workers; P99 predicted ahead of time by the model
   with the calibration only (PS, and FCFS beside it to show which the data support);
4. stale reads: replica with ``recovery_min_apply_delay``, counted by bench/knee_stale.py's client,
   predicted by the cache simulator with the same lag.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import knee_deploy as dep  # noqa: E402
from knee_stale import burst_run, stale_run  # noqa: E402

from refservice.loadgen import LoadSpec, run  # noqa: E402
from simulator.calibrate import (  # noqa: E402
    Calibration,
    delta,
    pg_read_ms,
    read_hits,
    realisations,
    redis_rtt_ms,
    refservice_scenario,
    scrape,
)
from simulator.capacity import capacity  # noqa: E402
from simulator.knee import KneeParams, Paths, fit_light_load, paths_from_result, predict  # noqa: E402

RESULTS = ROOT / "bench" / "results"
L1_TTL, PRODUCT_TTL = 5.0, 20
SERVICE_CPU, LOADGEN_CPU = {1}, {0}
BURST = 8
# The generator starts with CONNECTIONS keep-alive connections and opens more on demand up to
# CONNECTION_BOUND: a real deployment's many clients do not share 64 connections, and with a fixed 64
# every connection was busy from 85 % load up, so requests queued inside the generator (send lag P99
# 32-44 ms at 85 %, 182-313 ms at 95 %). The model is given the same bound (KneeParams.max_in_service).
CONNECTIONS, CONNECTION_BOUND = 64, 1024


class Bench:
    """One deployment (PostgreSQL pair, settings) and the runs made against it."""

    def __init__(self, args: argparse.Namespace) -> None:
        from tests.support.pg_cluster import start_primary_with_replica

        self.args = args
        self.pair = start_primary_with_replica(settings={"max_connections": 60})
        for node in (self.pair.primary, self.pair.replica):
            dep.pin_tree(dep.postmaster_pid(node.datadir), LOADGEN_CPU)
        self.settings = {"database_url": self.pair.primary_dsn, "replica_urls": [self.pair.replica_dsn],
                         "redis_url": dep.REDIS_URL, "rate_limit_enabled": False, "access_log": False,
                         "run_background": False, "ryw_window_s": 0.0, "l1_ttl_s": L1_TTL,
                         "ttl_product_s": PRODUCT_TTL, "log_level": "WARNING", "fast_path": args.fast_path,
                         # one signing key for all workers, as a scaled deployment shares it: with a key per
                         # process a token from one worker was refused (401) by the other, and half the
                         # writes never happened. Made per run, never written to the results.
                         "jwt_secret": secrets.token_hex(32)}
        self.count = 0
        self.placement: dict[str, Any] = {}

    def workers(self) -> dep.Workers:
        self.count += 1
        settings = {**self.settings, "key_prefix": f"{dep.KEY_ROOT}{os.getpid()}:{self.count}:"}
        w = dep.Workers(n=self.args.workers, settings=settings, keys=self.args.keys, service_cpus=SERVICE_CPU,
                        work_ms=self.args.work_ms, work_chunks=self.args.work_chunks)
        self.placement = {"workers": w.placement(), "loadgen": dep.affinity(os.getpid()),
                          "postgres_primary": dep.affinity(dep.postmaster_pid(self.pair.primary.datadir)),
                          "postgres_replica": dep.affinity(dep.postmaster_pid(self.pair.replica.datadir)),
                          "redis": "shared server, not pinned"}
        return w

    def measure(self, rate: float, duration: float, *, keys: int | None = None, write_ratio: float | None = None,
                seed: int = 1) -> dict[str, Any]:
        """One loadgen run on fresh workers: latency, per-tier hits, CPU, host load."""
        keys = keys or self.args.keys
        wr = self.args.write_ratio if write_ratio is None else write_ratio
        w = self.workers()
        try:
            m0 = [scrape(u) for u in w.private_urls]
            c0, b0 = w.cpu_seconds(), dep.core_busy()
            res = run(LoadSpec(url=w.url, rate=rate, duration_s=duration, distribution="poisson",
                               mix="get_product=1", write_ratio=wr, n_keys=keys, zipf_exponent=1.0,
                               connections=CONNECTIONS, max_connections=CONNECTION_BOUND,
                               seed=seed, drain_s=15, timeout_s=30))
            c1, b1 = w.cpu_seconds(), dep.core_busy()
            m1 = [scrape(u) for u in w.private_urls]
        finally:
            w.stop()
        get = res["endpoints"]["get_product"]
        put = res["endpoints"].get("update_product", {"count": 0, "latency_ms": {"mean": 0.0, "p50": 0.0}})
        reads, writes = int(get["count"]), int(put["count"])
        hits = [read_hits(a, b, writes=writes // len(m0), duration_s=duration, l1_ttl_s=L1_TTL)
                for a, b in zip(m0, m1, strict=True)]
        l1, l2 = sum(h[0] for h in hits), sum(h[1] for h in hits)
        cpu = [b - a for a, b in zip(c0, c1, strict=True)]
        busy = dep.busy_between(b0, b1)
        elapsed = max(1e-9, (b1[min(SERVICE_CPU)][1] - b0[min(SERVICE_CPU)][1]) / os.sysconf("SC_CLK_TCK"))
        own = sum(cpu) / elapsed  # the workers' share of the service core over the same interval
        return {"rate": rate, "duration_s": duration, "reads": reads, "writes": writes, "errors": int(res["errors"]),
                "status": {name: e["status"] for name, e in res["endpoints"].items()},
                "achieved_rate": float(res["achieved_rate"]), "completion_rate": float(res["completion_rate"]),
                "p50_ms": float(get["latency_ms"]["p50"]), "p90_ms": float(get["latency_ms"]["p90"]),
                "p99_ms": float(get["latency_ms"]["p99"]), "connections_used": int(res["connections_used"]),
                "get_mean_ms": float(get["latency_ms"]["mean"]), "put_mean_ms": float(put["latency_ms"]["mean"]),
                "hit_l1": l1 / max(1, reads), "hit_l2": l2 / max(1.0, reads - l1), "l1_hits": l1,
                "cpu_per_request_ms": sum(cpu) / max(1, reads + writes) * 1000, "worker_cpu_share":
                [c / max(1e-9, sum(cpu)) for c in cpu], "service_core_busy": busy[min(SERVICE_CPU)],
                "service_cpu_share": own, "foreign_busy_service_core": max(0.0, busy[min(SERVICE_CPU)] - own),
                "core_busy": busy, "send_lag_p99_ms": float(res["send_lag_ms"]["p99"]),
                "host_load": dep.host_load(), "placement": self.placement,
                "db_queries": {nm: sum(delta(a, b, "db_queries_total", node=nm) for a, b in zip(m0, m1, strict=True))
                               for nm in ("primary", "replica1")}}

    def burst_cpu(self, rate: float, duration: float, burst: int, seed: int) -> dict[str, Any]:
        """CPU per request of a light-load run whose requests come in bursts (fresh workers)."""
        w = self.workers()
        try:
            c0 = w.cpu_seconds()
            res = burst_run(w.url, rate=rate, duration_s=duration, keys=self.args.keys, burst=burst,
                            write_ratio=self.args.write_ratio, seed=seed)
            c1 = w.cpu_seconds()
        finally:
            w.stop()
        cpu = sum(b - a for a, b in zip(c0, c1, strict=True))
        return {**res, "cpu_per_request_ms": cpu / max(1, res["requests"]) * 1000, "host_load": dep.host_load()}

    def close(self) -> None:
        self.pair.close()
        dep.drop_keys(f"{dep.KEY_ROOT}{os.getpid()}:")


def scenario_for(cal: Calibration, *, rate: float, duration: float, keys: int, write_ratio: float, workers: int,
                 lag_ms: float = 1.0, seed: int = 7) -> Any:
    sc = refservice_scenario(cal, rate=rate, duration_s=duration, keys=keys, write_ratio=write_ratio, replicas=1,
                             l1_ttl_s=L1_TTL, product_ttl_s=PRODUCT_TTL, seed=seed)
    return sc.with_changes(**{"app.instances": workers, "db.lag": {"mean_ms": lag_ms, "dist": "const", "cv": 1.0}})


def cache_paths(cal: Calibration, args: argparse.Namespace, rate: float, *, duration: float,
                write_ratio: float | None = None, lag_ms: float = 1.0, seeds: int = 3) -> tuple[Paths, list[float]]:
    """Path mix from the trace engine (caches starting empty, N instances), averaged over seeds;
    and each seed's stale fraction (their spread is the stale interval)."""
    wr = args.write_ratio if write_ratio is None else write_ratio
    runs = realisations(scenario_for(cal, rate=rate, duration=duration, keys=args.keys, write_ratio=wr,
                                     workers=args.workers, lag_ms=lag_ms), seeds)
    ps = [paths_from_result(r) for r in runs]
    mean = Paths(**{f: float(np.mean([getattr(p, f) for p in ps])) for f in ("l1", "l2", "db", "stale", "write_ratio")})
    return mean, [p.stale for p in ps]


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def calibration_tail(light: list[dict[str, Any]]) -> float:
    """The light-load P99 the CPU-time spread is fitted to: the lowest of the repeats.

    At ~30 % load the service's own tail is a few ms above its P50, while a co-tenant's burst on this
    shared 2-core host stalls the service core for tens of ms: the light repeats' P99 ranged 16-82 ms
    over two sessions, with the median of three landing on a stalled run, and the spread fit ran into
    its bound (cv 3.0) and overpredicted every quiet run. Host noise only ever adds latency, so the
    quietest repeat is the closest estimate of the service's own tail (a one-sided trimmed statistic);
    the per-run values are kept in the results beside it."""
    return float(min(r["p99_ms"] for r in light))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--write-ratio", type=float, default=0.02)
    ap.add_argument("--loads", default="0.5,0.7,0.85,0.95,0.98,1.03")
    ap.add_argument("--target-ms", type=float, default=500.0, help="P99 target for the capacity answer")
    ap.add_argument("--apply-delay-ms", type=int, default=1000)
    ap.add_argument("--stale-write-ratio", type=float, default=0.05)
    ap.add_argument("--work-ms", type=float, default=1.5, help="application CPU per product request (knee_deploy)")
    ap.add_argument("--work-chunks", type=int, default=3, help="awaits the application work is split by")
    ap.add_argument("--no-fast-path", dest="fast_path", action="store_false",
                    help="switch the service's L1 fast path off")
    ap.add_argument("--name", default="simulator-knee", help="results file name in bench/results (.json, .md)")
    ap.add_argument("--quick", action="store_true", help="short runs, two loads, one repeat (smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.repeats, args.loads = 8.0, 1, "0.5,0.95"
    os.sched_setaffinity(0, LOADGEN_CPU)
    print("scheduling group:", dep.own_autogroup(dep.NICE), flush=True)
    os.setpriority(os.PRIO_PROCESS, 0, dep.NICE)
    bench = Bench(args)
    started = time.time()
    try:
        doc = sweep(bench, args)
    finally:
        bench.close()
    doc["wall_s"] = time.time() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    from knee_report import markdown

    (RESULTS / f"{args.name}.md").write_text(markdown(doc))
    print(markdown(doc))


def sweep(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate at light load, find the capacity, sweep, count stale reads; the result document."""
    dur, reps = args.duration, args.repeats
    probe = bench.measure(100.0, 8.0, seed=98)
    estimate = 1000.0 / probe["cpu_per_request_ms"]
    cal_rate = float(round(0.3 * estimate / 10) * 10)
    hot = bench.measure(cal_rate, 8.0, keys=1, write_ratio=0.0, seed=97)
    # Poisson and burst runs alternate, so that a drift of the host's speed during calibration
    # falls on both and not on their difference (the wake-up estimate)
    light, bursts = [], []
    for r in range(reps):
        light.append(bench.measure(cal_rate, dur, seed=99 + r))
        bursts.append(bench.burst_cpu(cal_rate, dur, BURST, seed=60 + r))
    requests = sum(r["reads"] + r["writes"] for r in light)
    cpu_total = sum(r["cpu_per_request_ms"] * (r["reads"] + r["writes"]) for r in light)
    l1_hits = sum(r["l1_hits"] for r in light)
    # The loop's wake-up cost, from the same light load sent in bursts: a Poisson arrival finds its own
    # loop idle with probability 1 - rho / N (PASTA; each of the N loops carries a share rho / N of the
    # core, to first order at light load). A burst of B requests lands on D = N (1 - (1 - 1/N)^B) distinct
    # loops (SO_REUSEPORT spreads the connections), each woken once: a share D / B of the burst wakes one.
    poisson_ms = cpu_total / requests
    burst_ms = float(np.mean([b["cpu_per_request_ms"] for b in bursts]))
    n_loops = args.workers
    woken = n_loops * (1 - (1 - 1 / n_loops) ** BURST) / BURST
    rho = cal_rate * poisson_ms / 1000.0
    idle_share = 1 - rho / n_loops
    wake_ms = max(0.0, (poisson_ms - burst_ms) / (idle_share * (1 - woken)))
    hit_ms = max(0.05, hot["cpu_per_request_ms"] - wake_ms * idle_share)
    miss_ms = max(hit_ms, (cpu_total - l1_hits * hot["cpu_per_request_ms"]) / max(1.0, requests - l1_hits)
                  - wake_ms * idle_share)
    # The interval: each (Poisson, burst) pair calibrated on its own gives a busy-loop CPU per request;
    # their spread around the pooled value is what the calibration could not pin down (host drift
    # between repeats, and the wake-up estimate's own noise).
    def busy_ms(p_ms: float, b_ms: float) -> float:
        idle = 1 - cal_rate * p_ms / 1000.0 / n_loops
        return p_ms - max(0.0, (p_ms - b_ms) / (idle * (1 - woken))) * idle

    central_busy = busy_ms(poisson_ms, burst_ms)
    spread = [busy_ms(p["cpu_per_request_ms"], b["cpu_per_request_ms"]) / central_busy
              for p, b in zip(light, bursts, strict=True)]
    stmts = float(np.mean([max(1.0, r["db_queries"]["primary"] / max(1, r["writes"])) for r in light]))
    cal = Calibration(rate=cal_rate, app_hit_cpu_ms=hit_ms, app_cpu_ms=miss_ms, statements_per_write=stmts,
                      redis_rtt_ms=redis_rtt_ms(dep.REDIS_URL, n=2000),
                      pg_read_ms=pg_read_ms(bench.pair.replica_dsn, args.keys, n=2000))
    base = KneeParams(instances=args.workers, cores=float(len(SERVICE_CPU)), cpu_hit_ms=hit_ms, cpu_miss_ms=miss_ms,
                      l2_ms=cal.redis_rtt_ms or 0.1, db_ms=cal.pg_read_ms or 0.2,
                      db_write_ms=(cal.pg_read_ms or 0.2) * stmts, wake_ms=wake_ms,
                      max_in_service=CONNECTION_BOUND)
    cal_paths, _ = cache_paths(cal, args, cal_rate, duration=dur)
    params = fit_light_load(base, cal_paths, cal_rate, median(light, "p50_ms"), calibration_tail(light),
                            duration_s=dur)
    cpu_low, cpu_high = min(spread), max(spread)
    print(json.dumps({"calibration": asdict(cal), "params": asdict(params), "cpu_spread": spread,
                      "poisson_ms": poisson_ms, "burst_ms": burst_ms}), flush=True)

    over = bench.measure(1.6 * estimate, min(dur, 15.0), seed=96)
    generator_bound = over["achieved_rate"] < 0.9 * over["rate"] and over["service_cpu_share"] < 0.9
    # The service's throughput in overload, or, when the generator could not overload it, the rate its core
    # would sustain at the CPU per request measured in that run (the overload run's own figure, not the model's).
    measured_cap = 1000.0 / over["cpu_per_request_ms"] if generator_bound else over["completion_rate"]
    if generator_bound:
        print(f"WARNING: the load generator sent only {over['achieved_rate']:.0f} of {over['rate']:.0f} req/s and the "
              f"service used {over['service_cpu_share']:.0%} of its core: capacity taken as 1 / CPU per request in "
              "that run", flush=True)
    rows = []
    for factor in [float(x) for x in args.loads.split(",")]:
        rate = float(round(factor * measured_cap))
        runs = [bench.measure(rate, dur, seed=7 + r) for r in range(reps)]
        paths, stale_seeds = cache_paths(cal, args, rate, duration=dur)
        pred = predict(params, paths, rate, duration_s=dur, cpu_low=cpu_low, cpu_high=cpu_high)
        fcfs = predict(replace(params, discipline="fcfs"), paths, rate, duration_s=dur)
        row = _row(factor, rate, runs, pred, fcfs.p99_ms, paths, stale_seeds, args)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("utilisation", "p99_measured_ms", "p99_predicted_ms",
                                               "p99_predicted_low_ms", "p99_predicted_high_ms", "host_load")}),
              flush=True)

    def paths_at(rate: float) -> Paths:
        return cache_paths(cal, args, rate, duration=dur, seeds=1)[0]

    cap = capacity(params, paths_at, args.target_ms, duration_s=dur, cpu_low=cpu_low, cpu_high=cpu_high)
    rows.append(stale_row(bench, cal, params, args, measured_cap, cpu_low, cpu_high))
    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "workers": args.workers,
            "duration_s": dur, "repeats": reps, "keys": args.keys, "write_ratio": args.write_ratio,
            "calibration": {**asdict(cal), "cal_p50_ms": median(light, "p50_ms"),
                            "cal_p99_ms": calibration_tail(light), "cal_p99_runs_ms": [r["p99_ms"] for r in light],
                            "cal_tail_rule": "lowest P99 of the light repeats (host noise only adds latency)",
                            "cpu_spread_per_run": spread,
                            "light_runs": light, "hot_run": hot, "probe_run": probe, "burst_runs": bursts,
                            "wake_ms": wake_ms, "poisson_cpu_ms": poisson_ms, "burst_cpu_ms": burst_ms},
            "model": asdict(params), "measured_capacity": {"rate": measured_cap, "overload_run": over,
                                                          "generator_bound": generator_bound},
            "capacity": {"target_p99_ms": args.target_ms, **cap.to_dict(),
                         "measured_crossing": measured_crossing(rows, args.target_ms)},
            "rows": rows}


def _row(factor: float, rate: float, runs: list[dict[str, Any]], pred: Any, fcfs_p99: float, paths: Paths,
         stale_seeds: list[float], args: argparse.Namespace) -> dict[str, Any]:
    p99s = [r["p99_ms"] for r in runs]
    return {"kind": "sweep", "load_factor": factor, "rate": rate, "utilisation": factor,
            "service_core_busy": median(runs, "service_core_busy"),
            "foreign_busy_service_core": [r["foreign_busy_service_core"] for r in runs],
            "p99_measured_ms": float(np.median(p99s)), "p99_measured_runs_ms": p99s,
            "p99_predicted_ms": pred.p99_ms, "p99_predicted_low_ms": pred.p99_low_ms,
            "p99_predicted_high_ms": pred.p99_high_ms, "p99_predicted_fcfs_ms": fcfs_p99,
            "p50_measured_ms": median(runs, "p50_ms"), "p50_predicted_ms": pred.p50_ms,
            "model_utilisation": pred.utilisation,
            "hit_l1_measured": float(np.mean([r["hit_l1"] for r in runs])),
            "hit_l1_predicted": paths.l1,
            "hit_l2_measured": float(np.mean([r["hit_l2"] for r in runs])),
            "hit_l2_predicted": paths.l2 / max(1e-12, 1 - paths.l1),
            "stale_measured": None, "stale_predicted": paths.stale,
            "stale_predicted_low": min(stale_seeds), "stale_predicted_high": max(stale_seeds),
            "get_mean_ms": [r["get_mean_ms"] for r in runs], "put_mean_ms": [r["put_mean_ms"] for r in runs],
            "cpu_per_request_ms": [r["cpu_per_request_ms"] for r in runs],
            "worker_cpu_share": [r["worker_cpu_share"] for r in runs],
            "errors": sum(r["errors"] for r in runs), "achieved_rate": median(runs, "achieved_rate"),
            "send_lag_p99_ms": median(runs, "send_lag_p99_ms"),
            "send_lag_p99_runs_ms": [r["send_lag_p99_ms"] for r in runs],
            "connections_used": [r["connections_used"] for r in runs],
            "host_load": [r["host_load"] | {"core_busy": r["core_busy"]} for r in runs],
            "placement": runs[-1]["placement"]}


def stale_row(bench: Bench, cal: Calibration, params: KneeParams, args: argparse.Namespace, measured_cap: float,
              cpu_low: float, cpu_high: float) -> dict[str, Any]:
    """The replica-delay run: stale reads counted by the client, predicted with lag = the delay."""
    rate = float(round(0.5 * measured_cap))
    dep.set_apply_delay(bench.pair.replica_dsn, args.apply_delay_ms)
    counts = []
    try:
        for r in range(args.repeats):
            w = bench.workers()
            try:
                b0 = dep.core_busy()
                res = stale_run(w.url, rate=rate, duration_s=args.duration, keys=args.keys,
                                write_ratio=args.stale_write_ratio, seed=50 + r)
                res["host_load"] = dep.host_load() | {"core_busy": dep.busy_between(b0, dep.core_busy())}
                counts.append(res)
            finally:
                w.stop()
    finally:
        dep.set_apply_delay(bench.pair.replica_dsn, 0)
    paths, seeds = cache_paths(cal, args, rate, duration=args.duration, write_ratio=args.stale_write_ratio,
                               lag_ms=args.apply_delay_ms + 1.0, seeds=5)
    pred = predict(params, paths, rate, duration_s=args.duration, cpu_low=cpu_low, cpu_high=cpu_high)
    fractions = [c["stale_fraction"] for c in counts]
    return {"kind": "stale", "load_factor": 0.5, "rate": rate, "utilisation": 0.5,
            "apply_delay_ms": args.apply_delay_ms, "write_ratio": args.stale_write_ratio,
            "p99_measured_ms": None, "p99_predicted_ms": pred.p99_ms, "p99_predicted_low_ms": pred.p99_low_ms,
            "p99_predicted_high_ms": pred.p99_high_ms,
            "stale_measured": float(np.median(fractions)), "stale_measured_runs": fractions,
            "stale_predicted": paths.stale, "stale_predicted_low": min(seeds), "stale_predicted_high": max(seeds),
            "stale_counts": counts, "host_load": [c["host_load"] for c in counts], "placement": bench.placement}


def measured_crossing(rows: list[dict[str, Any]], target: float) -> float | None:
    """The rate at which the measured median P99 reaches ``target`` (log-linear between the two
    sweep points around it); None when no pair of points brackets it."""
    pts = sorted((r["rate"], r["p99_measured_ms"]) for r in rows if r["kind"] == "sweep")
    for (r0, p0), (r1, p1) in itertools.pairwise(pts):
        if p0 < target <= p1:
            f = (np.log(target) - np.log(p0)) / (np.log(p1) - np.log(p0))
            return float(r0 + f * (r1 - r0))
    return None


if __name__ == "__main__":
    main()
