"""The targets of a stored run, and the explanation of an area nobody could prove."""

from __future__ import annotations

from scaleready.config import parse_config
from scaleready.runner import execute, resolve_framework
from scaleready.store import Store
from scaleready.targets_view import area_needs, collected_kinds, needs_frame, redacted_options, targets_frame
from tests.support.pg_cluster import free_port


def test_targets_of_a_run_with_one_that_failed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("hello\n")
    config = parse_config(f"""
targets:
  - {{name: repo, kind: gitops, path: '{repo}', environment: staging}}
  - {{name: cache, kind: redis, url: 'redis://127.0.0.1:{free_port()}/0', timeout: 5, active: true}}
""", tmp_path / "scaleready.yaml")
    run, snaps = execute(config, store=store)
    frame = targets_frame(store, run.id)
    assert list(frame["target"]) == ["repo", "cache"]
    repo_row, cache_row = frame.iloc[0], frame.iloc[1]
    assert repo_row["status"] == "collected" and repo_row["environment"] == "staging"
    assert repo_row["snapshot sha256"] == snaps[0].sha256 and repo_row["collected at"].endswith("UTC")
    assert cache_row["status"] == "error" and cache_row["reason"] and bool(cache_row["active"]) is True
    assert collected_kinds(frame) == {"gitops"}


def test_an_empty_area_says_which_target_kind_it_lacks():
    framework = resolve_framework(None)
    needs = {n.area: n for n in area_needs(framework, {"kubernetes", "gitops"})}
    metrics = needs["metrics"]
    assert "prometheus" in metrics.missing and metrics.blocked_items == len(framework.items_in("metrics"))
    assert "no prometheus target: 4 item(s) of this area cannot be proven" in metrics.explanation
    deployment = needs["deployment"]
    assert deployment.blocked_items == 0 and "every item can be proven" in deployment.explanation
    communication = needs["communication"]  # breakers and consumer lag from Prometheus, the outbox from PostgreSQL
    assert communication.missing == ["postgres", "prometheus"] and communication.blocked_items == 2
    cost = needs["cost"]  # reserved database capacity is a billing commitment: a person ticks it
    assert "1 item(s) are decided by a manual tick only" in cost.explanation
    assert len(needs_frame(list(needs.values()))) == len(framework.areas)


def test_options_are_shown_without_secrets():
    shown = redacted_options({"dsn": "postgresql://app:hunter2@db/app", "password": "hunter2",
                              "jwt_token": "${TOKEN}", "url": "redis://cache:6379/0", "timeout": 5,
                              "nested": {"api_key": "abc"}})
    assert shown == {"dsn": "postgresql://app:***@db/app", "password": "***", "jwt_token": "${TOKEN}",
                     "url": "redis://cache:6379/0", "timeout": 5, "nested": {"api_key": "***"}}
