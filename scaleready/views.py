"""Plain tables and figures of a run, for the dashboard (and any other front end).

The dashboard only lays these out; every number it shows is computed here, where tests can
reach it without a browser.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from scaleready.results import RunResult

STATUS_ORDER = ["fail", "warn", "error", "pass", "skip"]
STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#f9a825", "fail": "#c62828", "error": "#6a1b9a",
                  "skip": "#9e9e9e", "unknown": "#bdbdbd"}


FINDING_COLUMNS = ["status", "severity", "check", "target", "subject", "message", "section", "items", "remediation",
                   "location", "fingerprint"]
"""``fingerprint`` identifies the finding across runs (the detail view's key); tables hide it."""
SHOWN_FINDING_COLUMNS = FINDING_COLUMNS[:-1]


def status_counts(run: RunResult) -> dict[str, int]:
    counts = Counter(f.status.value for f in run.findings)
    return {s: counts.get(s, 0) for s in STATUS_ORDER}


def findings_frame(run: RunResult) -> pd.DataFrame:
    """One row per finding, worst first, with the fields a reviewer filters on."""
    rows = [
        {
            "status": f.status.value + (" (waived)" if f.waived else ""),
            "severity": f.severity.value,
            "check": f.check,
            "target": f.target,
            "subject": f.subject or "",
            "message": f.message,
            "section": f.section or "",
            "items": ", ".join(f.items),
            "remediation": f.remediation,
            "location": f.location or "",
            "fingerprint": f.fingerprint,
        }
        for f in run.findings
    ]
    frame = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    if frame.empty:
        return frame
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    frame["_rank"] = frame["status"].map(lambda s: rank.get(s.split(" ")[0], 9))
    frame["_sev"] = frame["severity"].map({"danger": 0, "warning": 1, "info": 2})
    return frame.sort_values(["_rank", "_sev", "check"]).drop(columns=["_rank", "_sev"]).reset_index(drop=True)


def areas_frame(run: RunResult) -> pd.DataFrame:
    return pd.DataFrame(
        [{"area": a.title, "id": a.id, "score": round(a.score, 1), "coverage": round(100 * a.coverage, 1),
          "items": len(a.items)} for a in run.score.areas],
        columns=["area", "id", "score", "coverage", "items"],
    )


def items_frame(run: RunResult) -> pd.DataFrame:
    return pd.DataFrame(
        [{"area": a.title, "item": i.id, "title": i.title, "section": i.section, "kind": i.kind,
          "status": i.status, "source": i.source, "weight": i.weight}
         for a in run.score.areas for i in a.items],
        columns=["area", "item", "title", "section", "kind", "status", "source", "weight"],
    )


def areas_figure(run: RunResult) -> go.Figure:
    """Score and coverage per area as paired bars, each labelled at its end: a low score with low
    coverage means 'unknown', not 'bad'. Paired bars keep every label clear of the other series."""
    frame = areas_frame(run)
    fig = go.Figure()
    fig.add_bar(y=frame["area"], x=frame["score"], orientation="h", name="score",
                marker_color=[_score_colour(s) for s in frame["score"]],
                text=[f"{s:.0f}" for s in frame["score"]], textposition="outside", cliponaxis=False)
    fig.add_bar(y=frame["area"], x=frame["coverage"], orientation="h", name="coverage %",
                marker_color="#90caf9", text=[f"{c:.0f} %" for c in frame["coverage"]], textposition="outside",
                cliponaxis=False)
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05,
                      xaxis={"range": [0, 112], "title": "score / coverage (%)"},
                      yaxis={"autorange": "reversed", "automargin": True}, height=52 * len(frame) + 120,
                      margin={"l": 10, "r": 10, "t": 30, "b": 40}, legend={"orientation": "h", "y": 1.06},
                      uniformtext={"minsize": 10, "mode": "show"})
    return fig


