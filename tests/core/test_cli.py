"""The CLI contract end to end, through a real third-party plugin distribution.

Every test runs ``python -m scaleready.cli``-equivalent subprocesses with the throw-away plugin
installed in its own site directory, so discovery, config validation, the engine, the store
and the exit codes are all exercised the way CI would use them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from scaleready.cli import main; main()"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def write_config(folder: Path, body: str) -> Path:
    path = folder / "scaleready.yaml"
    path.write_text(body)
    return path


def gauge(folder: Path, name: str, **readings: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(readings))
    return path


def test_checks_lists_the_installed_plugin(plugin_env, tmp_path):
    out = run_cli(["checks", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    by_id = {c["id"]: c for c in doc["checks"]}
    assert by_id["gauge.value"]["plugin"] == "demo"
    assert by_id["gauge.value"]["version"] == "9.8.7"
    assert by_id["gauge.value"]["severity"] == "danger"
    assert by_id["gauge.value"]["items"] == ["metrics.p99_latency"]
    assert {"kind": "gauge", "plugin": "demo", "version": "9.8.7", "options": ["limit", "path"]} in doc["collectors"]
    assert any(p["name"] == "demo" and p["distribution"] == "scaleready-demo-plugin" for p in doc["plugins"])
    table = run_cli(["checks"], plugin_env, tmp_path)
    assert "gauge.value" in table.stdout and "demo 9.8.7" in table.stdout


def test_passing_run_exits_0_and_stored_report_matches(plugin_env, tmp_path):
    ok = gauge(tmp_path, "ok", value=10, label="latency")
    write_config(tmp_path, f"targets:\n  - name: g1\n    kind: gauge\n    path: {ok}\n")
    out = run_cli(["check", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {"version", "run", "score", "findings"}
    assert set(doc["run"]) >= {"id", "started_at", "framework"}
    assert set(doc["score"]) >= {"overall", "coverage", "areas"}
    statuses = {(f["check"], f["target"]): f["status"] for f in doc["findings"]}
    assert statuses == {("gauge.value", "g1"): "pass", ("gauge.label", "g1"): "pass"}
    finding = next(f for f in doc["findings"] if f["check"] == "gauge.value")
    assert set(finding) >= {"check", "target", "status", "severity", "title", "message", "evidence",
                            "remediation", "items"}
    assert finding["evidence"]["observed"] == 10
    assert len(finding["evidence"]["snapshot"]) == 64  # sha256 of the stored snapshot
    # Two items proven out of the whole guide: scored, but coverage tells how little is known.
    assert 0 < doc["score"]["coverage"] < 0.1
    stored = run_cli(["report", "--run", "latest", "--format", "json"], plugin_env, tmp_path)
    assert stored.returncode == 0, stored.stderr
    again = json.loads(stored.stdout)
    assert again["run"]["id"] == doc["run"]["id"]
    assert again["findings"] == doc["findings"]
    assert again["score"]["overall"] == doc["score"]["overall"]


def test_failed_danger_finding_exits_3(plugin_env, tmp_path):
    hot = gauge(tmp_path, "hot", value=500, label="x")
    write_config(tmp_path, f"targets:\n  - name: g1\n    kind: gauge\n    path: {hot}\n")
    out = run_cli(["check"], plugin_env, tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "danger finding" in out.stderr


def test_waived_danger_finding_does_not_fail_the_build(plugin_env, tmp_path):
    hot = gauge(tmp_path, "hot", value=500, label="x")
    write_config(tmp_path, f"""targets:
  - name: g1
    kind: gauge
    path: {hot}
waivers:
  - check: gauge.value
    target: g1
    reason: load test host, accepted until the migration
    expires: 2999-01-01
""")
    out = run_cli(["check", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    finding = next(f for f in json.loads(out.stdout)["findings"] if f["check"] == "gauge.value")
    assert finding["status"] == "fail" and finding["waived"] is True


def test_expired_waiver_no_longer_applies(plugin_env, tmp_path):
    hot = gauge(tmp_path, "hot", value=500, label="x")
    write_config(tmp_path, f"""targets:
  - {{name: g1, kind: gauge, path: {hot}}}
