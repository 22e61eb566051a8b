"""A store made by revision 0001 upgrades in place on both databases: its ticks, waivers and runs
join the default project, its audit events join the chain, and the guards come back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

import scaleready
from scaleready.database import make_engine
from scaleready.store import Store

MIGRATIONS = Path(scaleready.__file__).parent / "migrations"


def _at_0001(url: str) -> None:
    engine = make_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text(
            "INSERT INTO runs (id, started_at, framework_id, framework_title, framework_version, tool_version, "
            "overall, coverage, level, score_json, targets_json) VALUES ('old-run', '2026-01-02 03:04:05', "
            "'scaling-guide', 'Guide', '1', '0.0.1', 50, 0.5, 0, "
            "'{\"overall\": 50, \"coverage\": 0.5, \"level\": 0, \"areas\": [{\"id\": \"security\", \"title\": "
            "\"Security\", \"score\": 50, \"coverage\": 0.5, \"items\": [{\"id\": \"security.jwt\", \"title\": \"JWT\", "
            "\"section\": \"7.1\", \"kind\": \"auto\", \"status\": \"pass\", \"source\": \"evidence\", \"weight\": 1}]}], "
            "\"phases\": []}', '[]')"))
        conn.execute(text(
            "INSERT INTO item_states (framework_id, item_id, state, actor, at, note) "
            "VALUES ('scaling-guide', 'security.audit.pentest', 'done', 'ana', '2026-01-02 03:04:05.000006', 'PT')"))
        conn.execute(text(
            "INSERT INTO waivers (check_id, target, subject, reason, actor, created_at, revoked) "
            "VALUES ('redis.*', '*', '*', 'migrating', 'ana', '2026-01-02 03:04:05', false)"))
        for n in range(3):
            conn.execute(text(
                "INSERT INTO audit_log (at, actor, action, subject, details_json) "
                f"VALUES ('2026-01-02 03:04:0{n}.00000{n}', 'ana', 'item.state', 's{n}', '{{\"n\": {n}}}')"))
    engine.dispose()


def test_a_0001_store_upgrades(store_url):
    _at_0001(store_url)
    store = Store(store_url)
    verdict = store.verify_audit()
    assert verdict.ok and verdict.events == 3, verdict.line()
    assert store.item_states("scaling-guide")["security.audit.pentest"].actor == "ana"
    assert [w.reason for w in store.waivers()] == ["migrating"]
    old = store.load_run("old-run")
    assert old.project == "default" and old.waivers == [] and old.audit_head is None
    assert old.score.areas[0].items[0].status == "pass"
    store.set_item_state("scaling-guide", "security.audit.pentest", "not_done", "bo", "retest", project="shop")
    assert store.verify_audit().ok and store.verify_audit().events == 4
    with store.engine.connect() as conn, pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
        conn.execute(text("DELETE FROM audit_log"))
        conn.commit()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
