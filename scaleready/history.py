"""How readiness moved over runs: trends of score, coverage, level and areas, and one finding's past.

Trends read only the stored scorecards (one small JSON per run), never the findings, so a
store with thirty runs of thousands of findings still draws its history in milliseconds. A
finding's history follows its fingerprint (check, target, subject) across runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from sqlmodel import col, select

from scaleready.api import Finding, Severity, Status
from scaleready.diff import RunDiff, diff_runs
from scaleready.models import FindingRecord, RunRecord
from scaleready.results import RunResult
from scaleready.store import Store, StoreError, _utc, scorecard_from_json

TREND_COLUMNS = ["started", "run", "environment", "overall", "coverage %", "level"]


def _project_column() -> Any:
    """Runs belong to a project once the store records one (issue 10); until then there is none."""
    return getattr(RunRecord, "project", None)


def projects(store: Store) -> list[str]:
    """The projects runs were made for (empty while the store has no notion of projects)."""
    column = _project_column()
    if column is None:
        return []
    with store.session() as session:
        return sorted(v for v in session.exec(select(column).distinct()).all() if v)


def trend_frame(store: Store, environment: str | None = None, limit: int = 200,
                project: str | None = None) -> pd.DataFrame:
    """One row per run, oldest first: overall, coverage %, level and one column per area's score."""
    query = select(RunRecord.id, RunRecord.started_at, RunRecord.environment, RunRecord.overall,
                   RunRecord.coverage, RunRecord.level, RunRecord.score_json)
    if environment is not None:
        query = query.where(RunRecord.environment == environment)
    if project is not None and _project_column() is not None:
        query = query.where(_project_column() == project)
    query = query.order_by(col(RunRecord.started_at).desc()).limit(limit)
    with store.session() as session:
        rows = session.exec(query).all()
    records = []
    for run_id, started, env, overall, coverage, level, score_json in reversed(rows):
        row = {"started": _utc(started), "run": run_id, "environment": env or "(none)",
               "overall": round(overall, 1), "coverage %": round(100 * coverage, 1), "level": level}
        for area in json.loads(score_json).get("areas", []):
            row[area["title"]] = round(area["score"], 1)
        records.append(row)
    return pd.DataFrame(records) if records else pd.DataFrame(columns=TREND_COLUMNS)


def environments(store: Store) -> list[str | None]:
    """The environments runs were made for (None: runs without one)."""
    with store.session() as session:
        values = session.exec(select(RunRecord.environment).distinct()).all()
    return sorted(values, key=lambda v: (v is None, v or ""))


def area_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in TREND_COLUMNS]


def trend_figure(frame: pd.DataFrame) -> go.Figure:
    """Overall score and coverage over time, level on a second axis."""
    fig = go.Figure()
    fig.add_scatter(x=frame["started"], y=frame["overall"], mode="lines+markers", name="overall score")
    fig.add_scatter(x=frame["started"], y=frame["coverage %"], mode="lines+markers", name="coverage %",
                    line={"dash": "dot"})
    fig.add_scatter(x=frame["started"], y=frame["level"], mode="lines+markers", name="level (right axis)",
                    yaxis="y2", line={"shape": "hv"})
    fig.update_layout(yaxis={"range": [0, 105], "title": "score / coverage (%)"},
                      yaxis2={"range": [0, 4.2], "overlaying": "y", "side": "right", "title": "level",
                              "dtick": 1},
                      height=360, margin={"l": 10, "r": 10, "t": 30, "b": 40},
                      legend={"orientation": "h", "y": 1.12})
    return fig


def area_trend_figure(frame: pd.DataFrame) -> go.Figure:
    """One line per area; the legend sits below so long area titles never overlap the plot."""
    fig = go.Figure()
    for area in area_columns(frame):
        fig.add_scatter(x=frame["started"], y=frame[area], mode="lines+markers", name=area)
    fig.update_layout(yaxis={"range": [0, 105], "title": "area score"}, height=460,
                      margin={"l": 10, "r": 10, "t": 20, "b": 40},
                      legend={"orientation": "h", "y": -0.2, "yanchor": "top"})
    return fig


