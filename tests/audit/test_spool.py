"""A run is never lost: a store that is down or locked at save time leaves the report written,
the run in the local spool, one line on stderr and exit 1; the next check or `store flush` uploads it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from scaleready.paths import data_dir
from scaleready.store import Store

REPO = Path(__file__).resolve().parents[2]
CONFIG = """project: shop
targets:
  - name: sample-app-manifests
    kind: kubernetes
    manifests: ['{k8s}']
"""


def scaleready(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from scaleready.cli import main; main()", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True,
                          timeout=120)


def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "scaleready.yaml"
    config.write_text(CONFIG.format(k8s=data_dir() / "demo" / "k8s"))
    return config, tmp_path / "spool"


def assert_spooled(result: subprocess.CompletedProcess[str], report: Path, spool: Path) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "kept in" in errors[0] and "store flush" in errors[0], result.stderr
    doc = json.loads(report.read_text())  # the report was written all the same
    assert doc["run"]["audit_head"] is None and doc["findings"]
    (spooled,) = spool.glob("*.json")
    assert doc["run"]["id"] in spooled.name
    return doc["run"]["id"]


def test_postgres_store_down_spools_then_flush_uploads(tmp_path, pg_database):
    config, spool = setup(tmp_path)
    down = {"SCALEREADY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "SCALEREADY_SPOOL_DIR": str(spool)}
    report = tmp_path / "report.json"
    result = scaleready(down, "check", "-c", str(config), "-f", "json", "-o", str(report), cwd=tmp_path)
    run_id = assert_spooled(result, report, spool)

    up = {**down, "SCALEREADY_DATABASE_URL": pg_database}
    flushed = scaleready(up, "store", "flush", cwd=tmp_path)
    assert flushed.returncode == 0 and "uploaded 1 spooled run" in flushed.stdout, flushed.stderr
    assert list(spool.glob("*.json")) == []
    stored = Store(pg_database).load_run(run_id)
    assert stored.project == "shop" and len(stored.findings) == len(json.loads(report.read_text())["findings"])
    assert stored.audit_head and Store(pg_database).verify_audit().ok
    again = scaleready(up, "store", "flush", cwd=tmp_path)
    assert again.returncode == 0 and "uploaded 0 spooled run" in again.stdout


def test_sqlite_locked_past_its_timeout_spools_and_the_next_check_uploads(tmp_path):
    config, spool = setup(tmp_path)
    db = tmp_path / "store.db"
    env = {"SCALEREADY_DATABASE_URL": f"sqlite:///{db}", "SCALEREADY_SPOOL_DIR": str(spool)}
    Store(env["SCALEREADY_DATABASE_URL"])  # a migrated store that someone else then locks
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        report = tmp_path / "report.json"
        result = scaleready(env, "check", "-c", str(config), "-f", "json", "-o", str(report), cwd=tmp_path)
        run_id = assert_spooled(result, report, spool)
        assert "locked" in result.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    second = scaleready(env, "check", "-c", str(config), "-f", "json", "-o", str(tmp_path / "second.json"),
                        cwd=tmp_path)
    assert second.returncode in (0, 3), second.stderr
    assert "uploaded 1 spooled run" in second.stderr
    store = Store(env["SCALEREADY_DATABASE_URL"])
    assert {r.id for r in store.runs()} == {run_id, json.loads((tmp_path / "second.json").read_text())["run"]["id"]}
    assert list(spool.glob("*.json")) == []
