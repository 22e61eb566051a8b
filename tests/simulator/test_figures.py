"""The simulator's figures: no stand-in numbers for an overload, labels that do not collide."""

from __future__ import annotations

from simulator import simulate, sweep
from simulator.figures import db_load_figure, sweep_figure

from .conftest import make

SHORT = {"duration_s": 120, "warmup_s": 20}


def test_sweep_figure_puts_overloaded_configurations_on_a_labelled_band():
    sc = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.cores_per_node": 1,
                          "db.read.mean_ms": 0.6, "targets.hit_ratio": 0.0})
    res = sweep(sc, grid={"db.replicas": [0, 1, 2, 4]})
    assert any(r["p99_ms"] is None for r in res.rows) and any(r["p99_ms"] is not None for r in res.rows)
    fig = sweep_figure(res.rows, sc.targets.p99_ms)
    names = [t.name for t in fig.data]
    assert "overloaded (P99 unbounded)" in names and "P99 target 500 ms" in names
    band = next(t for t in fig.data if t.name == "overloaded (P99 unbounded)")
    axis = fig.layout.yaxis
    assert set(band.y) == {axis.tickvals[-1]} and axis.ticktext[-1] == "overloaded"
    finite = [y for t in fig.data if t.name in ("meets targets", "misses a target") for y in t.y]
    assert max(finite) < axis.tickvals[-1]  # the band sits above every real latency
    assert all(text.endswith(("ms", "s")) for text in axis.ticktext[:-1])  # 1-2-5 ticks, labelled in time


def test_db_load_figure_caps_cpu_and_names_the_target_in_the_legend():
    hot = make(**SHORT, **{"l1.enabled": False, "l2.enabled": False, "db.replicas": 0, "db.cores_per_node": 1,
                           "db.read.mean_ms": 0.6})
    res = simulate(hot, "analytic")
    fig = db_load_figure(res, 0.7)
    cpu = next(t for t in fig.data if t.name == "CPU %")
    assert max(cpu.y) == 100  # a CPU shows at most 100 %; the offered load is in the hover text
    bars = next(t for t in fig.data if t.name == "queries/s")
    assert "offered load 120 % of its CPUs" in bars.customdata[0]
    assert any(t.name == "CPU target 70 %" for t in fig.data) and not fig.layout.annotations
    line = fig.layout.shapes[0]  # drawn across the plot, so a single node shows it too
    assert (line.xref, line.x0, line.x1, line.y0) == ("paper", 0, 1, 70)
