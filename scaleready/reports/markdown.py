"""Markdown summary for PR comments and CI logs: scores first, what to fix next, then the rest.

A PR comment is read in seconds, so the order is: headline (score, coverage, level), the
per-area table, roadmap progress, failing findings with their remediation, warnings,
checks that could not run, and only a count of what passed. GitHub caps a comment at 65k
characters; long evidence is therefore left to the JSON/HTML reports.
"""

from __future__ import annotations

from scaleready.api import Finding, Status
from scaleready.evidence import evidence_records, record_texts
from scaleready.reports._common import by_attention, framework_label, short_time, status_counts, subject_label
from scaleready.results import RunResult

_ICON = {Status.FAIL: "❌", Status.WARN: "⚠️", Status.ERROR: "❗", Status.SKIP: "⏭️", Status.PASS: "✅"}
MAX_PER_SECTION = 100


def cell(text: object) -> str:
    """Text safe in a table cell or list item: no pipes breaking columns, no raw HTML, no newlines."""
    s = str(text if text is not None else "").replace("\\", "\\\\").replace("|", "\\|")
    return s.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _bar(fraction: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def _finding(f: Finding) -> list[str]:
    head = f"- {_ICON[f.status]} **{cell(f.title or f.check)}** `{f.check}` on `{subject_label(f)}`"
    head += f" ({f.severity.value})"
    if f.waived:
        head += f" — *waived: {cell(f.waiver_reason or 'no reason given')}*"
    lines = [head, f"  - {cell(f.message)}"]
    if f.location:
        lines.append(f"  - Location: `{f.location}`")
    if f.remediation and f.status in (Status.FAIL, Status.WARN):
        lines.append(f"  - Fix: {cell(f.remediation)}")
    if f.section:
        lines.append(f"  - Guide section {f.section}")
    return lines


def _section(title: str, findings: list[Finding]) -> list[str]:
    if not findings:
        return []
    out = ["", f"### {title} ({len(findings)})", ""]
    for f in findings[:MAX_PER_SECTION]:
        out.extend(_finding(f))
    if len(findings) > MAX_PER_SECTION:
        out.append(f"- … and {len(findings) - MAX_PER_SECTION} more (see the JSON or HTML report)")
    return out


def render(run: RunResult) -> str:
    sc = run.score
    counts = status_counts(run.findings)
    lines = [
        f"## scaleready: {sc.overall:.1f}/100",
        "",
        f"**Score {sc.overall:.1f}** · **coverage {sc.coverage * 100:.0f}%** · **level {sc.level}** · "
        f"framework {framework_label(run)}" + (f" · environment `{run.environment}`" if run.environment else ""),
        "",
        "Findings: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f" · run `{run.id}`",
    ]
    if sc.areas:
        lines += ["", "| Area | Score | Coverage | Items |", "| --- | ---: | ---: | ---: |"]
        for a in sc.areas:
            lines.append(f"| {cell(a.title)} | {a.score:.1f} {_bar(a.score / 100)} | "
                         f"{a.coverage * 100:.0f}% | {len(a.items)} |")
    if sc.phases:
        lines += ["", "**Roadmap:** " + " · ".join(
            f"Phase {p.number} {cell(p.title)} {p.done}/{p.total}{' ✅' if p.complete else ''}"
            for p in sc.phases)]
    lines += _trail(run)
    ordered = by_attention(run.findings)
    active = [f for f in ordered if not f.waived]
    lines += _section("Failing", [f for f in active if f.status == Status.FAIL])
    lines += _section("Warnings", [f for f in active if f.status == Status.WARN])
    lines += _section("Could not evaluate", [f for f in active if f.status == Status.ERROR])
    lines += _section("Waived", [f for f in ordered if f.waived])
    skipped = counts[Status.SKIP.value]
    passed = sum(1 for f in active if f.status == Status.PASS)
    lines += ["", f"{passed} checks passed, {skipped} skipped."]
    lines += _evidence_record(run)
    return "\n".join(lines) + "\n"


def _trail(run: RunResult) -> list[str]:
    """Project, chain head, conflicts and, for a milestone, its sign-offs: what an auditor asks first."""
    head = f"`{run.audit_head}`" if run.audit_head else "not stored yet (kept in the local spool)"
    lines = ["", f"Project `{cell(run.project)}` · audit chain head {head}"]
    if run.milestone:
        signed = "; ".join(f"{cell(s['by'])} ({short_time(s['at'])}){': ' + cell(s['note']) if s.get('note') else ''}"
                           for s in run.milestone.get("signatures") or []) or "not signed yet"
        lines += ["", f"**Milestone {cell(run.milestone.get('name'))}** (sha256 `{run.milestone.get('sha256')}`) · "
                      f"signed off by: {signed}"]
    conflicts = [r for r in evidence_records(run) if r.conflict]
    if conflicts:
        lines += ["", f"**{len(conflicts)} conflict(s):** " + "; ".join(
            f"`{r.item.id}`: {cell(r.conflict)}" for r in conflicts)]
    return lines


def _evidence_record(run: RunResult) -> list[str]:
    records = evidence_records(run)
    if not records:
        return []
    lines = ["", "<details><summary>Evidence record (per item: verdict, checks, findings, tick, waivers)</summary>", "",
             "| Item | Verdict | Proven by | Checks | Findings | Manual tick | Waivers |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        t = record_texts(r, max_findings=3)
        verdict = t["verdict"] + (f" — conflict: {t['conflict']}" if t["conflict"] else "")
        lines.append(f"| `{r.item.id}` | {cell(verdict)} | {cell(t['proven_by'])} | {cell(t['checks'])} | "
                     f"{cell(t['findings'])} | {cell(t['tick'])} | {cell(t['waivers'])} |")
    return [*lines, "", "</details>"]
