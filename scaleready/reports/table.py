"""The terminal table: findings worst first, status coloured, with summary lines under it.

`renderable` gives a rich object for a live console (the CLI prints it, keeping colours
when stdout is a terminal); `render` gives the same as text, with ANSI colours only when
asked, so logs and files stay clean.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from scaleready.api import Status
from scaleready.evidence import evidence_records, record_texts
from scaleready.reports._common import by_attention, framework_label, short_time, status_counts
from scaleready.results import RunResult

STYLE = {
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.ERROR: "magenta",
    Status.SKIP: "dim",
    Status.PASS: "green",
}
SEVERITY_STYLE = {"danger": "red", "warning": "yellow", "info": "cyan"}
MAX_ROWS = 500  # worst first, so what is cut is passes and skips; a terminal is no place for 10k rows


def findings_table(run: RunResult, max_rows: int = MAX_ROWS) -> Table:
    ordered = by_attention(run.findings)
    hidden = ordered[max_rows:]
    caption = None
    if hidden:
        kinds = ", ".join(f"{n} {s}" for s, n in status_counts(hidden).items() if n)
        caption = f"{len(hidden)} more findings not shown ({kinds}); see the json or html report"
    table = Table(title=f"scaleready run {run.id}", title_justify="left", expand=False, caption=caption,
                  caption_justify="left")
    table.add_column("Status", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Check", overflow="fold")
    table.add_column("Target", overflow="fold")
    table.add_column("Message", overflow="fold", ratio=1)
    for f in ordered[:max_rows]:
        status = Text(f.status.value.upper(), style=STYLE[f.status])
        if f.waived:
            status.append(" (waived)", style="dim")
        target = f.target if not f.subject else f"{f.target}\n{f.subject}"
        message = f.message + (f"\n@ {f.location}" if f.location else "")
        table.add_row(status, Text(f.severity.value, style=SEVERITY_STYLE.get(f.severity.value, "")),
                      f.check, target, message)
    return table


def summary(run: RunResult) -> Text:
    sc = run.score
    counts = status_counts(run.findings)
    text = Text()
    text.append(f"Score {sc.overall:.1f}/100", style="bold")
    text.append(f"  coverage {sc.coverage * 100:.0f}%  level {sc.level}  ({framework_label(run)})\n")
    for i, (status, n) in enumerate(counts.items()):
        if i:
            text.append("  ")
        text.append(f"{n} {status}", style=STYLE[Status(status)] if n else "dim")
    waived = sum(1 for f in run.findings if f.waived)
    if waived:
        text.append(f"  ({waived} waived)", style="dim")
    for a in sc.areas:
        text.append(f"\n  {a.title}: {a.score:.1f} (coverage {a.coverage * 100:.0f}%)")
    text.append(f"\nProject {run.project}  audit chain head {run.audit_head or 'not stored yet (spooled)'}",
                style="dim")
    if run.milestone:
        signed = "; ".join(f"{s['by']} ({short_time(s['at'])})" for s in run.milestone.get("signatures") or [])
        text.append(f"\nMilestone {run.milestone.get('name')}: signed off by {signed or 'nobody yet'}", style="bold")
    return text


VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "unknown": "dim"}


def evidence_table(run: RunResult) -> Table:
    """Per item: verdict and how it was reached, findings, the manual tick, waivers, conflicts."""
    table = Table(title="Evidence record", title_justify="left", expand=False)
    table.add_column("Item", no_wrap=True)  # ids are what a reader searches for: never split them
    for name in ("Verdict", "Proven by", "Findings", "Manual tick", "Waivers"):
        table.add_column(name, overflow="fold")
    for r in evidence_records(run):
        t = record_texts(r, max_findings=2)
        verdict = Text(t["verdict"].upper(), style=VERDICT_STYLE.get(t["verdict"], ""))
        if t["conflict"]:
            verdict.append(f"\nconflict: {t['conflict']}", style="red")
        table.add_row(r.item.id, verdict, t["proven_by"], t["findings"], t["tick"], t["waivers"])
    return table


def renderable(run: RunResult, max_rows: int = MAX_ROWS) -> Group:
    return Group(findings_table(run, max_rows), evidence_table(run), summary(run))


def render(run: RunResult, *, color: bool = False, width: int = 120, max_rows: int = MAX_ROWS) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color, highlight=False, soft_wrap=False)
    console.print(renderable(run, max_rows))
    return buf.getvalue()
