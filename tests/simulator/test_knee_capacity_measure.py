"""How the knee bench measures the capacity that places its sweep (bench/validate_knee.py): the median
of several overload runs, the fallback when the load generator was the limit, and the report's line
for files kept before and after the change (``--repredict`` re-renders old files)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import knee_report, validate_knee


class _Runs:
    """A bench whose overload runs report the given completion rates (the harness, not the service,
    is what is replaced: `measured_capacity` only orders and reads the runs it is given)."""

    def __init__(self, completions: list[float], *, achieved: float = 1.0, share: float = 0.98) -> None:
        self.completions = list(completions)
        self.achieved, self.share = achieved, share
        self.seeds: list[int] = []

    def measure(self, rate: float, duration: float, *, seed: int) -> dict[str, Any]:
        self.seeds.append(seed)
        done = self.completions.pop(0)
        return {"rate": rate, "duration_s": duration, "completion_rate": done, "achieved_rate": self.achieved * rate,
                "service_cpu_share": self.share, "cpu_per_request_ms": 1000.0 / (2 * done)}


def test_capacity_is_the_median_overload_run_not_the_first():
    bench = _Runs([441.0, 490.0, 447.0])
    cap, runs, bound = validate_knee.measured_capacity(bench, 700.0, 10.0)
    assert cap == 447.0 and not bound
    assert [r["completion_rate"] for r in runs] == [441.0, 447.0, 490.0]
    assert len(set(bench.seeds)) == 3  # three different request streams, not one replayed


def test_a_generator_that_could_not_overload_gives_capacity_from_cpu_and_says_so(capsys: pytest.CaptureFixture):
    bench = _Runs([300.0, 310.0, 320.0], achieved=0.6, share=0.6)
    cap, _, bound = validate_knee.measured_capacity(bench, 700.0, 10.0)
    assert bound and cap == pytest.approx(2 * 310.0)
    assert "WARNING: the load generator" in capsys.readouterr().out


def test_the_report_states_the_runs_behind_the_capacity_old_and_new_files():
    old = {"rate": 394.0, "overload_run": {"completion_rate": 394.0}}
    assert "the overload run's completion rate" in knee_report._capacity_line(old)
    assert "back to back" in knee_report._capacity_line(old)
    runs = [{"completion_rate": c} for c in (441.0, 447.0, 490.0)]
    new = {"rate": 447.0, "overload_run": runs[1], "overload_runs": runs}
    line = knee_report._capacity_line(new)
    assert "median completion rate of 3 overload runs: 441, 447, 490" in line and "one per pass" in line
