"""Stored = rendered: a report of a stored run equals the one written at `check` time, in every format.

A real run (the bundled sample app's manifests and repository) with everything a stored run used
to lose: manual ticks with who and why, a tick that contradicts the live evidence, waivers from
the config (one of them expired) and from the store, and ticks of another project that must
not leak in. Each format is checked through the CLI, as a user would: ``check -f FMT -o A``,
then ``report -f FMT -o B``; text formats byte for byte, the PDF by its extracted text.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from scaleready.cli import main
from scaleready.paths import data_dir
from scaleready.reports import FORMATS

CONFIG = """version: 1
project: shop
targets:
  - name: sample-app-manifests
    kind: kubernetes
    manifests: ['{k8s}']
  - name: sample-app-repo
    kind: gitops
    path: '{repo}'
waivers:
  - check: kubernetes.canary
    target: sample-app-manifests
    reason: canary rollout planned for Q2
    expires: 2099-12-31
  - check: kubernetes.chaos
    reason: chaos drills paused during the migration
    expires: 2020-01-01
"""


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    return {"SCALEREADY_DATABASE_URL": url, "SCALEREADY_SPOOL_DIR": str(tmp_path / "spool"),
            "SCALEREADY_PROJECT": ""}


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code in (0, 3, 4), result.output
    return result.output


def test_every_format_of_a_stored_run_equals_the_check_time_report(env, tmp_path):
    demo = data_dir() / "demo"
    config = tmp_path / "scaleready.yaml"
    config.write_text(CONFIG.format(k8s=demo / "k8s", repo=demo / "repo"))
    c = ["-c", str(config)]
    cli(env, "tick", "principles.horizontal_stateless", "--state", "done", "--by", "ana",
        "--note", "HPA everywhere but the legacy worker", *c)
    cli(env, "tick", "comm.circuit_breaker", "--state", "done", "--by", "bo", "--note", "breaker PR #42", *c)
    cli(env, "tick", "comm.circuit_breaker", "--state", "not_done", "--by", "eve", "--note", "other product",
        "--project", "blog")
    cli(env, "tick", "cost.spot_batch", "--state", "not_applicable", "--by", "dan", "--note", "no batch jobs", *c)
    cli(env, "waive", "kubernetes.hpa.buffer", "--reason", "buffer sized by hand", "--by", "ana",
        "--expires", "2099-01-01", *c)

    for name, fmt in FORMATS.items():
        at_check, stored = tmp_path / f"check.{fmt.extension}", tmp_path / f"stored.{fmt.extension}"
        cli(env, "check", *c, "-f", name, "-o", str(at_check))
        cli(env, "report", *c, "-f", name, "-o", str(stored))
        if fmt.binary:
            assert pdf_text(stored.read_bytes()) == pdf_text(at_check.read_bytes()), name
        else:
            assert stored.read_text() == at_check.read_text(), name

    doc = json.loads((tmp_path / "stored.json").read_text())
    assert doc["run"]["project"] == "shop" and len(doc["run"]["audit_head"]) == 64
    record = {r["item"]: r for r in doc["evidence_record"]}
    breaker = record["comm.circuit_breaker"]
    assert breaker["tick"]["actor"] == "bo" and breaker["tick"]["note"] == "breaker PR #42"
    assert breaker["verdict"] == "pass" and breaker["source"] == "manual"
    spot = record["cost.spot_batch"]  # out of the score, still on the record with who and why
    assert spot["verdict"] == "not_applicable" and spot["tick"]["actor"] == "dan"
    assert "cost.spot_batch" not in {i["id"] for a in doc["score"]["areas"] for i in a["items"]}
    stateless = record["principles.horizontal_stateless"]
    assert stateless["checks"] == ["kubernetes.replicas.min", "kubernetes.hpa.present"]
    assert stateless["conflict"] and "ticked done" in stateless["conflict"]
    assert stateless["tick"]["actor"] == "ana" and stateless["findings"]
    assert any(f["status"] == "fail" for f in stateless["findings"])
    waivers = {w["reason"]: w for w in doc["waivers"]}
    assert waivers["chaos drills paused during the migration"]["expired"] is True
    assert waivers["canary rollout planned for Q2"]["expired"] is False
    assert waivers["buffer sized by hand"]["actor"] == "ana" and waivers["buffer sized by hand"]["source"] == "store"
    canary = [f for f in doc["findings"] if f["check"] == "kubernetes.canary"]
    assert canary and all(f["waived"] for f in canary if f["status"] in ("fail", "warn"))
    assert not any(f["waived"] for f in doc["findings"] if f["check"] == "kubernetes.chaos")

    # the evidence record is in every format, not only in JSON and HTML
    md = (tmp_path / "stored.md").read_text()
    assert "done by bo" in md and "breaker PR #42" in md and "conflict: ticked done" in md
    junit = ET.fromstring((tmp_path / "stored.xml").read_text())
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert "done by bo" in props["item:comm.circuit_breaker"] and "breaker PR #42" in props["item:comm.circuit_breaker"]
    assert "conflict: ticked done" in props["item:principles.horizontal_stateless"]
    sarif = json.loads((tmp_path / "stored.sarif").read_text())["runs"][0]["properties"]
    assert {r["item"]: r for r in sarif["evidenceRecord"]}["comm.circuit_breaker"]["tick"]["actor"] == "bo"
    assert sarif["project"] == "shop" and len(sarif["auditChainHead"]) == 64
    table = (tmp_path / "stored.txt").read_text()
    assert "Evidence record" in table and "comm.circuit_breaker" in table and "Project shop" in table

    html = (tmp_path / "stored.html").read_text()
    for text in ("breaker PR #42", "HPA everywhere but the legacy worker", "no batch jobs", "other product"):
        assert (text in html) == (text != "other product"), text
    assert re.search(r'id="audit-head">[0-9a-f]{64}<', html)  # each format came from its own run
    assert re.search(r"Audit chain head[^0-9a-f]*[0-9a-f]{64}",
                     pdf_text((tmp_path / "stored.pdf").read_bytes()).replace("\n", ""))