def gauge_figure(value: float, title: str) -> go.Figure:
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=round(value, 1), title={"text": title},
        gauge={"axis": {"range": [0, 100]}, "bar": {"color": _score_colour(value)},
               "steps": [{"range": [0, 50], "color": "#fbe9e7"}, {"range": [50, 80], "color": "#fff8e1"},
                         {"range": [80, 100], "color": "#e8f5e9"}]},
    ))
    fig.update_layout(height=230, margin={"l": 40, "r": 45, "t": 50, "b": 10})
    return fig


def _score_colour(value: float) -> str:
    return "#2e7d32" if value >= 80 else "#f9a825" if value >= 50 else "#c62828"


def run_label(summary: Any) -> str:
    """How a run is named in pickers: when, which environment (demo runs say so), score, id."""
    environment = f" · {summary.environment}" if summary.environment else ""
    return (f"{summary.started_at:%Y-%m-%d %H:%M}{environment} · score {summary.overall:.0f} · "
            f"coverage {summary.coverage:.0%} · {summary.id[:8]}")


def filter_findings(frame: pd.DataFrame, statuses: list[str], severities: list[str], text: str) -> pd.DataFrame:
    """The findings a reviewer asked for: by status (waived ones included), severity and free text."""
    shown = frame[frame["status"].str.split(" ").str[0].isin(statuses)] if statuses else frame
    if severities:
        shown = shown[shown["severity"].isin(severities)]
    if text:
        mask = shown[["check", "target", "subject", "message"]].apply(
            lambda column: column.str.contains(text, case=False, regex=False)).any(axis=1)
        shown = shown[mask]
    return shown


def checklist_frame(framework: Any, run: RunResult | None, states: dict[str, Any]) -> pd.DataFrame:
    """Every framework item with its current verdict, evidence source and manual tick (who, when, why)."""
    scored = {i.id: i for a in run.score.areas for i in a.items} if run else {}
    rows = []
    for item in framework.items:
        verdict = scored.get(item.id)
        tick = states.get(item.id)
        rows.append({
            "phase": item.phase,
            "section": item.section,
            "item": item.id,
            "title": item.title,
            "kind": item.kind,
            "status": "n/a" if tick is not None and tick.state == "not_applicable"
            else (verdict.status if verdict else "unknown"),
            "decided by": verdict.source if verdict else "none",
            "tick": tick.state if tick else "",
            "ticked by": tick.actor if tick else "",
            "ticked at": f"{tick.at:%Y-%m-%d %H:%M}" if tick else "",
            "note": tick.note if tick else "",
            "checks": ", ".join(item.checks),
        })
    return pd.DataFrame(rows)


def phase_figure(run: RunResult) -> go.Figure:
    """Roadmap phases as stacked progress bars: done vs still open, per phase."""
    phases = run.score.phases
    labels = [f"Phase {p.number}: {p.title}" for p in phases]
    fig = go.Figure()
    fig.add_bar(y=labels, x=[p.done for p in phases], name="done", orientation="h", marker_color="#2e7d32")
    fig.add_bar(y=labels, x=[p.total - p.done for p in phases], name="open", orientation="h",
                marker_color="#e0e0e0")
    fig.update_layout(barmode="stack", height=80 + 45 * len(phases), yaxis={"autorange": "reversed"},
                      margin={"l": 10, "r": 10, "t": 10, "b": 30}, legend={"orientation": "h"},
                      xaxis={"title": "items", "dtick": 1})
    return fig


def change_rows(diff: Any) -> pd.DataFrame:
    """What changed between two runs as a table, worst changes first."""
    from scaleready.diff import diff_rows

    order = {"worse": 0, "new": 1, "better": 2, "gone": 3}
    rows = sorted(diff_rows(diff), key=lambda r: order.get(r["change"], 9))
    return pd.DataFrame(rows, columns=["change", "check", "target", "subject", "before", "after", "message"])
