"""The audit log is tamper-evident: `audit verify` names the first bad event, on both databases.

Each tampering goes around the append-only triggers the way a database owner could (dropping
or disabling them), then checks that the chain still gives it away.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy
from click.testing import CliRunner
from sqlalchemy import text

from scaleready.audit import event_hash
from scaleready.cli import main
from scaleready.models import AuditEvent
from scaleready.store import Store


def _events(store: Store, n: int = 5) -> list[int]:
    for i in range(n):
        store.audit(f"user{i}", "test.event", f"subject-{i}", {"n": i})
    return [e.id for e in reversed(store.audit_log())]


def _without_guards(store: Store, statement: str, **params) -> None:
    """Run one statement on audit_log with its triggers out of the way, as an owner could."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(statement), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            conn.execute(text(statement), params)
            for _, sql in triggers:
                conn.execute(text(sql))


def _verify(store_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify"], env={"SCALEREADY_DATABASE_URL": store_url})
    return result.exit_code, result.output


def test_intact_log_verifies_and_names_its_head(store, store_url):
    _events(store)
    code, out = _verify(store_url)
    seq, head = store.audit_head()
    assert code == 0, out
    assert f"{seq} events" in out and head in out


def test_edited_event_is_named(store, store_url):
    ids = _events(store)
    _without_guards(store, "UPDATE audit_log SET actor = 'mallory' WHERE id = :id", id=ids[2])
    code, out = _verify(store_url)
    assert code != 0
    assert f"event id {ids[2]}" in out and "edited" in out


def test_deleted_event_breaks_the_link_of_the_next(store, store_url):
    ids = _events(store)
    _without_guards(store, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    code, out = _verify(store_url)
    assert code != 0 and f"event id {ids[2]}" in out


def test_events_cut_off_the_end_are_noticed(store, store_url):
    ids = _events(store)
    _without_guards(store, "DELETE FROM audit_log WHERE id = :id", id=ids[-1])
    code, out = _verify(store_url)
    assert code != 0 and "cut off the end" in out


def test_event_inserted_out_of_order_is_named(store, store_url):
    _events(store)
    events = list(reversed(store.audit_log()))
    # A forged event, correctly hashed, but chained onto an old event instead of the head.
    forged = AuditEvent(at=events[-1].at, actor="mallory", action="item.state", subject="x", details_json="{}",
                        project="default", seq=len(events) + 1, prev_hash=events[1].hash)
    forged.hash = event_hash(forged)
    with store.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO audit_log (at, actor, action, subject, details_json, project, seq, prev_hash, hash) "
            "VALUES (:at, :actor, :action, :subject, :details_json, :project, :seq, :prev_hash, :hash)"),
            {k: getattr(forged, k) for k in ("at", "actor", "action", "subject", "details_json", "project", "seq",
                                             "prev_hash", "hash")})
    forged_id = store.audit_log(1)[0].id
    code, out = _verify(store_url)
    assert code != 0 and f"event id {forged_id}" in out and "prev_hash" in out


def test_replace_is_refused_on_sqlite_and_a_replaced_row_is_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    ids = _events(store)
    victim = store.audit_log()[-2]
    for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO"):
        with store.engine.connect() as conn:
            try:
                conn.execute(text(
                    f"{verb} audit_log (id, at, actor, action, subject, details_json, project, seq, prev_hash, hash) "
                    "VALUES (:id, :at, 'mallory', 'x', 'y', '{}', 'default', :seq, :prev, :hash)"),
                    {"id": victim.id, "at": victim.at, "seq": victim.seq, "prev": victim.prev_hash,
                     "hash": victim.hash})
                conn.commit()
                raise AssertionError(f"{verb} was accepted")
            except sqlalchemy.exc.DBAPIError as exc:
                assert "append-only" in str(exc)
    assert _verify(url)[0] == 0
    # with the triggers dropped, the replaced row is still caught by the chain
    _without_guards(store, "REPLACE INTO audit_log (id, at, actor, action, subject, details_json, project, seq, "
                    "prev_hash, hash) VALUES (:id, :at, 'mallory', 'x', 'y', '{}', 'default', :seq, :prev, :hash)",
                    id=victim.id, at=victim.at, seq=victim.seq, prev=victim.prev_hash, hash=victim.hash)
    code, out = _verify(url)
    assert code != 0 and f"event id {ids[1]}" in out


def test_update_delete_and_truncate_stay_refused(store):
    _events(store, 2)
    statements = ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with store.engine.connect() as conn:
            try:
                conn.execute(text(statement))
                conn.commit()
                raise AssertionError(f"{statement} was accepted")
            except sqlalchemy.exc.DBAPIError as exc:
                assert "append-only" in str(exc)
    assert store.verify_audit().ok


def test_a_swapped_milestone_is_caught(store, store_url, tmp_path):
    from scaleready import milestones
    from scaleready.demo import demo_config
    from scaleready.runner import execute

    execute(demo_config(), store=store)
    milestones.create(store, "launch", "ana")
    milestones.sign(store, "launch", "carla", "ok")
    with store.engine.connect() as conn:  # the frozen tables refuse changes outright
        try:
            conn.execute(text("UPDATE milestones SET note = 'x'"))
            conn.commit()
            raise AssertionError("UPDATE milestones was accepted")
        except sqlalchemy.exc.DBAPIError as exc:
            assert "append-only" in str(exc)
    assert _verify(store_url)[0] == 0
    # around the guard: a better-looking document, with a sha256 that matches it
    row = store.engine.connect().execute(text("SELECT document_json FROM milestones")).scalar()
    doc = json.loads(row)
    doc["score"]["overall"] = 99.0
    forged = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE milestones DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER milestones_no_update"))
        conn.execute(text("UPDATE milestones SET document_json = :d, sha256 = :s"), {"d": json.dumps(doc), "s": forged})
    code, out = _verify(store_url)
    assert code != 0 and "milestone 'launch'" in out
