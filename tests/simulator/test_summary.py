"""Readable figures: what the CLI prints and the page shows, checked on values a person would write."""

from __future__ import annotations

import math

import pytest

from simulator.summary import fmt_bytes, fmt_ms, fmt_pct, fmt_value, sweep_table
from simulator.sweep import parse_values


@pytest.mark.parametrize(("value", "text"), [
    (0.563, "56.3 %"), (0.0133, "1.3 %"), (0.00133, "0.133 %"), (0.0, "0.0 %"), (0.00004, "0.0040 %"),
    (math.inf, "n/a"), (None, "n/a"),
])
def test_percentages(value, text):
    assert fmt_pct(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (10.8396413132697, "10.8 ms"), (0.433, "0.433 ms"), (250.4, "250 ms"), (1500.0, "1.5 s"),
    (math.inf, "unbounded (overloaded)"), (None, "unbounded (overloaded)"),
])
def test_latencies(value, text):
    assert fmt_ms(value) == text


def test_memory_sizes_round_trip_through_the_sweep_inputs():
    for size in (5e8, 1.1e9, 4.5e9, 3e7):
        assert parse_values(fmt_bytes(size)) == [pytest.approx(size)]
    assert fmt_value("l2.memory_bytes", 4.5e9) == "4.5 GB"
    assert fmt_value("l1.enabled", True) == "on" and parse_values("on, off") == [True, False]
    assert fmt_value("l2.ttl_scale", 2.0) == "×2"
    assert parse_values("1, 2.5, 1e9, local, 512 mb") == [1, 2.5, 1e9, "local", 5.12e8]


def test_sweep_table_puts_passing_rows_first_and_formats_every_figure():
    row = {"db.replicas": 1, "cost": 10.25, "hit_overall": 0.9123456, "db_qps": 1234.5678, "db_cpu_max": 0.4567,
           "db_offered_load_max": 0.4567, "overloaded": "", "p99_ms": 12.3456789, "stale": 0.00123456,
           "passed": True, "reasons": ""}
    hot = {**row, "db.replicas": 0, "cost": 6.0, "db_cpu_max": 1.0, "db_offered_load_max": 5.54,
           "overloaded": "primary", "p99_ms": None, "passed": False, "reasons": "overloaded"}
    table = sweep_table([hot, row], {"db.replicas": [0, 1]})
    assert [r["meets targets"] for r in table] == ["yes", "no"]
    assert table[0] == {"meets targets": "yes", "db.replicas": "1", "cost": "10.25", "cache hit ratio": "91.2 %",
                        "DB queries/s": "1,235", "max DB CPU": "46 %", "P99": "12.3 ms", "stale reads": "0.123 %",
                        "why not": ""}
    assert table[1]["max DB CPU"] == "554 % offered (overloaded)" and table[1]["P99"] == "unbounded (overloaded)"