waivers:
  - {{check: gauge.*, reason: old, expires: 2001-01-01}}
""")
    out = run_cli(["check", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 3
    finding = next(f for f in json.loads(out.stdout)["findings"] if f["check"] == "gauge.value")
    assert finding["waived"] is False and finding["evidence"]["expired_waiver"]["expired"] == "2001-01-01"


def test_score_below_fail_under_exits_4(plugin_env, tmp_path):
    ok = gauge(tmp_path, "ok", value=10, label="x")
    write_config(tmp_path, f"targets:\n  - name: g1\n    kind: gauge\n    path: {ok}\n")
    out = run_cli(["check", "--fail-under", "80"], plugin_env, tmp_path)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "below --fail-under 80" in out.stderr
    assert run_cli(["check", "--fail-under", "0"], plugin_env, tmp_path).returncode == 0


def test_severity_override_turns_danger_into_warning(plugin_env, tmp_path):
    hot = gauge(tmp_path, "hot", value=500, label="x")
    write_config(tmp_path, f"targets:\n  - {{name: g1, kind: gauge, path: {hot}}}\nseverity:\n  gauge.*: warning\n")
    out = run_cli(["check", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert {f["severity"] for f in json.loads(out.stdout)["findings"]} == {"warning"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("targets:\n  - name: g1\n    kind: gauge\n    path: [unclosed\n", "parsing a flow sequence started at line 4"),
        ("targets:\n  - name: g1\n    kind: gauge\n    path: x\n    pathh: y\n", "scaleready.yaml:5: targets[0].pathh: unknown key"),
        ("targets: []\nseverity:\n  gauge.value: fatal\n", "scaleready.yaml:3: severity.gauge.value"),
        ("targets:\n  - name: g1\n    kind: gagué\n", "scaleready.yaml:3: targets[0].kind: unknown target kind"),
        ("targets:\n  - name: g1\n    kind: gauge\n    path: x\n    limit: lots\n", "scaleready.yaml:5: targets[0].limit"),
        ("tragets: []\n", "scaleready.yaml:1: tragets: unknown key"),
        ("targets:\n  - {name: a, kind: gauge, path: x}\n  - {name: a, kind: gauge, path: y}\n",
         "scaleready.yaml:3: targets[1].name: duplicate target name"),
        ("waivers:\n  - check: gauge.value\n", "scaleready.yaml:2: waivers[0].reason: required key is missing"),
    ],
)
def test_bad_config_is_one_readable_error_and_exit_1(plugin_env, tmp_path, body, expected):
    write_config(tmp_path, body)
    out = run_cli(["check"], plugin_env, tmp_path)
    assert out.returncode == 1
    assert expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_config_file_is_exit_1(plugin_env, tmp_path):
    out = run_cli(["check", "--config", "nope.yaml"], plugin_env, tmp_path)
    assert out.returncode == 1 and "nope.yaml: no such config file" in out.stderr


def test_hanging_and_broken_targets_become_error_findings_and_the_run_goes_on(plugin_env, tmp_path):
    ok = gauge(tmp_path, "ok", value=1, label="x")
    slow = gauge(tmp_path, "slow", value=1, label="x", sleep=60)
    write_config(tmp_path, f"""targets:
  - {{name: fine, kind: gauge, path: {ok}}}
  - {{name: hangs, kind: gauge, path: {slow}, timeout: 1}}
  - {{name: missing, kind: gauge, path: {tmp_path / 'absent.json'}}}
  - {{name: secret, kind: gauge, path: "${{SCALEREADY_TEST_UNSET_VAR}}"}}
