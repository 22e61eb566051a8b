"""Every page through Streamlit's AppTest: no exception, and running checks, waiving and ticking persist.

The pages run for real (same scripts, same store code) against a private SQLite store holding
real demo runs: the sample app's manifests and repository checked by the real checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from scaleready.demo import run_demo
from scaleready.store import Store
from tests.support.pg_cluster import free_port

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = ["pages/scorecard.py", "pages/finding.py", "pages/history.py", "pages/roadmap.py", "pages/run_checks.py",
         "pages/targets.py", "pages/runs.py"]


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("SCALEREADY_DATABASE_URL", url)
    return Store(url)


def open_page(page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page != "pages/scorecard.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "info", "success", "warning", "error", "caption", "title", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_an_empty_store(store, page):
    at = open_page(page)
    assert not at.error or page == "pages/run_checks.py"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_stored_runs(store, page):
    run_demo(store, with_service=False)
    run_demo(store, with_service=False)
    at = open_page(page)
    assert not at.error, [e.value for e in at.error]
    shown = texts(at)
    expected = {"pages/scorecard.py": "What changed", "pages/finding.py": "Evidence",
                "pages/history.py": "Score per area", "pages/roadmap.py": "Tick an item",
                "pages/run_checks.py": "Secrets stay references", "pages/targets.py": "cannot be proven",
                "pages/runs.py": "Export an audit report"}[page]
    assert expected in shown or any(expected in e.label for e in at.expander), shown[:2000]


def test_scorecard_says_what_changed_and_why_areas_are_empty(store):
    run_demo(store, with_service=False)
    run_demo(store, with_service=False)
    at = open_page("pages/scorecard.py")
    assert any("Since run" in e.label and "0 worse" in e.label for e in at.expander)
    assert "area(s) without evidence in this run" in texts(at)
    assert at.metric[0].label == "Readiness level"


def test_running_checks_from_a_config_file_stores_the_run(store, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("demo\n")
    config = tmp_path / "scaleready.yaml"
    config.write_text(f"targets:\n  - {{name: repo, kind: gitops, path: '{repo}'}}\n"
                      f"  - {{name: gone, kind: redis, url: 'redis://127.0.0.1:{free_port()}/0', timeout: 5}}\n")
    at = open_page("pages/run_checks.py")
    at.text_input[0].set_value(str(config)).run()
    assert not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Run the checks").click().run()
    job = at.session_state["run_job"]
    assert job.wait(120) and job.state == "done", job.error
    at.run()
    assert not at.exception
    (summary,) = store.runs()
    assert summary.id == job.result.id
    shown = texts(at)
    assert f"Run {summary.id[:8]} stored" in shown
    assert "gone (redis) could not be collected" in shown
    labels = [p.value for p in at.progress]
    assert labels and all(v == 100 for v in labels), labels


def test_running_checks_from_the_form_refuses_literal_secrets(store, tmp_path):
    rows = [{"name": "db", "kind": "postgres", "environment": "", "keys": "dsn: postgresql://a:hunter2@h/d",
             "active": False}]
    at = open_page("pages/run_checks.py", form_rows=rows)
    at.radio[0].set_value("Build a targets list").run()
    errors = [e.value for e in at.error]
    assert any("password in this URL must be a reference" in e for e in errors), errors
    assert not any(b.label == "Run the checks" for b in at.button)


def test_running_checks_from_the_form(store, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    rows = [{"name": "repo", "kind": "gitops", "environment": "ci", "keys": f"path: '{repo}'", "active": False}]
    at = open_page("pages/run_checks.py", form_rows=rows)
    at.radio[0].set_value("Build a targets list").run()
    assert not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Run the checks").click().run()
    job = at.session_state["run_job"]
    assert job.wait(120) and job.state == "done", job.error
    assert [s.target for s in store.load_run("latest").snapshots] == ["repo"]


def test_waiving_from_the_finding_detail_persists(store):
    run = run_demo(store, with_service=False)
    failing = next(f for f in run.findings if f.status.value == "fail")
    at = open_page("pages/finding.py", finding=(run.id, failing.fingerprint))
    assert failing.message in texts(at)
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Reason (accepted risk, ticket)"].set_value("RISK-7 accepted for the pilot")
    form_inputs["Who"].set_value("ana")
    at.form_submit_button[0].click().run()
    assert not at.exception
    (waiver,) = store.waivers()
    assert (waiver.check_id, waiver.target, waiver.reason, waiver.actor) == \
        (failing.check, failing.target, "RISK-7 accepted for the pilot", "ana")
    assert waiver.subject == (failing.subject or "*")
    assert any(e.action == "waiver.added" and e.actor == "ana" for e in store.audit_log())
    assert any("Waiver" in s.value for s in at.success)


def test_a_waiver_needs_a_reason(store):
    run = run_demo(store, with_service=False)
    failing = next(f for f in run.findings if f.status.value == "fail")
    at = open_page("pages/finding.py", finding=(run.id, failing.fingerprint))
    at.form_submit_button[0].click().run()
    assert any("needs a reason" in e.value for e in at.error)
    assert store.waivers() == []


def test_ticking_from_the_roadmap_persists(store):
    run_demo(store, with_service=False)
    at = open_page("pages/roadmap.py")
    inputs = {t.label: t for t in at.text_input}
    inputs["Who"].set_value("bo")
    inputs["Why (evidence, ticket, link)"].set_value("runbook RB-3")
    item = next(s for s in at.selectbox if s.label == "Item")
    item.set_value("comm.outbox")
    next(s for s in at.selectbox if s.label == "State").set_value("not_applicable")
    at.form_submit_button[0].click().run()
    assert not at.exception
    state = store.item_states("scaling-guide")["comm.outbox"]
    assert (state.state, state.actor, state.note) == ("not_applicable", "bo", "runbook RB-3")


def test_runs_page_renders_a_report_only_when_asked(store):
    run_demo(store, with_service=False)
    at = open_page("pages/runs.py")
    assert not at.download_button  # nothing rendered on open
    next(b for b in at.button if b.label == "Prepare the report").click().run()
    assert not at.exception and not at.error
    (download,) = at.download_button
    assert download.label == "Download HTML"


def test_runs_page_deletes_demo_runs(store):
    run_demo(store, with_service=False)
    at = open_page("pages/runs.py")
    next(b for b in at.button if b.label == "Delete the demo runs").click().run()
    assert store.runs() == []
    assert not at.exception


def test_runs_page_demo_with_backends_that_cannot_be_used_says_why(store):
    at = open_page("pages/runs.py")
    next(t for t in at.text_input if t.label.startswith("PostgreSQL admin DSN")).set_value(
        "postgresql://nobody@127.0.0.1:1/x")
    next(b for b in at.button if b.label == "Run the demo checks").click().run()
    assert not at.exception
    assert any("could not use the given backends" in e.value for e in at.error)
    assert store.runs() == []


def test_a_run_started_from_the_page_can_be_cancelled(store, tmp_path):
    import socket

    listener = socket.socket()  # accepts connections (backlog) and never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        config = tmp_path / "scaleready.yaml"
        config.write_text(f"targets:\n  - {{name: hangs, kind: http, url: 'http://127.0.0.1:"
                          f"{listener.getsockname()[1]}', timeout: 300}}\n")
        at = open_page("pages/run_checks.py")
        at.text_input[0].set_value(str(config)).run()
        next(b for b in at.button if b.label == "Run the checks").click().run()
        job = at.session_state["run_job"]
        assert not job.done
        next(b for b in at.button if b.label == "Cancel the run").click().run()
        assert job.wait(15) and job.state == "cancelled"
        at.run()
        assert not at.exception
        assert any("nothing was stored" in i.value for i in at.info)
        assert store.runs() == []
    finally:
        listener.close()


def test_waiving_and_ticking_go_to_the_runs_project(store, tmp_path):
    from scaleready.config import parse_config
    from scaleready.demo import demo_config
    from scaleready.runner import execute

    config = demo_config()
    shop = parse_config("project: shop\ntargets: []\n", tmp_path / "scaleready.yaml")
    config.project = shop.project
    run, _ = execute(config, store=store)
    assert run.project == "shop"
    failing = next(f for f in run.findings if f.status.value == "fail")
    at = open_page("pages/finding.py", finding=(run.id, failing.fingerprint))
    inputs = {t.label: t for t in at.text_input}
    inputs["Reason (accepted risk, ticket)"].set_value("accepted for the shop")
    inputs["Who"].set_value("ana")
    at.form_submit_button[0].click().run()
    assert [w.reason for w in store.waivers(project="shop")] == ["accepted for the shop"]
    assert store.waivers() == []  # not the default project's
    at = open_page("pages/roadmap.py")
    inputs = {t.label: t for t in at.text_input}
    inputs["Who"].set_value("bo")
    next(s for s in at.selectbox if s.label == "Item").set_value("comm.outbox")
    at.form_submit_button[0].click().run()
    assert "comm.outbox" in store.item_states("scaling-guide", project="shop")
    assert "comm.outbox" not in store.item_states("scaling-guide")