def previous_run_id(store: Store, run: RunResult) -> str | None:
    """The run made just before this one for the same environment, if any."""
    started = _utc(run.started_at)
    assert started is not None
    query = select(RunRecord.id).where(col(RunRecord.started_at) < started)
    query = query.where(RunRecord.environment == run.environment if run.environment is not None
                        else col(RunRecord.environment).is_(None))
    with store.session() as session:
        return session.exec(query.order_by(col(RunRecord.started_at).desc()).limit(1)).first()


@dataclass
class Changes:
    """What changed since the previous run of the same environment."""

    previous_id: str | None
    diff: RunDiff | None

    @property
    def summary(self) -> str:
        if self.diff is None:
            return "First run for this environment: nothing to compare with yet."
        d = self.diff
        return (f"Since run {self.previous_id[:8] if self.previous_id else '?'}: score {d.score_delta:+.1f}, "
                f"coverage {100 * d.coverage_delta:+.0f} pts, {len(d.worse)} worse, {len(d.better)} better, "
                f"{len(d.appeared)} new, {len(d.disappeared)} gone.")


def outline_run(store: Store, run_id: str) -> RunResult:
    """A stored run with what comparing needs (identity, status, message, score) and without the
    evidence: a fraction of the cost of `Store.load_run` for a run of thousands of findings."""
    with store.session() as session:
        record = session.get(RunRecord, run_id)
        if record is None:
            raise StoreError(f"no run {run_id}")
        rows = session.exec(
            select(FindingRecord.check_id, FindingRecord.target, FindingRecord.subject, FindingRecord.status,
                   FindingRecord.severity, FindingRecord.title, FindingRecord.message, FindingRecord.waived)
            .where(FindingRecord.run_id == run_id).order_by(col(FindingRecord.id))
        ).all()
    findings = [Finding(check, target, Status(status), Severity(severity), title, message, subject=subject,
                        waived=waived) for check, target, subject, status, severity, title, message, waived in rows]
    return RunResult(id=record.id, started_at=_utc(record.started_at) or datetime.now(UTC),
                     finished_at=_utc(record.finished_at), framework={"id": record.framework_id,
                     "title": record.framework_title, "version": record.framework_version},
                     findings=findings, score=scorecard_from_json(json.loads(record.score_json)),
                     environment=record.environment)


def changes_since_previous(store: Store, run: RunResult,
                           load: Callable[[str], RunResult] | None = None) -> Changes:
    """The diff with the previous run of the same environment (``load`` defaults to `outline_run`)."""
    previous = previous_run_id(store, run)
    if previous is None:
        return Changes(None, None)
    return Changes(previous, diff_runs((load or (lambda ref: outline_run(store, ref)))(previous), run))


def finding_history(store: Store, fingerprint: str, limit: int = 100) -> pd.DataFrame:
    """Status and message of one finding (check, target, subject) in every run that has it."""
    query = (select(RunRecord.started_at, RunRecord.id, RunRecord.environment, FindingRecord.status,
                    FindingRecord.waived, FindingRecord.message)
             .join(RunRecord, col(RunRecord.id) == col(FindingRecord.run_id))
             .where(FindingRecord.fingerprint == fingerprint)
             .order_by(col(RunRecord.started_at).desc()).limit(limit))
    with store.session() as session:
        rows = session.exec(query).all()
    return pd.DataFrame(
        [{"started": f"{_utc(s):%Y-%m-%d %H:%M}", "run": r[:8], "environment": e or "",
          "status": st + (" (waived)" if w else ""), "message": m} for s, r, e, st, w, m in rows],
        columns=["started", "run", "environment", "status", "message"],
    )
