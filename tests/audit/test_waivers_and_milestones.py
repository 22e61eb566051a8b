"""Waivers and milestones headless, through the CLI a user types, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from scaleready.cli import main
from scaleready.paths import data_dir
from scaleready.store import Store

CONFIG = """project: shop
targets:
  - name: sample-app-manifests
    kind: kubernetes
    manifests: ['{k8s}']
"""


def cli(env, *args, code=(0,)):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code in code, result.output
    return result.output


def setup(store_url, tmp_path):
    config = tmp_path / "scaleready.yaml"
    config.write_text(CONFIG.format(k8s=data_dir() / "demo" / "k8s"))
    env = {"SCALEREADY_DATABASE_URL": store_url, "SCALEREADY_SPOOL_DIR": str(tmp_path / "spool"),
           "SCALEREADY_PROJECT": ""}
    return env, ["-c", str(config)]


def check_json(env, c, tmp_path, name):
    out = tmp_path / f"{name}.json"
    cli(env, "check", *c, "-f", "json", "-o", str(out), code=(0, 3, 4))
    return json.loads(out.read_text())


def test_waive_list_unwaive_and_expiry(store_url, tmp_path):
    env, c = setup(store_url, tmp_path)
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    out = cli(env, "waive", "kubernetes.hpa.buffer", "--target", "sample-app-manifests", "--reason",
              "buffer sized by hand", "--expires", future, "--by", "ana", *c)
    waiver_id = int(out.split()[1].rstrip(":"))
    # an expired waiver (granted earlier, lapsed yesterday) stops applying but stays visible
    Store(store_url).add_waiver("kubernetes.canary", "canary after the freeze", "bo",
                                expires=datetime.now(UTC) - timedelta(days=1), project="shop")
    rows = {w["check"]: w for w in json.loads(cli(env, "waivers", "-f", "json", *c))}
    assert rows["kubernetes.hpa.buffer"]["state"] == "active" and rows["kubernetes.canary"]["state"] == "expired"
    assert "expired" in cli(env, "waivers", *c)
    assert cli(env, "waivers", "--project", "blog") == "no waivers\n"

    doc = check_json(env, c, tmp_path, "waived")
    hpa = [f for f in doc["findings"] if f["check"] == "kubernetes.hpa.buffer" and f["status"] == "fail"]
    canary = [f for f in doc["findings"] if f["check"] == "kubernetes.canary" and f["status"] == "fail"]
    assert hpa and all(f["waived"] and f["waiver_reason"] == "buffer sized by hand" for f in hpa)
    assert canary and not any(f["waived"] for f in canary)
    assert {w["reason"]: w["expired"] for w in doc["waivers"]} == {"buffer sized by hand": False,
                                                                  "canary after the freeze": True}

    cli(env, "unwaive", str(waiver_id), "--by", "carla", *c)
    assert "revoked" in cli(env, "waivers", "--all", *c)
    doc = check_json(env, c, tmp_path, "unwaived")
    assert not any(f["waived"] for f in doc["findings"] if f["check"] == "kubernetes.hpa.buffer")
    actions = [e.action for e in Store(store_url).audit_log(project="shop")]
    assert actions.count("waiver.added") == 2 and "waiver.revoked" in actions
    result = CliRunner().invoke(main, ["waive", "x.y", "--reason", "r", "--by", "a", "--expires", "2001-01-01", *c],
                                env=env)
    assert result.exit_code == 1 and "in the past" in result.output


def test_milestones_create_list_show_diff_sign_and_report(store_url, tmp_path):
    env, c = setup(store_url, tmp_path)
    check_json(env, c, tmp_path, "first")
    cli(env, "milestone", "create", "baseline", "--by", "ana", "--note", "before the fixes", *c)
    cli(env, "tick", "comm.circuit_breaker", "--state", "done", "--by", "bo", "--note", "breaker PR #42", *c)
    cli(env, "waive", "kubernetes.canary", "--reason", "canary after the freeze", "--by", "ana", *c)
    check_json(env, c, tmp_path, "second")
    cli(env, "milestone", "create", "launch", "--by", "ana", *c)
    listed = cli(env, "milestone", "list", *c)
    assert listed.index("baseline") < listed.index("launch") and "not signed" in listed
    assert cli(env, "milestone", "list", "--project", "blog") == "no milestones\n"

    diff = json.loads(cli(env, "milestone", "diff", "baseline", "launch", *c))
    assert {"item": "comm.circuit_breaker", "from": "unknown", "to": "pass"} in diff["items"]
    assert any(t["item"] == "comm.circuit_breaker" and t["to"]["actor"] == "bo" for t in diff["ticks"])
    assert diff["waivers"]["added"] and diff["overall"][1] > diff["overall"][0]

    cli(env, "milestone", "sign", "launch", "--by", "Carla CTO", "--note", "approved for launch", *c)
    shown = json.loads(cli(env, "milestone", "show", "launch", *c))
    assert shown["signatures"][0]["by"] == "Carla CTO" and len(shown["sha256"]) == 64
    store = Store(store_url)
    signed = [e for e in store.audit_log(project="shop") if e.action == "milestone.signed"]
    assert signed and signed[0].hash == shown["signatures"][0]["event_hash"]
    assert store.verify_audit().ok

    # the milestone report is the frozen document, whatever happens after
    cli(env, "tick", "comm.circuit_breaker", "--state", "not_done", "--by", "eve", *c)
    check_json(env, c, tmp_path, "third")
    frozen = json.loads(cli(env, "report", "--milestone", "launch", "-f", "json", *c))
    assert frozen["milestone"]["name"] == "launch" and frozen["milestone"]["signatures"][0]["by"] == "Carla CTO"
    record = {r["item"]: r for r in frozen["evidence_record"]}
    assert record["comm.circuit_breaker"]["tick"]["actor"] == "bo"
    md = cli(env, "report", "--milestone", "launch", "-f", "markdown", *c)
    assert "launch" in md and "Carla CTO" in md
    result = CliRunner().invoke(main, ["milestone", "create", "launch", "--by", "x", *c], env=env)
    assert result.exit_code == 1 and "already has a milestone" in result.output
