"""Dashboard benchmark (issue 11): every page against a store of 30 runs x 6,000 findings.

Run: ``python bench/bench_dashboard.py``. Builds a private SQLite store (30 runs, 6,000
findings each, statuses shifting from run to run, real check ids and framework items), then
runs every page's script server-side with Streamlit's AppTest: a first run with every cache
empty (the page's first view: no run read yet) and a warm rerun (the next click). One untimed
pass over all pages comes first and is printed on its own: it pays what a server process pays
once in its life (imports, plotly's and pyarrow's first use), not what each page costs.
Targets per page: first run < 2 s, warm rerun < 0.5 s. The same-process baseline is one plain
``Store.load_run`` of a 6,000-finding run, the read no page can avoid; each page's figures are
also printed as a ratio of it.
Exits 1 when a page misses a target.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS, FINDINGS = 30, 6000
FIRST_TARGET_S, WARM_TARGET_S = 2.0, 0.5
PAGES = ["scorecard", "finding", "history", "roadmap", "run_checks", "targets", "runs"]
STATUSES = ["pass"] * 6 + ["fail", "warn", "error", "skip"]


def build_store(url: str) -> float:
    """30 runs of 6,000 findings; returns the seconds it took."""
    from scaleready.api import Finding, Severity, Snapshot, Status
    from scaleready.plugins import default_registry
    from scaleready.runner import resolve_framework
    from scaleready.scoring import score
    from scaleready.store import Store

    began = time.perf_counter()
    store = Store(url)
    framework = resolve_framework(None)
    checks = list(default_registry().checks.values())
    rng = random.Random(11)
    targets = [f"target-{i:02d}" for i in range(20)]
    snapshots = [Snapshot(t, "bench", data={"rows": list(range(50))}) for t in targets]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    for run_no in range(RUNS):
        findings = []
        for n in range(FINDINGS):
            chk = checks[n % len(checks)]
            status = Status(rng.choice(STATUSES))
            findings.append(Finding(
                check=chk.id, target=targets[n % len(targets)], status=status, severity=Severity.WARNING,
                title=chk.title, message=f"{chk.title}: observed value {rng.random() * 100:.1f} on subject {n}",
                evidence={"value": rng.random() * 100, "series": [rng.random() for _ in range(5)],
                          "snapshot": "0" * 64, "pointer": f"/rows/{n % 50}"},
                remediation=chk.remediation, items=list(chk.items), section=chk.section, subject=f"subject-{n}"))
        from scaleready.results import RunResult

        run = RunResult(id=str(uuid.uuid4()), started_at=start + timedelta(days=run_no), finished_at=None,
                        framework={"id": framework.id, "title": framework.title, "version": framework.version},
                        findings=findings, score=score(framework, findings), environment=rng.choice(
                            ["staging", "production"]))
        store.save_run(replace(run, finished_at=run.started_at), snapshots)
    return time.perf_counter() - began


def baseline(url: str) -> float:
    from scaleready.store import Store

    store = Store(url)
    run_id = store.runs(1)[0].id
    began = time.perf_counter()
    store.load_run(run_id)
    return time.perf_counter() - began


def time_page(page: str) -> tuple[float, float, str | None]:
    """(first run with empty caches, warm rerun, error) for one page script."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "pages" / f"{page}.py"), default_timeout=120)
    began = time.perf_counter()
    at.run()
    first = time.perf_counter() - began
    began = time.perf_counter()
    at.run()
    warm = time.perf_counter() - began
    problems = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
    return first, warm, "; ".join(problems)[:200] or None


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    url = f"sqlite:///{folder / 'store.db'}"
    os.environ["SCALEREADY_DATABASE_URL"] = url
    built = build_store(url)
    print(f"store: {RUNS} runs x {FINDINGS:,} findings built in {built:.1f} s ({folder / 'store.db'})")
    # the modules a running server has imported already (the first page view does not pay for them)
    import dashboard.state  # noqa: F401
    import scaleready.history
    import scaleready.reports  # noqa: F401

    began = time.perf_counter()
    for page in PAGES:
        time_page(page)
    print(f"process warm-up (one untimed pass over every page): {time.perf_counter() - began:.1f} s")
    base = min(baseline(url) for _ in range(3))
    print(f"baseline: Store.load_run of one {FINDINGS:,}-finding run = {base * 1000:.0f} ms")
    print(f"{'page':<12} {'first s':>8} {'x base':>7} {'warm s':>8} {'x base':>7}  verdict")
    failed = False
    for page in PAGES:
        first, warm, problem = time_page(page)
        ok = first < FIRST_TARGET_S and warm < WARM_TARGET_S and problem is None
        failed |= not ok
        verdict = "ok" if ok else f"MISSED (first < {FIRST_TARGET_S} s, warm < {WARM_TARGET_S} s)"
        print(f"{page:<12} {first:8.2f} {first / base:7.1f} {warm:8.3f} {warm / base:7.2f}  {verdict}"
              + (f"  error: {problem}" if problem else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
