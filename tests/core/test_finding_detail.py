"""Evidence made readable: facts, tables, series, pointer; numbers as people read them."""

from __future__ import annotations

import math

from scaleready.api import Finding, Severity, Status
from scaleready.demo import demo_config
from scaleready.finding_detail import context, readable, split_evidence
from scaleready.runner import execute, resolve_framework


def test_numbers_read_as_numbers():
    assert readable(math.inf) == "unbounded (overloaded)"
    assert readable(float("nan")) == "not measured"
    assert readable(0.123456) == "0.123"
    assert readable(12.3456) == "12.35"
    assert readable(123456.78) == "123,457"
    assert readable(2.0) == "2"
    assert readable(1234567) == "1,234,567"
    assert readable(True) == "yes" and readable(None) == "–"
    assert readable([1.5, 2]) == "1.50, 2"


def test_evidence_splits_into_facts_tables_and_series():
    evidence = {
        "snapshot": "ab" * 32, "pointer": "/settings/shared_buffers",
        "value_mb": 128.0, "expected": "25% of memory",
        "replicas": [{"name": "r1", "lag_s": 0.25}, {"name": "r2", "lag_s": math.inf}],
        "p99_ms": [[1700000000, "12.5"], [1700000060, "13"], [1700000120, "+Inf"]],
        "samples": [1, 2, 3, 5, 8],
    }
    out = split_evidence(evidence)
    assert out.pointer == "/settings/shared_buffers" and out.snapshot == "ab" * 32
    assert ("value mb", "128") in out.facts and ("expected", "25% of memory") in out.facts
    assert list(out.tables["replicas"]["lag_s"]) == ["0.25", "unbounded (overloaded)"]
    assert list(out.series["p99 ms"]["value"])[:2] == [12.5, 13.0] and math.isinf(out.series["p99 ms"]["value"][2])
    assert list(out.series["samples"]["value"]) == [1, 2, 3, 5, 8]


def test_every_real_finding_splits_and_finds_its_guide_text():
    framework = resolve_framework(None)
    run, _ = execute(demo_config())
    assert run.findings
    for finding in run.findings:
        out = split_evidence(finding.evidence)
        assert out.snapshot == finding.evidence.get("snapshot")
        assert all(isinstance(v, str) for _, v in out.facts)
    proving = next(f for f in run.findings if f.items)
    ctx = context(framework, proving)
    assert {i.id for i in ctx.items} >= set(proving.items)
    assert all(i.section == (proving.section or ctx.items[0].section) for i in ctx.section_items)


def test_unknown_items_do_not_break_the_context():
    finding = Finding("custom.check", "t", Status.FAIL, Severity.WARNING, "t", "m", items=["no.such.item"])
    assert context(resolve_framework(None), finding).items == []
    assert context(None, finding).items == []


def test_nested_structures_stay_whole():
    out = split_evidence({"analysis": {"interval": "1m", "metrics": [{"name": "rate", "min": 99}]}})
    assert out.nested == {"analysis": {"interval": "1m", "metrics": [{"name": "rate", "min": 99}]}}
    assert out.facts == []
