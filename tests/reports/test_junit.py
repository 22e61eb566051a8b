"""JUnit output: valid against a JUnit XSD, suites per area, counts and outcomes right."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from scaleready.api import Finding, Severity, Status
from scaleready.reports import render

SCHEMA = Path(__file__).parent / "schemas" / "junit.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def test_valid_against_xsd(run, schema):
    text = render(run, "junit")
    schema.validate(text)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_xsd_rejects_broken_reports(run, schema):
    root = ET.fromstring(render(run, "junit"))
    case = root.find("testsuite/testcase")
    ET.SubElement(case, "failure")
    ET.SubElement(case, "skipped")  # two outcomes in one case
    assert not schema.is_valid(ET.tostring(root, encoding="unicode"))
    root = ET.fromstring(render(run, "junit"))
    root.find("testsuite").set("tests", "-1")
    assert not schema.is_valid(ET.tostring(root, encoding="unicode"))


def test_suites_per_area_and_outcomes(run):
    root = ET.fromstring(render(run, "junit"))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["Critical metrics", "Caching", "Security checklist", "Implementation roadmap",
                            "Other checks"]
    security = {c.get("name"): c for c in suites["Security checklist"].findall("testcase")}
    assert set(security) == {"http.rate_limit [api]", "http.jwt [api]", "http.sql_injection [api]"}
    assert security["http.rate_limit [api]"].find("failure").get("type") == "fail"
    assert security["http.jwt [api]"].find("failure") is None
    assert security["http.sql_injection [api]"].find("skipped").get("message").startswith("active probes are off")
    cache = suites["Caching"].find("testcase")
    assert cache.find("skipped").get("message") == "could not evaluate: connection refused at 127.0.0.1:6399"
    roadmap = {c.get("name"): c for c in suites["Implementation roadmap"].findall("testcase")}
    # the finding proving items of two areas is in both suites
    assert "http.latency [api]" in roadmap
    assert suites["Critical metrics"].find("testcase").get("name") == "http.latency [api]"
    assert roadmap["http.problem_json [api]"].find("skipped").get("message").startswith(
        "waived: legacy API retired in Q3")
    other = {c.get("name"): c for c in suites["Other checks"].findall("testcase")}
    canary = other["gitops.canary [repo / prod/Rollout/web]"]
    assert canary.get("file") == "k8s/canary.yaml" and canary.get("line") == "12"


def test_counts_and_times_add_up(run):
    root = ET.fromstring(render(run, "junit"))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        assert float(suite.get("time")) == pytest.approx(sum(float(c.get("time")) for c in cases))
        for key in totals:
            totals[key] += int(suite.get(key))
    assert {k: int(root.get(k)) for k in totals} == totals
    assert totals == {"tests": 9, "failures": 4, "errors": 0, "skipped": 3}
    assert float(root.get("time")) == pytest.approx(7.25)


def test_control_characters_are_dropped(run, schema):
    run.findings.append(Finding("x.bin", "api", Status.FAIL, Severity.INFO, "binary", "bad \x00\x07 bytes",
                                {"raw": "\x1b[31m"}, "", []))
    text = render(run, "junit")
    schema.validate(text)
    assert "bad  bytes" in text
