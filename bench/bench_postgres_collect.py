"""Benchmark: a PostgreSQL snapshot of 1,000 tables + 2,000 indexes vs one of 10 tables + 20 indexes.

The collector runs one set-based query per section, so its cost should grow with the rows it
returns, not with round trips: the target is at most 3x the small database's time. Creates two
throw-away databases on the local server (``SCALEREADY_BENCH_DSN``, default the test server),
times several collections of each (median after a warm-up), prints both and the ratio, and
drops the databases. Exit status 1 if the ratio exceeds 3.

    python bench/bench_postgres_collect.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.postgres.collector import collect
from scaleready.api import Snapshot, Target

ADMIN = os.environ.get("SCALEREADY_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_RATIO = 3.0


def make_database(name: str, tables: int) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"""
            DO $$ BEGIN
              FOR i IN 1..{tables} LOOP
                EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, a int, b text)', i);
                EXECUTE format('CREATE INDEX t_%s_a ON t_%s (a)', i, i);
                EXECUTE format('INSERT INTO t_%s SELECT g, g %% 7, md5(g::text) FROM generate_series(1, 20) g', i);
              END LOOP;
            END $$""")
        conn.execute("ANALYZE")
    return dsn


async def _timed(target: Target) -> tuple[float, Snapshot]:
    # Timed inside the event loop: asyncio.run() itself reprs the returned object when it
    # restores the SIGINT handler (CPython 3.11), which is not collection work.
    started = time.perf_counter()
    snap = await collect.fn(target)
    return time.perf_counter() - started, snap


def time_collect(dsn: str, runs: int) -> tuple[float, Snapshot]:
    target = Target("bench", "postgres", {"dsn": dsn}, timeout=60)
    asyncio.run(_timed(target))  # warm-up (connection, catalog caches)
    times = []
    for _ in range(runs):
        elapsed, snap = asyncio.run(_timed(target))
        times.append(elapsed)
    assert isinstance(snap, Snapshot) and not snap.errors, getattr(snap, "errors", None)
    return statistics.median(times), snap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    small, large = f"sr_bench_small_{tag}", f"sr_bench_large_{tag}"
    try:
        t0 = time.perf_counter()
        small_dsn = make_database(small, 10)
        large_dsn = make_database(large, 1000)
        print(f"setup: 2 databases created in {time.perf_counter() - t0:.1f}s")
        t_small, s_small = time_collect(small_dsn, args.runs)
        t_large, s_large = time_collect(large_dsn, args.runs)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            for name in (small, large):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ratio = t_large / t_small
    print(f"small: {len(s_small.data['tables'])} tables, {len(s_small.data['indexes'])} indexes: "
          f"{t_small * 1000:.1f} ms (median of {args.runs})")
    print(f"large: {len(s_large.data['tables'])} tables, {len(s_large.data['indexes'])} indexes: "
          f"{t_large * 1000:.1f} ms (median of {args.runs})")
    verdict = "OK" if ratio <= TARGET_RATIO else "TOO SLOW"
    print(f"ratio large/small: {ratio:.2f}x (target <= {TARGET_RATIO:g}x): {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
