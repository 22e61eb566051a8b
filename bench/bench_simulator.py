"""Simulator speed: compiled cache loop vs plain Python vs libCacheSim, and the 100K-user scenario.

Run: ``python bench/bench_simulator.py [--requests 10000000] [--keys 1000000] [--prefix 500000]``

1. One trace of N requests over K keys, Zipf(1.0), 4 instances, with some writes. The L1 (5 s,
   per instance) + L2 (300 s) TTL model runs through the numba loop over the whole trace and
   through the plain-Python dict implementation (`reference.run_reference_ttl`) over a prefix;
   both are compared per request (they must agree exactly on the prefix).
2. Plain LRU over the same key sequence: our size-limited loop vs libCacheSim's LRU replaying an
   oracleGeneral binary trace in C (if `pip install libcachesim` worked); miss ratios must match.
3. The shipped 100K-user, 10-minute scenario end to end (trace engine), target < 10 s.
4. numba compile time: a fresh process with an empty numba cache, then one with the cache.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import load_scenario, simulate  # noqa: E402
from simulator.cachesim import SERVED_DB, run_cache  # noqa: E402
from simulator.reference import run_reference_ttl  # noqa: E402
from simulator.workload import build_trace  # noqa: E402


def _scenario(requests: int, keys: int):
    duration = 600.0
    return load_scenario({
        "name": "bench", "users": requests / duration, "requests_per_user_s": 1.0, "duration_s": duration,
        "seed": 11,
        "data_types": {"item": {"keys": keys, "zipf": 1.0, "l2_ttl_s": 300, "writes_per_s": 20.0}},
        "endpoints": [{"name": "GET /items/{id}", "weight": 1, "data_type": "item"}],
        "app": {"instances": 4}, "l1": {"ttl_s": 5, "max_entries": 10**9}, "l2": {"memory_bytes": 1e15},
    })


def _libcachesim_lru(keys: np.ndarray, capacity: int) -> tuple[float, float] | str:
    try:
        import libcachesim as lcs
    except ImportError:
        return "libcachesim not installed (pip install libcachesim)"
    rec = np.zeros(keys.size, dtype=[("ts", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
    rec["ts"] = np.arange(keys.size) // 1000
    rec["id"] = keys.astype(np.uint64) + 1
    rec["size"] = 1
    rec["next"] = -1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.oracleGeneral.bin")
        rec.tofile(path)
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = lcs.LRU(cache_size=capacity)
        t0 = time.perf_counter()
        miss_ratio, _ = cache.process_trace(reader)
        return time.perf_counter() - t0, float(miss_ratio)


def _subprocess_seconds(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--prefix", type=int, default=500_000, help="events the plain-Python model replays")
    ap.add_argument("--lru-capacity", type=int, default=100_000)
    args = ap.parse_args()

    sc = _scenario(args.requests, args.keys)
    t0 = time.perf_counter()
    tr = build_trace(sc)
    t_sample = time.perf_counter() - t0
    n = len(tr)
    l2_ttl = np.array([300.0])
    kw = dict(l1_ttl=5.0, l1_entries=10**9, l2_bytes=1e15, n_inst=4)
    run_cache(tr.t[:1000], tr.op[:1000], tr.key[:1000], tr.inst[:1000], np.zeros(0), tr.space.key_type,
              tr.space.key_bytes, l2_ttl, **kw)  # load the compiled code
    t0 = time.perf_counter()
    out = run_cache(tr.t, tr.op, tr.key, tr.inst, np.zeros(0), tr.space.key_type, tr.space.key_bytes, l2_ttl, **kw)
    t_numba = time.perf_counter() - t0
    counts = np.bincount(out.served, minlength=4)
    print(f"trace: {n:,} events ({counts[3]:,} writes) over {args.keys:,} keys, Zipf(1.0), 4 instances")
    print(f"  sampling (numpy):            {t_sample:7.2f} s   {n / t_sample / 1e6:7.2f} M events/s")
    print(f"  L1+L2 TTL loop (numba):      {t_numba:7.2f} s   {n / t_numba / 1e6:7.2f} M events/s   "
          f"hit L1 {counts[0] / (n - counts[3]):.3f}, DB reads {counts[SERVED_DB]:,}")

    m = min(args.prefix, n)
    t0 = time.perf_counter()
    py = run_reference_ttl(tr.t[:m], tr.op[:m], tr.key[:m], tr.inst[:m], tr.space.key_type, l2_ttl, l1_ttl=5.0)
    t_py = time.perf_counter() - t0
    pre = run_cache(tr.t[:m], tr.op[:m], tr.key[:m], tr.inst[:m], np.zeros(0), tr.space.key_type,
                    tr.space.key_bytes, l2_ttl, **kw)
    same = py == tuple(int(c) for c in np.bincount(pre.served, minlength=4)[:3])
    rate_numba, rate_py = n / t_numba, m / t_py
    print(f"  same model, plain Python:    {t_py:7.2f} s   {rate_py / 1e6:7.2f} M events/s   "
          f"(first {m:,} events; identical decisions: {same})")
    print(f"  ratio numba / plain Python (per-event rates): {rate_numba / rate_py:.1f}x   (target >= 20x)")

    cap = args.lru_capacity
    keys = tr.key[tr.op == 0]
    zeros = np.zeros(keys.size, np.int32)
    ts = np.arange(keys.size, dtype=np.float64)
    t0 = time.perf_counter()
    lru = run_cache(ts, zeros.astype(np.int8), keys, zeros, np.zeros(0), tr.space.key_type,
                    np.ones(args.keys), np.array([1e300]), l1_ttl=1.0, l1_entries=1, l2_bytes=float(cap), n_inst=1,
                    use_l1=False)
    t_lru = time.perf_counter() - t0
    ours_miss = float((lru.served == SERVED_DB).mean())
    print(f"plain LRU, {cap:,} objects, {keys.size:,} requests:")
    print(f"  our size-limited loop:       {t_lru:7.2f} s   {keys.size / t_lru / 1e6:7.2f} M req/s   "
          f"miss ratio {ours_miss:.4f}")
    lib = _libcachesim_lru(keys, cap)
    if isinstance(lib, str):
        print(f"  libCacheSim: {lib}")
    else:
        t_lib, lib_miss = lib
        print(f"  libCacheSim LRU (C, file):   {t_lib:7.2f} s   {keys.size / t_lib / 1e6:7.2f} M req/s   "
              f"miss ratio {lib_miss:.4f}")
        print(f"  ratio ours / libCacheSim: {t_lib / t_lru:.2f}x   (target >= 1x)")

    path = ROOT / "data" / "simulator" / "100k-users.yaml"
    sc100 = load_scenario(path)
    simulate(sc100.with_changes(duration_s=5, warmup_s=0), engine="trace")  # compiled code loaded
    t0 = time.perf_counter()
    res = simulate(sc100, engine="trace")
    t_100k = time.perf_counter() - t0
    print(f"100K users, 10 minutes ({res.simulated_requests:,} events, trace engine): {t_100k:.2f} s "
          f"(target < 10 s); verdict {'pass' if res.verdict.passed else 'fail'}")
    t0 = time.perf_counter()
    simulate(sc100, engine="analytic")
    print(f"  same scenario, analytic engine: {time.perf_counter() - t0:.2f} s")

    code = ("from simulator import simulate;"
            f"simulate({str(path)!r}, engine='trace')")
    with tempfile.TemporaryDirectory() as cache_dir:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        cold = _subprocess_seconds(code, env)
        warm = _subprocess_seconds(code, env)
    print(f"fresh process, 100K scenario: empty numba cache {cold:.1f} s, cached {warm:.1f} s "
          f"(compile cost {cold - warm:.1f} s, paid once: @njit(cache=True))")


if __name__ == "__main__":
    main()
