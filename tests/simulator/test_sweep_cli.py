"""Sweeps pick the cheapest passing configuration; the click command answers in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator import sweep
from simulator.commands import simulate as simulate_cmd
from simulator.sweep import config_cost

from .conftest import BASE, make

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
    path.write_text(json.dumps({**BASE, "duration_s": 120, "warmup_s": 20}))
    runner = CliRunner()
    res = runner.invoke(simulate_cmd, [str(path), "--engine", "analytic"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["engine"] == "analytic"
    out = tmp_path / "both.json"
    res = runner.invoke(simulate_cmd, [str(path), "--engine", "both", "--output", str(out)])
    assert res.exit_code == 0 and res.output == ""
    doc = json.loads(out.read_text())
    assert set(doc) == {"analytic", "trace"}
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "db.replicas=0,1", "--grid", "l1.ttl_s=1,5"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["rows"]) == 4


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
    assert res.exit_code == 1 and "unknown scenario field" in res.output
    res = runner.invoke(simulate_cmd, [str(path), "--sweep", "--grid", "novalue"])
    assert res.exit_code == 2
