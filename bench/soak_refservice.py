"""Soak: the reference service on PostgreSQL + Redis under steady open-loop load for 10 minutes.

Target (issue 12): memory growth after warm-up < 10 %, with throughput and P99 steady. A
leak (an unbounded cache, a session table kept in memory, an outbox that never drains) shows
up here and in no unit test.

The service runs in its own process, exactly as ``scaleready refservice`` serves it (uvicorn,
the same server options), on a fresh PostgreSQL database and its own Redis database number
and key prefix (removed afterwards; nothing else on the shared Redis is touched). The load
generator drives it on loopback in consecutive windows; after each window the script prints
the achieved rate, P50/P99 (timed from the intended send time), errors and the service
process's resident memory. The first windows are warm-up (caches fill, the connection pools
grow); growth is measured from the end of warm-up to the end of the run.

Exit 1 when growth >= 10 %, when the error rate exceeds 1 %, or when the service dies.
Run: ``python bench/soak_refservice.py [--minutes 10] [--rate 150] [--output bench/results/soak-refservice.md]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from refservice.loadgen.runner import LoadSpec, run  # noqa: E402

PG_ADMIN = os.environ.get("SOAK_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("SOAK_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = 12
GROWTH_LIMIT = 0.10
MAX_ERROR_RATE = 0.01
MIX = "get_product=70,list_products=10,search=5,recommendations=5,update_product=8,checkout=2"

SERVER = """
import json, sys, uvicorn
from refservice.app import create_app, server_options
from refservice.settings import Settings
settings = Settings(**json.loads(sys.argv[1]))
uvicorn.run(create_app(settings, seed=int(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[3]),
            log_level="warning", access_log=False, **server_options(settings))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of the service process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Service:
    """The reference service in its own process, on a database and a Redis key space of its own."""

    def __init__(self, seed: int) -> None:
        self.db = f"soak_{uuid.uuid4().hex[:10]}"
        self.prefix = f"soak-{uuid.uuid4().hex[:8]}:"
        self.seed = seed
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Service:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        settings = {
            "database_url": f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.db}",
            "redis_url": f"{REDIS_BASE}/{REDIS_DB}",
            "key_prefix": self.prefix,
            "rate_limit_enabled": False,
            "access_log": False,
            "log_level": "WARNING",
            "jwt_secret": "soak-" + uuid.uuid4().hex,
        }
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(settings), str(self.seed),
                                      str(self.port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode} while starting")
            time.sleep(0.2)
        raise RuntimeError("the service did not become ready within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        client = redis.Redis.from_url(f"{REDIS_BASE}/{REDIS_DB}")
        for key in client.scan_iter(match=f"{self.prefix}*", count=1000):  # only this run's keys
            client.delete(key)
        client.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def soak(minutes: float, window_s: float, rate: float, warmup_windows: int, keys: int) -> dict[str, Any]:
    windows: list[dict[str, Any]] = []
    with Service(seed=keys) as service:
        assert service.proc is not None
        start_rss = rss_mb(service.proc.pid)
        print(f"service pid {service.proc.pid} on {service.url}; RSS at start {start_rss:.1f} MB", flush=True)
        print(f"{'window':>6} {'t (s)':>6} {'sent/s':>7} {'done/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6} "
              f"{'RSS MB':>7}", flush=True)
        started = time.monotonic()
        index = 0
        while time.monotonic() - started < minutes * 60 - 1:
            result = run(LoadSpec(url=service.url, rate=rate, duration_s=window_s, mix=MIX, n_keys=keys,
                                  connections=32, username="admin", password="admin", seed=index + 1, drain_s=5))
            if service.proc.poll() is not None:
                raise RuntimeError(f"the service died (exit {service.proc.returncode}) in window {index}")
            row = {
                "window": index, "t_s": round(time.monotonic() - started),
                "achieved_rate": result["achieved_rate"], "completion_rate": result["completion_rate"],
                "p50_ms": result["latency_ms"]["p50"], "p99_ms": result["latency_ms"]["p99"],
                "errors": result["errors"], "planned": result["planned"], "rss_mb": round(rss_mb(service.proc.pid), 1),
                "statuses": {k: v for ep in result["endpoints"].values() for k, v in ep["status"].items()
                             if not k.startswith("2")},
            }
            windows.append(row)
            print(f"{index:>6} {row['t_s']:>6} {row['achieved_rate']:>7.1f} {row['completion_rate']:>7.1f} "
                  f"{row['p50_ms']:>7.1f} {row['p99_ms']:>8.1f} {row['errors']:>6} {row['rss_mb']:>7.1f}", flush=True)
            index += 1
    if len(windows) <= warmup_windows:
        raise RuntimeError(f"only {len(windows)} windows: nothing after a {warmup_windows}-window warm-up")
    after = windows[warmup_windows - 1]["rss_mb"]
    end = windows[-1]["rss_mb"]
    steady = windows[warmup_windows:]
    errors = sum(w["errors"] for w in windows)
    planned = sum(w["planned"] for w in windows)
    return {
        "minutes": minutes, "rate": rate, "window_s": window_s, "warmup_windows": warmup_windows, "mix": MIX,
        "keys": keys, "start_rss_mb": start_rss, "rss_after_warmup_mb": after, "rss_end_mb": end,
        "rss_max_mb": max(w["rss_mb"] for w in windows),
        "growth": (end - after) / after, "error_rate": errors / planned if planned else 0.0,
        "steady_p99_ms": {"min": min(w["p99_ms"] for w in steady), "median": statistics.median(
            w["p99_ms"] for w in steady), "max": max(w["p99_ms"] for w in steady)},
        "steady_rate": statistics.median(w["completion_rate"] for w in steady),
        "windows": windows,
    }


def markdown(summary: dict[str, Any], verdict: str) -> str:
    lines = [
        "# Soak: reference service on PostgreSQL + Redis",
        "",
        f"`python bench/soak_refservice.py --minutes {summary['minutes']:g} --rate {summary['rate']:g}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Mix `{summary['mix']}` over "
        f"{summary['keys']} products, open loop, {summary['window_s']:g} s windows, the first "
        f"{summary['warmup_windows']} are warm-up.",
        "",
        f"**{verdict}**: memory {summary['rss_after_warmup_mb']:.1f} MB after warm-up -> "
        f"{summary['rss_end_mb']:.1f} MB at the end ({100 * summary['growth']:+.1f} %, target < "
        f"{100 * GROWTH_LIMIT:.0f} %); errors {100 * summary['error_rate']:.2f} %; steady P99 median "
        f"{summary['steady_p99_ms']['median']:.1f} ms (min {summary['steady_p99_ms']['min']:.1f}, max "
        f"{summary['steady_p99_ms']['max']:.1f}); steady throughput {summary['steady_rate']:.1f} req/s.",
        "",
        "| window | t (s) | sent/s | done/s | P50 ms | P99 ms | errors | RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in summary["windows"]:
        lines.append(f"| {w['window']} | {w['t_s']} | {w['achieved_rate']:.1f} | {w['completion_rate']:.1f} | "
                     f"{w['p50_ms']:.1f} | {w['p99_ms']:.1f} | {w['errors']} | {w['rss_mb']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per measurement window")
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second (open loop)")
    parser.add_argument("--warmup-windows", type=int, default=2)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--output", help="also write the result as Markdown to this file")
    args = parser.parse_args()
    summary = soak(args.minutes, args.window, args.rate, args.warmup_windows, args.keys)
    failures = []
    if summary["growth"] >= GROWTH_LIMIT:
        failures.append(f"memory grew {100 * summary['growth']:.1f} % after warm-up (limit {100 * GROWTH_LIMIT:.0f} %)")
    if summary["error_rate"] > MAX_ERROR_RATE:
        failures.append(f"error rate {100 * summary['error_rate']:.2f} % (limit {100 * MAX_ERROR_RATE:.0f} %)")
    verdict = "FAIL: " + "; ".join(failures) if failures else "PASS"
    print(json.dumps({k: v for k, v in summary.items() if k != "windows"}, indent=2))
    print(verdict)
    if args.output:
        Path(args.output).write_text(markdown(summary, verdict))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
