"""Engine benchmarks (issue 2): concurrent collection, and evaluating + storing 10,000 findings.

Run: ``python bench/bench_engine.py``. Prints figures and ratios; targets:
- 50 targets whose collectors each wait 200 ms finish in at most 1.5x the time of 1 such target
  (for async collectors and for sync collectors, which run in daemon threads);
- evaluating and storing 10,000 findings takes under 2 s on SQLite.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from scaleready.api import Snapshot, Target, TargetOptions, check, collector, failed, passed
from scaleready.engine import collect_all, evaluate
from scaleready.framework import load_framework
from scaleready.plugins import Registry
from scaleready.results import RunResult
from scaleready.scoring import score
from scaleready.store import Store


class WaitOptions(TargetOptions):
    wait: float = 0.2


@collector("bench-async", options=WaitOptions)
async def wait_async(target: Target) -> dict:
    await asyncio.sleep(target.options["wait"])
    return {"rows": list(range(200))}


class RowsOptions(TargetOptions):
    wait: float = 0.0
    rows: int = 200


@collector("bench-rows", options=RowsOptions)
async def many_rows(target: Target) -> dict:
    return {"rows": list(range(target.options["rows"])), "padding": ["x" * 100] * target.options["rows"]}


@collector("bench-sync", options=WaitOptions)
def wait_sync(target: Target) -> dict:
    time.sleep(target.options["wait"])
    return {"rows": list(range(200))}


def _rows_even(snap: Snapshot, target: Target):
    for row in snap.section("rows"):
        yield (passed if row % 2 == 0 else failed)(f"row {row}", subject=f"row/{row}", value=row)


rows_even = check("bench.rows", kind="bench-async", title="every row even", items=["db.work_mem"])(_rows_even)
rows_even_large = check("bench.rows.large", kind="bench-rows", title="every row even",
                        items=["db.work_mem"])(_rows_even)


def registry() -> Registry:
    reg = Registry()
    reg.add_module(sys.modules[__name__], "bench", "0")
    return reg


def time_collection(reg: Registry, kind: str, n: int) -> float:
    targets = [Target(f"t{i}", kind, {"wait": 0.2}) for i in range(n)]
    started = time.perf_counter()
    asyncio.run(collect_all(targets, reg))
    return time.perf_counter() - started


def bench_collection(reg: Registry) -> bool:
    met = True
    for kind in ("bench-async", "bench-sync"):
        one = min(time_collection(reg, kind, 1) for _ in range(3))
        fifty = min(time_collection(reg, kind, 50) for _ in range(3))
        ratio = fifty / one
        verdict = "OK" if ratio <= 1.5 else "MISSED"
        met = met and ratio <= 1.5
        print(f"collection {kind:<11}: 1 target {one * 1000:7.1f} ms, 50 targets {fifty * 1000:7.1f} ms, "
              f"ratio {ratio:.2f} (target <= 1.5) {verdict}")
    return met


def bench_findings(reg: Registry) -> bool:
    targets = [Target(f"db{i}", "bench-async", {"wait": 0}) for i in range(50)]
    snapshots = asyncio.run(collect_all(targets, reg))  # 50 targets x 200 rows = 10,000 findings
    framework = load_framework()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
        started = time.perf_counter()
        findings = [f for snap, t in zip(snapshots, targets, strict=True) for f in evaluate(snap, t, reg)]
        evaluated = time.perf_counter()
        run = RunResult(str(uuid.uuid4()), datetime.now(UTC), datetime.now(UTC),
                        {"id": framework.id, "title": framework.title, "version": str(framework.version)},
                        findings, score(framework, findings))
        store.save_run(run, snapshots)
        stored = time.perf_counter()
    total = stored - started
    verdict = "OK" if total < 2.0 else "MISSED"
    print(f"findings: {len(findings)} evaluated in {(evaluated - started) * 1000:.0f} ms, scored and stored on "
          f"SQLite in {(stored - evaluated) * 1000:.0f} ms, total {total:.2f} s (target < 2 s) {verdict}")
    return total < 2.0


def bench_one_large_snapshot(reg: Registry) -> bool:
    """10,000 findings from ONE snapshot: the cost must not grow with snapshot size x findings."""
    target = Target("big", "bench-rows", {"rows": 10_000})
    (snapshot,) = asyncio.run(collect_all([target], reg))
    started = time.perf_counter()
    findings = evaluate(snapshot, target, reg)
    total = time.perf_counter() - started
    verdict = "OK" if total < 2.0 else "MISSED"
    print(f"one {len(snapshot.canonical()) / 1e6:.1f} MB snapshot: {len(findings)} findings evaluated in "
          f"{total * 1000:.0f} ms (target < 2 s) {verdict}")
    return total < 2.0


if __name__ == "__main__":
    reg = registry()
    results = [bench_collection(reg), bench_findings(reg), bench_one_large_snapshot(reg)]
    if not all(results):
        print(f"{results.count(False)} of {len(results)} benchmarks MISSED their target")
    sys.exit(0 if all(results) else 1)
