"""scaleready.yaml -> targets -> collect -> findings, with the DSN's password taken from the environment."""

from __future__ import annotations

import asyncio
import json

import pytest

from scaleready import engine
from scaleready.api import Status
from scaleready.config import ConfigError, parse_config
from tests.postgres._util import registry
from tests.support.pg_cluster import ReplicaPair

pytestmark = pytest.mark.postgres

CONFIG = """
targets:
  - name: shop-db
    kind: postgres
    dsn: postgresql://pwuser:${SR_TEST_PG_PASSWORD}@127.0.0.1:{port}/postgres
    replicas: ["postgresql://postgres@127.0.0.1:{rport}/postgres"]
    memory: 16GB
    cpus: 4
    storage: ssd
    workload: web
"""


def test_yaml_target_end_to_end(replica_pair: ReplicaPair, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS pwuser")
        conn.execute("CREATE ROLE pwuser LOGIN PASSWORD 'yaml-secret-4410' IN ROLE pg_monitor")
    try:
        monkeypatch.setenv("SR_TEST_PG_PASSWORD", "yaml-secret-4410")
        text = CONFIG.replace("{port}", str(replica_pair.primary.port)).replace(
            "{rport}", str(replica_pair.replica.port))
        reg = registry()
        config = parse_config(text, "scaleready.yaml", reg)
        target = config.targets[0].target
        snap = asyncio.run(engine.collect_target(target, reg, config.redactor))
        findings = engine.evaluate(snap, target, reg)
    finally:
        with psycopg.connect(replica_pair.primary_dsn, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS pwuser")
    assert snap.error is None, snap.error
    assert snap.data["server"]["user"] == "pwuser" and snap.data["host"]["memory"] == 16 * 1024**3
    by_check = {f.check: f for f in findings if f.subject in (None, "primary")}
    assert by_check["postgres.replication.replicas"].status == Status.PASS
    assert {f.check for f in findings} >= {"postgres.config.work_mem", "postgres.indexes.missing",
                                           "postgres.replication.lag", "postgres.vacuum.wraparound"}
    blob = json.dumps(snap.to_json()) + json.dumps([f.to_json() for f in findings])
    assert "yaml-secret-4410" not in blob


def test_unknown_key_and_bad_value_are_config_errors() -> None:
    reg = registry()
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config("targets:\n  - {name: db, kind: postgres, dsn: x, ram: 16GB}\n", "c.yaml", reg)
    with pytest.raises(ConfigError, match="workload"):
        parse_config("targets:\n  - {name: db, kind: postgres, dsn: x, workload: games}\n", "c.yaml", reg)
