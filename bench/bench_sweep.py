"""Sweep speed (issue 11.6): the bundled 500k-users-small-redis sweep in < 15 s, and it must find
the configuration that passes.

Run: ``python bench/bench_sweep.py [--no-baseline]``

1. **The target** - what a user waits for: ``scaleready simulate
   data/simulator/500k-users-small-redis.yaml --sweep`` in a fresh process (interpreter start,
   imports, numba's cached code, the default grid: Redis memory x replicas x instances), best
   of two runs. Target < 15 s, exit code 0 (a recommendation exists) and the recommended Redis
   larger than the scenario's 500 MB (the knob that matters).
2. **The ratio** - the same sweep in this process, against a same-process baseline that solves
   the cache tiers for every grid point (`tiers.keep_tier_solutions(0)`, as before the tier
   solutions were kept), so the gain of reusing one tier solve per cache setup is measured, not
   assumed. Both sweeps must recommend the same configuration.

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import load_scenario, sweep  # noqa: E402
from simulator.summary import fmt_value  # noqa: E402
from simulator.tiers import keep_tier_solutions  # noqa: E402

SCENARIO = ROOT / "data" / "simulator" / "500k-users-small-redis.yaml"
TARGET_S = 15.0


def cli_sweep() -> tuple[float, int, dict | None]:
    """One fresh-process CLI sweep: (wall seconds, exit code, recommended row)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.json"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", "from scaleready.cli import main; main()", "simulate",
                               str(SCENARIO), "--sweep", "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        best = json.loads(out.read_text())["recommended"] if out.exists() else None
    if proc.returncode not in (0, 3):
        print(proc.stdout + proc.stderr)
    return wall, proc.returncode, best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-baseline", action="store_true", help="skip the slow per-point baseline")
    args = ap.parse_args()
    missed: list[str] = []
    base_memory = load_scenario(SCENARIO).l2.memory_bytes

    runs = [cli_sweep() for _ in range(2)]
    wall, code, best = min(runs, key=lambda r: r[0])
    found = code == 0 and best is not None and best["l2.memory_bytes"] > base_memory
    print(f"scaleready simulate {SCENARIO.name} --sweep (fresh process, best of 2): {wall:.1f} s "
          f"(runs {', '.join(f'{r[0]:.1f}' for r in runs)}; target < {TARGET_S:g} s) "
          f"{'OK' if wall < TARGET_S else 'MISSED'}")
    if best is not None:
        knobs = ", ".join(f"{k} = {fmt_value(k, v)}" for k, v in best.items() if "." in k)
        print(f"  recommended: {knobs} (exit code {code}) {'OK' if found else 'MISSED'}")
    else:
        print(f"  no recommendation (exit code {code}) MISSED")
    if wall >= TARGET_S:
        missed.append(f"CLI sweep {wall:.1f} s (target < {TARGET_S:g} s)")
    if not found:
        missed.append("the sweep did not recommend a configuration with more Redis memory")

    sweep(SCENARIO, grid={"db.replicas": [0]})  # imports, numba code and the Zipf tables loaded
    t0 = time.perf_counter()
    fast = sweep(SCENARIO)
    t_fast = time.perf_counter() - t0
    print(f"in-process sweep, {len(fast.rows)} configurations, tier solutions kept: {t_fast:.2f} s")
    if not args.no_baseline:
        previous = keep_tier_solutions(0)
        try:
            t0 = time.perf_counter()
            slow = sweep(SCENARIO)
            t_slow = time.perf_counter() - t0
        finally:
            keep_tier_solutions(previous)
        same = slow.recommended == fast.recommended
        print(f"  baseline, tiers solved at every point: {t_slow:.2f} s; ratio {t_slow / t_fast:.1f}x; "
              f"same recommendation: {same} {'OK' if same else 'MISSED'}")
        if not same:
            missed.append("the baseline sweep recommends another configuration")
    else:
        print("  baseline skipped (--no-baseline): no ratio measured")
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