""")
    started = time.monotonic()
    out = run_cli(["check", "--format", "json"], plugin_env, tmp_path, timeout=50)
    elapsed = time.monotonic() - started
    assert out.returncode == 5, out.stderr  # the report is complete, but three targets were not seen
    assert "3 of 4 target(s) could not be collected" in out.stderr
    assert "target hangs could not be collected: timed out" in out.stderr
    assert elapsed < 30, f"a hanging target stalled the run for {elapsed:.1f}s"
    findings = json.loads(out.stdout)["findings"]
    by_target: dict[str, set[str]] = {}
    for f in findings:
        by_target.setdefault(f["target"], set()).add(f["status"])
    assert by_target == {"fine": {"pass"}, "hangs": {"error"}, "missing": {"error"}, "secret": {"error"}}
    messages = {f["target"]: f["message"] for f in findings if f["check"] == "gauge.value"}
    assert "timed out after 1s" in messages["hangs"]
    assert "absent.json does not exist" in messages["missing"]
    assert "SCALEREADY_TEST_UNSET_VAR is not set" in messages["secret"]


def test_uncollected_target_exits_5_unless_allowed_and_danger_takes_precedence(plugin_env, tmp_path):
    write_config(tmp_path, f"targets:\n  - {{name: gone, kind: gauge, path: {tmp_path / 'absent.json'}}}\n")
    out = run_cli(["check", "--no-store"], plugin_env, tmp_path)
    assert out.returncode == 5, out.stdout + out.stderr
    assert "1 of 1 target(s) could not be collected" in out.stderr
    relaxed = run_cli(["check", "--no-store", "--allow-collection-errors", "-f", "json"], plugin_env, tmp_path)
    assert relaxed.returncode == 0, relaxed.stderr
    assert {f["status"] for f in json.loads(relaxed.stdout)["findings"]} == {"error"}
    below = run_cli(["check", "--no-store", "--allow-collection-errors", "--fail-under", "50"], plugin_env, tmp_path)
    assert below.returncode == 4  # relaxing collection errors never hides a low score
    hot = gauge(tmp_path, "hot", value=500, label="x")
    write_config(tmp_path, f"targets:\n  - {{name: gone, kind: gauge, path: {tmp_path / 'absent.json'}}}\n"
                           f"  - {{name: hot, kind: gauge, path: {hot}}}\n")
    assert run_cli(["check", "--no-store"], plugin_env, tmp_path).returncode == 3


def test_init_writes_a_starter_that_validates(plugin_env, tmp_path):
    out = run_cli(["init"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "scaleready.yaml").read_text()
    assert text.startswith("#") and "${" in text  # commented, shows secret references
    assert run_cli(["init"], plugin_env, tmp_path).returncode == 1  # never overwrites silently
    from scaleready.config import parse_config

    assert [t.target.kind for t in parse_config(text).targets] == ["http"]


def test_framework_json_lists_every_guide_section(plugin_env, tmp_path):
    out = run_cli(["framework", "--format", "json"], plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)["items"]
    sections = {i["section"] for i in items}
    for section in ["1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2", "5.1", "5.2", "6.1", "6.2", "7.1",
                    "7.2", "8", "9.1", "9.2", "10.1", "10.2"]:
        assert any(s == section or s.startswith(section + ".") for s in sections), section
    assert all(set(i) >= {"id", "section", "title", "kind", "checks"} for i in items)


def test_manual_tick_is_recorded_and_scored(plugin_env, tmp_path):
    ok = gauge(tmp_path, "ok", value=1, label="x")
    write_config(tmp_path, f"targets:\n  - {{name: g1, kind: gauge, path: {ok}}}\n")
    bad = run_cli(["tick", "no.such.item", "--state", "done", "--by", "ana"], plugin_env, tmp_path)
    assert bad.returncode == 1 and "has no item 'no.such.item'" in bad.stderr
    before = json.loads(run_cli(["check", "--format", "json"], plugin_env, tmp_path).stdout)["score"]
    out = run_cli(["tick", "security.audit.pentest", "--state", "done", "--by", "ana", "--note", "PT-2026-Q4"],
                  plugin_env, tmp_path)
    assert out.returncode == 0, out.stderr
    after = json.loads(run_cli(["check", "--format", "json"], plugin_env, tmp_path).stdout)["score"]
    assert after["coverage"] > before["coverage"] and after["overall"] > before["overall"]
