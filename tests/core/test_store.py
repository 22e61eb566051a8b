"""The store on both databases it supports: SQLite (default) and the local PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from alembic.script import ScriptDirectory

from scaleready import store as store_module
from scaleready.api import Finding, Severity, Snapshot, Status
from scaleready.framework import load_framework
from scaleready.results import RunResult
from scaleready.scoring import score
from scaleready.store import Store, StoreError


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'store.db'}")
    return Store(request.getfixturevalue("pg_database"))


def make_run(findings: list[Finding], started: datetime | None = None) -> RunResult:
    fw = load_framework()
    return RunResult(
        id=str(uuid.uuid4()),
        started_at=started or datetime.now(UTC),
        finished_at=datetime.now(UTC),
        framework={"id": fw.id, "title": fw.title, "version": str(fw.version)},
        findings=findings,
        score=score(fw, findings),
        tool_version="test",
    )


def finding(check: str, status: Status, **extra) -> Finding:
    return Finding(check=check, target="db", status=status, severity=Severity.WARNING, title=check,
                   message=f"{check} is {status}", evidence={"observed": 1, "nested": {"a": [1, 2]}},
                   items=["db.work_mem"], **extra)


def test_run_round_trips_with_snapshots_and_findings(store):
    snap = Snapshot("db", "postgres", data={"settings": {"work_mem": "4MB"}}, errors={"stats": "denied"})
    findings = [finding("postgres.config.work_mem", Status.FAIL, subject="work_mem", location="pg.conf:3"),
                finding("postgres.cache_hit_ratio", Status.ERROR, waived=False)]
    run = make_run(findings)
    store.save_run(run, [snap], targets=[{"name": "db", "kind": "postgres"}])
    loaded = store.load_run("latest")
    assert loaded.id == run.id
    assert [f.to_json() for f in loaded.findings] == [f.to_json() for f in findings]
    assert loaded.score.overall == pytest.approx(run.score.overall, abs=0.05)
    assert loaded.score.to_json()["areas"] == run.score.to_json()["areas"]
    assert [i.value for a in loaded.score.areas for i in a.items] == [i.value for a in run.score.areas for i in a.items]
    assert loaded.snapshots[0].sha256 == snap.sha256
    (stored,) = store.snapshots(run.id[:8])
    assert stored.sha256 == snap.sha256 and stored.errors == {"stats": "denied"}


def test_latest_and_prefix_resolution(store):
    old = make_run([], datetime.now(UTC) - timedelta(hours=1))
    new = make_run([])
    store.save_run(old, [])
    store.save_run(new, [])
    assert store.resolve_run_id("latest") == new.id
    assert store.resolve_run_id(old.id[:12]) == old.id
    with pytest.raises(StoreError, match="no run matches"):
        store.resolve_run_id("zzzz")
    listed = [r.id for r in store.runs()]
    assert listed[0] == new.id and listed.index(new.id) < listed.index(old.id)


def test_manual_ticks_keep_who_when_why_and_history(store):
    fw = f"fw-{uuid.uuid4().hex[:6]}"
    store.set_item_state(fw, "security.audit.pentest", "not_done", "ana", "scheduled for Q1")
    store.set_item_state(fw, "security.audit.pentest", "done", "bo", "report PT-7")
    state = store.item_states(fw)["security.audit.pentest"]
    assert (state.state, state.actor, state.note) == ("done", "bo", "report PT-7")
    assert state.at.tzinfo is not None
    history = [e for e in store.audit_log() if e.subject == f"{fw}:security.audit.pentest"]
    assert [e.actor for e in history] == ["bo", "ana"]
    with pytest.raises(ValueError):
        store.set_item_state(fw, "x", "maybe", "ana")
    with pytest.raises(ValueError):
        store.set_item_state(fw, "x", "done", "  ")


def test_audit_log_is_append_only_in_the_database_itself(store):
    store.audit("ana", "test.event", "s", {"k": 1})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with store.engine.connect() as conn, pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            conn.execute(sqlalchemy.text(statement))
            conn.commit()
    assert any(e.actor == "ana" for e in store.audit_log())


def test_waivers_are_stored_audited_and_revocable(store):
    wid = store.add_waiver("kubernetes.replicas.min", "batch job", "ana", target="cluster",
                           expires=datetime(2030, 1, 1, tzinfo=UTC))
    assert any(w.id == wid for w in store.waivers())
    store.revoke_waiver(wid, "bo")
    assert all(w.id != wid for w in store.waivers())
    actions = [e.action for e in store.audit_log(10)]
    assert "waiver.added" in actions and "waiver.revoked" in actions
    with pytest.raises(ValueError):
        store.add_waiver("x", " ", "ana")


def test_migrations_are_idempotent(store):
    again = Store(store.url)  # opening again runs the upgrade again: must be a no-op
    with again.engine.connect() as conn:
        version = conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    migrations = Path(store_module.__file__).parent / "migrations"
    assert version == ScriptDirectory(str(migrations)).get_current_head()


def test_unreachable_database_is_a_store_error():
    with pytest.raises(StoreError, match="cannot open the store"):
        Store("postgresql://postgres@127.0.0.1:1/none")


def test_ticks_and_waivers_belong_to_a_project(store):
    fw = f"fw-{uuid.uuid4().hex[:6]}"
    # unique project names: the PostgreSQL store is shared by the session's tests
    shop, blog = f"shop-{fw}", f"blog-{fw}"
    store.set_item_state(fw, "security.audit.pentest", "done", "ana", "PT-7", project=shop)
    store.set_item_state(fw, "security.audit.pentest", "not_done", "bo", "not yet", project=blog)
    assert store.item_states(fw, project=shop)["security.audit.pentest"].state == "done"
    assert store.item_states(fw, project=blog)["security.audit.pentest"].state == "not_done"
    assert store.item_states(fw) == {}  # the default project saw neither
    wid = store.add_waiver("redis.*", "migrating", "ana", project=shop)
    assert [w.id for w in store.waivers(project=shop)] == [wid]
    assert store.waivers(project=blog) == []
    with pytest.raises(StoreError, match="no waiver"):
        store.revoke_waiver(wid, "bo", project=blog)
    store.revoke_waiver(wid, "bo", project=shop)
    events = store.audit_log(project=shop)
    assert {e.action for e in events} == {"item.state", "waiver.added", "waiver.revoked"}
    assert all(e.project == shop for e in events)
