"""Sweeps pick the cheapest passing configuration; the click command answers in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator import default_grid, load_scenario, simulate, sweep, sweep_knobs
from simulator.commands import EXIT_TARGETS_MISSED
from simulator.commands import simulate as simulate_cmd
from simulator.sweep import config_cost, parse_values

from .conftest import BASE, make

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "simulator"
GRID = {"l2.ttl_scale": [1, 20], "db.replicas": [0, 1, 2], "app.instances": [2, 4]}


def test_sweep_recommends_the_cheapest_passing_row():
    sc = make(**{"targets.hit_ratio": 0.85, "db.read.mean_ms": 20.0, "db.cores_per_node": 2})
    res = sweep(sc, grid=GRID)
    assert len(res.rows) == 12
    passing = [r for r in res.rows if r["passed"]]
    failing = [r for r in res.rows if not r["passed"]]
    assert passing and failing  # the grid straddles the targets
    best = res.recommended
    assert best is not None and best["passed"]
    assert best["cost"] == min(r["cost"] for r in passing)
    assert best["l2.ttl_scale"] == 20  # short TTLs cannot reach 85 %
    frame = res.to_frame()
    assert list(frame.columns[:3]) == ["l2.ttl_scale", "db.replicas", "app.instances"]
    assert {"hit_overall", "db_cpu_max", "p99_ms", "cost", "passed"} <= set(frame.columns)
    # costs come from the scenario's cost units
    assert best["cost"] == pytest.approx(config_cost(sc.with_changes(**{
        "db.replicas": best["db.replicas"], "app.instances": best["app.instances"]})))


def test_sweep_reports_when_nothing_passes_and_can_verify():
    none = sweep(make(**{"targets.p99_ms": 0.001}), grid={"db.replicas": [0, 1]})
    assert none.recommended is None and "no configuration" in none.notes[0]
    ok = sweep(make(**{"targets.hit_ratio": 0.5, "duration_s": 120, "warmup_s": 20}),
               grid={"db.replicas": [0, 1]}, verify=True)
    assert ok.verification is not None and ok.verification.engine == "trace"


def test_cli_analytic_both_and_sweep(tmp_path: Path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**BASE, "duration_s": 120, "warmup_s": 20, "targets": {"hit_ratio": 0.5}}))
    runner = CliRunner()
    res = runner.invoke(simulate_cmd, [str(path), "--engine", "analytic", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["engine"] == "analytic"
    out = tmp_path / "both.json"
    res = runner.invoke(simulate_cmd, [str(path), "--engine", "both", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote both engines' results as JSON to {out}" in res.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"analytic", "trace"}
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "db.replicas=0,1", "--grid", "l1.ttl_s=1,5",
                                       "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["rows"]) == 4


def test_cli_summary_and_exit_codes_follow_the_verdict(tmp_path: Path):
    runner = CliRunner()
    missed = tmp_path / "missed.json"
    missed.write_text(json.dumps({**BASE, "duration_s": 120, "warmup_s": 20}))  # hit ratio < 90 %
    res = runner.invoke(simulate_cmd, [str(missed), "--engine", "analytic"])
    assert res.exit_code == EXIT_TARGETS_MISSED
    assert "verdict: MISSES the guide's targets" in res.output and "cache hit ratio" in res.output
    assert "{" not in res.output  # a summary, not JSON
    met = tmp_path / "met.json"
    met.write_text(json.dumps({**BASE, "duration_s": 120, "warmup_s": 20, "targets": {"hit_ratio": 0.5}}))
    res = runner.invoke(simulate_cmd, [str(met)])
    assert res.exit_code == 0, res.output
    assert "verdict: meets the guide's targets" in res.output and "trace engine" in res.output
    assert "95 % interval" in res.output  # the trace's P99 comes with its interval
    # a sweep fails when nothing in its grid passes, and says what it wrote
    out = tmp_path / "sweep.json"
    res = runner.invoke(simulate_cmd, [str(missed), "--sweep", "--grid", "db.replicas=0,1", "-o", str(out)])
    assert res.exit_code == EXIT_TARGETS_MISSED
    assert f"wrote the sweep (2 configurations) as JSON to {out}" in res.output
    assert "no configuration in the grid meets all targets" in res.output
    assert len(json.loads(out.read_text())["rows"]) == 2
    res = runner.invoke(simulate_cmd, [str(met), "--sweep", "--grid", "db.replicas=0,1", "-o", str(out),
                                       "--format", "text"])
    assert res.exit_code == 0 and out.read_text().startswith("sweep: 2 configurations")
    assert "recommended (cheapest passing): db.replicas = 0" in out.read_text()


def test_cli_overload_reads_as_offered_load(tmp_path: Path):
    path = tmp_path / "hot.json"
    path.write_text(json.dumps({**BASE, "duration_s": 60, "warmup_s": 10, "l1": {"enabled": False},
                                "l2": {"enabled": False}, "db": {"replicas": 0, "cores_per_node": 1,
                                                                 "read": {"mean_ms": 0.6}}}))
    res = CliRunner().invoke(simulate_cmd, [str(path), "--engine", "both"])
    assert res.exit_code == EXIT_TARGETS_MISSED
    assert "inf" not in res.output and "nan" not in res.output
    assert res.output.count("P99 unbounded (overloaded)") == 2  # analytic and trace agree
    assert "offered load 120 % of its CPUs: overloaded" in res.output
def test_cli_errors_are_one_line(tmp_path: Path):
    runner = CliRunner()
    res = runner.invoke(simulate_cmd, [str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and "cannot read" in res.output and res.output.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: 10\nrequests_per_user_s: 1\ndata_types: {}\nendpoints: []\n")
    res = runner.invoke(simulate_cmd, [str(bad)])
    assert res.exit_code == 1 and "endpoints" in res.output
    path = tmp_path / "s.json"
    path.write_text(json.dumps(BASE))
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "db.nope=1,2"])
    assert res.exit_code == 1 and "unknown scenario field 'db.nope'" in res.output
    assert "db.replicas" in res.output and "l2.memory_bytes" in res.output  # every knob is listed
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "db.replica=1,2"])
    assert res.exit_code == 1 and "did you mean 'db.replicas'?" in res.output
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "novalue"])
    assert res.exit_code == 2


def test_default_grid_buys_redis_memory_and_finds_the_500k_configuration():
    """The bundled 500k scenario fails on a 500 MB Redis; the default grid grows Redis memory up
    to the whole data set and finds the configuration that passes (the old grid found none)."""
    sc = load_scenario(SCENARIOS / "500k-users-small-redis.yaml")
    grid = default_grid(sc)
    assert grid["l2.memory_bytes"][0] == sc.l2.memory_bytes and grid["l2.memory_bytes"][-1] >= 4.5e9
    seen: list[tuple[int, int]] = []
    res = sweep(sc, progress=lambda done, total: seen.append((done, total)))
    total = len(res.rows)
    assert seen == [(i, total) for i in range(1, total + 1)]
    best = res.recommended
    assert best is not None and best["passed"] and best["l2.memory_bytes"] > sc.l2.memory_bytes
    # the recommendation holds when simulated on its own, and nothing cheaper passes
    alone = simulate(sc.with_changes(**{k: best[k] for k in grid}), "analytic")
    assert alone.verdict.passed and alone.hit_ratio.overall > 0.9
    assert all(not r["passed"] for r in res.rows if r["cost"] < best["cost"])
    # rows of an overloaded configuration carry no stand-in numbers
    small = [r for r in res.rows if r["l2.memory_bytes"] == sc.l2.memory_bytes and r["db.replicas"] == 0]
    assert all(r["p99_ms"] is None and r["overloaded"].startswith("primary") for r in small)
    assert all(r["db_cpu_max"] <= 1.0 < r["db_offered_load_max"] for r in small)


def test_every_bundled_scenario_sweeps_and_a_cache_that_is_off_is_tried_on():
    for path in sorted(SCENARIOS.glob("*.*")):
        if path.suffix not in {".yaml", ".json"} or path.name.endswith("schema.json"):
            continue
        sc = load_scenario(path)
        grid = default_grid(sc)
        if not sc.l2.enabled:
            assert grid["l2.enabled"] == [False, True]
        if not sc.l1.enabled:
            assert grid["l1.enabled"] == [False, True]
    startup = sweep(SCENARIOS / "startup-no-cache.json")
    assert startup.recommended is not None and startup.recommended["l2.enabled"] is True


def test_any_knob_can_be_an_axis():
    sc = make()
    knobs = sweep_knobs(sc)
    for path in ("l2.memory_bytes", "db.read.mean_ms", "data_types.product.zipf", "app.workers", "l1.enabled",
                 "db.lag.mean_ms", "targets.p99_ms", "l2.ttl_scale", "invalidation.l1", "db.read.dist"):
        assert path in knobs
    assert "name" not in knobs and "seed" not in knobs
    for path, value in knobs.items():  # every listed knob really is a field a sweep can set
        if path != "l2.ttl_scale":
            assert sc.with_changes(**{path: value}) == sc
    res = sweep(sc, grid={"db.read.mean_ms": [1.0, 40.0], "data_types.product.zipf": [0.5, 1.2],
                          "invalidation.l1": parse_values("local, all")})
    assert len(res.rows) == 8
    slow = [r for r in res.rows if r["db.read.mean_ms"] == 40.0]
    fast = [r for r in res.rows if r["db.read.mean_ms"] == 1.0]
    assert min(r["db_cpu_max"] for r in slow) > max(r["db_cpu_max"] for r in fast)
