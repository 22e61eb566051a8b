"""Trends over stored runs, 'what changed since the previous run', and one finding's past."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scaleready import history
from scaleready.api import Status
from scaleready.demo import demo_config
from scaleready.runner import execute, rescore, resolve_framework
from scaleready.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def _stored(store: Store, run, when: datetime, environment: str | None, snapshots) -> None:
    store.save_run(replace(run, id=f"{when:%Y%m%d%H%M%S}-{environment}", started_at=when,
                           finished_at=when, environment=environment), snapshots)


def test_trends_follow_the_stored_scorecards_per_environment(store):
    framework = resolve_framework(None)
    base, snaps = execute(demo_config())  # real checks over the sample app, not stored
    worse = replace(base, findings=[replace(f, status=Status.FAIL) if f.status == Status.PASS else f
                                    for f in base.findings])
    worse = rescore(worse, framework)
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    _stored(store, worse, t0, "staging", snaps)
    _stored(store, base, t0 + timedelta(days=7), "staging", snaps)
    _stored(store, worse, t0 + timedelta(days=8), "production", snaps)

    staging = history.trend_frame(store, "staging")
    assert list(staging["overall"]) == [round(worse.score.overall, 1), round(base.score.overall, 1)]
    assert staging["started"].is_monotonic_increasing
    assert base.score.overall > worse.score.overall  # the data really moved
    areas = history.area_columns(staging)
    assert set(areas) == {a.title for a in framework.areas}
    deployment = next(a for a in base.score.areas if a.id == "deployment")
    assert staging.iloc[-1][deployment.title] == round(deployment.score, 1)
    assert len(history.trend_frame(store)) == 3
    assert history.environments(store) == ["production", "staging"]
    fig = history.trend_figure(staging)
    assert [t.name for t in fig.data] == ["overall score", "coverage %", "level (right axis)"]
    assert len(history.area_trend_figure(staging).data) == len(areas)


def test_changes_since_the_previous_run_of_the_same_environment(store):
    base, snaps = execute(demo_config())
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    _stored(store, base, t0, "staging", snaps)
    flipped = next(f for f in base.findings if f.status == Status.PASS)
    later = replace(base, findings=[replace(f, status=Status.FAIL) if f is flipped else f for f in base.findings])
    _stored(store, later, t0 + timedelta(days=1), "production", snaps)  # another environment: ignored
    _stored(store, later, t0 + timedelta(days=2), "staging", snaps)
    latest = store.load_run("latest")
    changes = history.changes_since_previous(store, latest)
    assert changes.previous_id == "20260201000000-staging"
    assert [(b.status.value, a.status.value, a.check) for b, a in changes.diff.worse] == \
        [("pass", "fail", flipped.check)]
    assert "1 worse" in changes.summary
    first = store.load_run(changes.previous_id)
    assert history.changes_since_previous(store, first).diff is None


def test_a_findings_history_across_runs(store):
    base, snaps = execute(demo_config())
    target = next(f for f in base.findings if f.status == Status.PASS)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    for day, status in enumerate([Status.PASS, Status.FAIL, Status.PASS]):
        run = replace(base, findings=[replace(f, status=status) if f.fingerprint == target.fingerprint else f
                                      for f in base.findings])
        _stored(store, run, t0 + timedelta(days=day), "staging", snaps)
    past = history.finding_history(store, target.fingerprint)
    assert list(past["status"]) == ["pass", "fail", "pass"]  # newest first
    assert list(past["started"]) == ["2026-03-03 00:00", "2026-03-02 00:00", "2026-03-01 00:00"]


def test_trends_per_project(store, tmp_path):
    from scaleready.config import parse_config

    repo = tmp_path / "repo"
    repo.mkdir()
    for project in ("shop", "blog", "shop"):
        config = parse_config(f"project: {project}\ntargets:\n  - {{name: r, kind: gitops, path: '{repo}'}}\n",
                              tmp_path / "scaleready.yaml")
        execute(config, store=store)
    assert history.projects(store) == ["blog", "shop"]
    assert len(history.trend_frame(store, project="shop")) == 2
    assert len(history.trend_frame(store, project="blog")) == 1
    assert len(history.trend_frame(store)) == 3
