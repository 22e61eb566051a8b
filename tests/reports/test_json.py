"""JSON output: the contract's exact shape, stable ordering, and a lossless round trip."""

from __future__ import annotations

import json
import random

import pytest

from scaleready.reports import render
from scaleready.reports.json_report import from_json
from tests.reports.conftest import make_run

FINDING_KEYS = {"check", "target", "subject", "status", "severity", "title", "message", "evidence",
                "remediation", "items", "section", "location", "waived", "waiver_reason"}


def test_shape(run):
    doc = json.loads(render(run, "json"))
    assert list(doc) == ["version", "run", "score", "evidence_record", "waivers", "snapshots", "findings"]
    assert doc["version"] == "0.1.0"
    assert doc["run"] == {"id": "run-0001", "started_at": "2026-11-24T10:00:00+00:00",
                          "finished_at": "2026-11-24T10:00:07.250000+00:00",
                          "framework": {"id": "scaling-guide", "title": "Ultimate Scaling Guide", "version": "1.0"},
                          "environment": "staging", "project": "default", "audit_head": None, "config_path": None}
    assert set(doc["score"]) == {"overall", "coverage", "level", "areas", "phases", "not_applicable"}
    assert doc["score"] == run.score.to_json()
    assert len(doc["findings"]) == len(run.findings)
    for f in doc["findings"]:
        assert set(f) == FINDING_KEYS
    waived = next(f for f in doc["findings"] if f["check"] == "http.problem_json")
    assert waived["waived"] is True and waived["waiver_reason"] == "legacy API retired in Q3"


def test_ordering_is_stable_whatever_the_input_order(run):
    first = render(run, "json")
    shuffled = make_run()
    random.Random(7).shuffle(shuffled.findings)
    for f in shuffled.findings:  # evidence key order must not matter either
        f.evidence = dict(reversed(list(f.evidence.items())))
    assert render(shuffled, "json") == first
    keys = [(f["check"], f["target"], f["subject"] or "") for f in json.loads(first)["findings"]]
    assert keys == sorted(keys)


def test_round_trip(run):
    text = render(run, "json")
    back = from_json(text)
    assert render(back, "json") == text
    assert {f.fingerprint for f in back.findings} == {f.fingerprint for f in run.findings}
    assert back.score.areas[2].items[0].status == "fail"
    # a re-read report renders in the other formats too
    assert "Rate limiting is enforced" in render(back, "markdown")


@pytest.mark.parametrize("bad", ["{", "[]", '{"run": {}}'])
def test_from_json_rejects_non_reports(bad):
    with pytest.raises(ValueError, match="not a"):
        from_json(bad)
