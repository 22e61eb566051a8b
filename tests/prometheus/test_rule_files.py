"""Rule files in a repository: promtool's verdict and the style lint, each finding with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scaleready.api import Status
from tests.prometheus.conftest import DATA, DEMO_RULES, by_check, run

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    (tmp_path / "monitoring" / "rules").mkdir(parents=True)
    shutil.copy(DEMO_RULES, tmp_path / "monitoring" / "rules" / "good.yml")
    shutil.copy(DATA / "broken_rules.yml", tmp_path / "monitoring" / "rules" / "broken.yml")
    shutil.copy(DATA / "sloppy_rules.yml", tmp_path / "monitoring" / "sloppy.yaml")
    return tmp_path


def _files(options: dict) -> list:
    _, findings = run({"url": "http://127.0.0.1:1", **options}, timeout=20)
    return by_check(findings, "prometheus.rules.files")


def test_good_broken_and_sloppy_files_each_get_the_right_verdict(repo: Path):
    good = str(repo / "monitoring" / "rules" / "good.yml")
    broken = str(repo / "monitoring" / "rules" / "broken.yml")
    sloppy = str(repo / "monitoring" / "sloppy.yaml")
    findings = _files({"rule_files": [str(repo / "monitoring" / "rules" / "*.yml"), sloppy]})
    by_file = {}
    for f in findings:
        by_file.setdefault((f.location or "").split(":")[0], []).append(f)
    assert [f.status for f in by_file[good]] == [Status.PASS]
    (bad,) = by_file[broken]
    assert bad.status is Status.FAIL
    assert bad.location == f"{broken}:5"
    assert "unclosed left parenthesis" in bad.message
    lint = sorted((f.location, f.message.split(": ", 1)[1]) for f in by_file[sloppy])
    assert all(f.status is Status.WARN for f in by_file[sloppy])
    assert lint == [
        (f"{sloppy}:4", "alert InstanceDown has no 'for' duration"),
        (f"{sloppy}:4", "alert InstanceDown has no 'severity' label"),
        (f"{sloppy}:4", "alert InstanceDown has no 'summary' annotation"),
        (f"{sloppy}:6", "alert HighLatency has no 'summary' annotation"),
    ]


def test_a_directory_is_searched_for_yaml_files(repo: Path):
    findings = _files({"rule_files": [str(repo / "monitoring")]})
    locations = {(f.location or "").split(":")[0] for f in findings}
    assert len(locations) == 3


def test_invalid_yaml_is_a_failure_with_its_line(tmp_path: Path):
    path = tmp_path / "bad.yml"
    path.write_text("groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up == 0\n     labels: {}\n")
    (finding,) = _files({"rule_files": [str(path)]})
    assert finding.status is Status.FAIL
    assert finding.location == f"{path}:6"


def test_unmatched_pattern_and_missing_promtool_are_errors(repo: Path):
    findings = _files({"rule_files": [str(repo / "nothing" / "*.yml")]})
    assert [f.status for f in findings] == [Status.ERROR]
    assert "matched no file" in findings[0].message
    findings = _files({"rule_files": [str(repo / "monitoring" / "rules" / "good.yml")],
                       "promtool": "promtool-not-installed"})
    statuses = sorted(f.status.value for f in findings)
    assert statuses == ["error", "error"]  # the file is linted, but nothing passes without promtool
    assert any("promtool-not-installed" in f.message for f in findings)
    assert not any("promtool ok" in f.message for f in findings)
    (per_file,) = [f for f in findings if f.location]
    assert "PromQL was not validated" in per_file.message


def test_unreachable_server_without_rule_files_is_a_collection_error():
    findings = _files({})
    assert [f.status for f in findings] == [Status.ERROR]  # server unreachable → collection failed


def test_skip_when_not_configured_but_server_up(healthy_run):
    _, findings = healthy_run
    assert [f.status for f in by_check(findings, "prometheus.rules.files")] == [Status.SKIP]


def test_without_promtool_the_structure_check_still_fails_what_it_can_see(tmp_path: Path):
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n- name: a\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n"
                    "    for: 5m\n  - alert: Both\n    record: both\n    expr: up\n")
    findings = _files({"rule_files": [str(path)], "promtool": "promtool-not-installed"})
    failures = sorted(f.location for f in findings if f.status is Status.FAIL)
    assert failures == [f"{path}:6", f"{path}:7"]
    assert all("structure check" in f.message for f in findings if f.status is Status.FAIL)
    assert not any(f.status is Status.PASS for f in findings)


def test_for_zero_is_flagged_like_a_missing_for(tmp_path: Path):
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n- name: a\n  rules:\n"
                    "  - alert: Instant\n    expr: up == 0\n    for: 0m\n"
                    "    labels: {severity: page}\n    annotations: {summary: down}\n"
                    "  - alert: Patient\n    expr: up == 0\n    for: 1m\n"
                    "    labels: {severity: page}\n    annotations: {summary: down}\n")
    findings = _files({"rule_files": [str(path)]})
    assert [(f.status, f.location) for f in findings] == [(Status.WARN, f"{path}:4")]
    assert "zero 'for' duration (0m)" in findings[0].message


def test_files_beyond_the_limit_are_counted_as_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import checks.prometheus.collector as collector

    monkeypatch.setattr(collector, "MAX_RULE_FILES", 2)
    for index in range(5):
        shutil.copy(DEMO_RULES, tmp_path / f"rules{index}.yml")
    findings = _files({"rule_files": [str(tmp_path)]})
    (left,) = [f for f in findings if f.status is Status.ERROR]
    assert "3 of 5 rule files were not checked" in left.message
    assert [f.status for f in findings if f.location] == [Status.PASS, Status.PASS]
