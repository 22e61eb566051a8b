"""The PDF audit report, drawn with fpdf2 (pure Python, no browser or system libraries).

A document a person files: a cover page (project, run, score, chain head, sign-off state), a
table of contents with page numbers, "page N of M" on every page, then what the HTML report
carries, laid out for paper: summary with the area chart, roadmap progress, the security
checklist, the evidence record of every item, findings grouped by area with their evidence as
key/value lines, waivers, snapshot hashes, the audit chain head and, for a milestone, a
signature block. DejaVu Sans is used when the system has it (full Unicode); otherwise the
built-in Helvetica with text folded to Latin-1, so the report renders on any machine.
"""

from __future__ import annotations

from scaleready.api import Finding, Status
from scaleready.evidence import EvidenceRecord
from scaleready.reports._common import (
    duration_seconds,
    flatten_evidence,
    framework_label,
    iso,
    short_time,
    status_counts,
    subject_label,
)
from scaleready.reports._pdf_layout import (
    GREY,
    INK,
    MAX_EVIDENCE_ROWS,
    MAX_RECORD_FINDINGS,
    MUTED,
    STATUS_COLOR,
    VERDICT_COLOR,
    Doc,
    contents_renderer,
    score_color,
)
from scaleready.reports.html_report import SECURITY_AREA, findings_by_area, records_by_area
from scaleready.results import RunResult


def _cover(doc: Doc, run: RunResult) -> None:
    pdf, sc = doc.pdf, run.score
    pdf.add_page()
    pdf.set_y(45)
    doc.line("Scaling-readiness audit report", 26, bold=True, height=13)
    if run.milestone:
        doc.line(f"Milestone “{run.milestone.get('name')}”", 16, bold=True, color=(21, 112, 239), height=9)
    pdf.ln(4)
    for label, value in (("Project", run.project), ("Framework", framework_label(run)),
                         ("Environment", run.environment or "-"), ("Run", run.id),
                         ("Checked", f"{short_time(iso(run.started_at))} ({duration_seconds(run):.1f} s)")):
        doc.font(10, color=GREY)
        pdf.cell(35, 7, doc.text(label))
        doc.font(11, bold=True)
        pdf.cell(0, 7, doc.text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    y = pdf.get_y()
    for i, (label, value, color) in enumerate((("Overall score", f"{sc.overall:.1f}", score_color(sc.overall)),
                                               ("Coverage", f"{sc.coverage * 100:.0f}%", INK),
                                               ("Readiness level", str(sc.level), INK))):
        x = pdf.l_margin + i * 62
        pdf.set_draw_color(208, 213, 221)
        pdf.rect(x, y, 56, 30, round_corners=True)
        pdf.set_xy(x + 4, y + 4)
        doc.font(9, color=GREY)
        pdf.cell(48, 5, doc.text(label.upper()))
        pdf.set_xy(x + 4, y + 12)
        doc.font(24, bold=True, color=color)
        pdf.cell(48, 12, doc.text(value))
    pdf.set_y(y + 38)
    doc.line("Findings: " + ", ".join(f"{n} {s}" for s, n in status_counts(run.findings).items()), 11)
    pdf.ln(6)
    doc.line("Audit chain head", 9, bold=True, color=GREY)
    doc.line(run.audit_head or "not stored yet (kept in the local spool)", 9, color=INK)
    pdf.ln(4)
    if run.milestone:
        signatures = run.milestone.get("signatures") or []
        doc.line("Sign-off", 9, bold=True, color=GREY)
        doc.line("; ".join(f"{s['by']} ({short_time(s['at'])})" for s in signatures) or "not signed yet", 11,
                 bold=bool(signatures))


def _summary(doc: Doc, run: RunResult) -> None:
    sc, pdf = run.score, doc.pdf
    doc.section("Summary")  # the table-of-contents placeholder already opened a fresh page
    doc.line(f"Overall score {sc.overall:.1f}/100   Coverage {sc.coverage * 100:.0f}%   Level {sc.level}", 13,
             bold=True)
    doc.line("Findings: " + ", ".join(f"{n} {s}" for s, n in status_counts(run.findings).items()), 10)
    waived = sum(1 for f in run.findings if f.waived)
    if waived:
        doc.line(f"{waived} finding(s) are waived and listed with their reason.", 9, color=GREY)
    doc.line("Coverage is the share of framework items with real evidence; unknown (error/skip) evidence never "
             "counts as a pass.", 9, color=GREY)
    if not sc.areas:
        return
    doc.section("Areas", level=1)
    label_w, plot_w = 62, pdf.epw - 62 - 14
    for area in sc.areas:
        if pdf.will_page_break(7):
            pdf.add_page()
        y = pdf.get_y()
        doc.font(9)
        pdf.cell(label_w - 2, 6, doc.text(area.title), align="R")
        score = max(0.0, min(100.0, round(area.score, 1)))
        pdf.set_fill_color(*score_color(score))
        if score:
            pdf.rect(pdf.l_margin + label_w, y + 1.2, plot_w * score / 100, 3.6, style="F")
        cov = max(0.0, min(1.0, round(area.coverage, 3)))
        cx = pdf.l_margin + label_w + plot_w * cov
        pdf.set_fill_color(*INK)
        pdf.polygon([(cx, y + 0.6), (cx + 2.4, y + 3), (cx, y + 5.4), (cx - 2.4, y + 3)], style="F")
        pdf.set_xy(pdf.l_margin + label_w + plot_w * score / 100 + 3, y)
        doc.font(8, color=GREY)
        pdf.cell(12, 6, f"{area.score:.0f}", new_x="LMARGIN", new_y="NEXT")
    doc.line("Bars: score per area (0-100). Diamonds: coverage.", 8, color=MUTED)
    pdf.ln(2)
    doc.table(["Area", "Score", "Coverage", "Items"],
              [[a.title, f"{a.score:.1f}", f"{a.coverage * 100:.0f}%", str(len(a.items))] for a in sc.areas],
              (100, 25, 30, 25))


def _roadmap(doc: Doc, run: RunResult) -> None:
    if not run.score.phases:
        return
    doc.section("Roadmap progress")
    for p in run.score.phases:
        doc.font(10, bold=True)
        doc.pdf.cell(80, 7, doc.text(f"Phase {p.number}: {p.title}"))
        doc.font(10)
        doc.pdf.cell(25, 7, f"{p.done} / {p.total}")
        doc.bar(p.done / p.total if p.total else 0, 50, 4, (6, 118, 71) if p.complete else (21, 112, 239))
        doc.pdf.ln(7)
    doc.line(f"Readiness level {run.score.level}: a phase counts once all its items pass, in order.", 9, color=GREY)


def _record(doc: Doc, r: EvidenceRecord) -> None:
    pdf = doc.pdf
    if pdf.will_page_break(24):
        pdf.add_page()
    doc.font(9, bold=True, color=VERDICT_COLOR.get(r.item.status, INK))
    pdf.cell(23, 5.5, "N/A" if r.item.status == "not_applicable" else r.item.status.upper())
    doc.font(10, bold=True)
    pdf.multi_cell(0, 5.5, doc.text(f"{r.item.title}  ({r.item.id}, § {r.item.section})"),
                   new_x="LMARGIN", new_y="NEXT", align="L")
    facts = [("Verdict", f"{r.item.status}, from {r.proven_by}"),
             ("Checks", ", ".join(r.item.checks) or "none: a manual item")]
    if r.findings:
        shown = r.findings[:MAX_RECORD_FINDINGS]
        more = len(r.findings) - len(shown)
        facts.append(("Findings", "; ".join(f"{f.status.value} {subject_label(f)}" + (" (waived)" if f.waived else "")
                                            for f in shown) + (f"; and {more} more" if more else "")))
    elif r.item.checks:
        facts.append(("Findings", "none in this run"))
    t = r.tick
    facts.append(("Manual tick", f"{t.state} by {t.actor}, {short_time(t.at)}" + (f": {t.note}" if t.note else "")
                  if t else "none"))
    if r.waivers:
        facts.append(("Waivers", "; ".join(
            f"{w.reason} ({w.actor or w.source}, expires {w.expires or 'never'}{', EXPIRED' if w.expired else ''})"
            for w in r.waivers)))
    if r.conflict:
        facts.append(("CONFLICT", r.conflict))
    for key, value in facts:
        doc.font(8.5, bold=key == "CONFLICT", color=(180, 35, 24) if key == "CONFLICT" else GREY)
        pdf.set_x(pdf.l_margin + 23)
        pdf.cell(24, 4.6, doc.text(key))
        doc.font(8.5, color=(180, 35, 24) if key == "CONFLICT" else INK)
        pdf.multi_cell(0, 4.6, doc.text(value), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1.5)


def _finding(doc: Doc, f: Finding) -> None:
    pdf = doc.pdf
    if pdf.will_page_break(20):
        pdf.add_page()
    doc.line(f"{f.status.value.upper()}  {f.title or f.check}", 10, bold=True, color=STATUS_COLOR[f.status])
    meta = f"{f.check} on {subject_label(f)} - severity {f.severity.value}"
    if f.section:
        meta += f" - guide section {f.section}"
    if f.waived:
        meta += f" - WAIVED: {f.waiver_reason or 'no reason given'}"
    doc.line(meta, 8.5, color=GREY, height=4.6)
    doc.line(f.message, 9.5, height=5)
    if f.location:
        doc.line(f"Location: {f.location}", 8.5, height=4.6)
    if f.evidence:
        rows, hidden = flatten_evidence(f.evidence, MAX_EVIDENCE_ROWS)
        for key, value in rows:
            doc.font(8, color=GREY)
            pdf.set_x(pdf.l_margin + 4)
            key_w = 30.0 if len(key) < 16 else min(70.0, pdf.get_string_width(doc.text(key)) + 3)
            pdf.cell(key_w, 4.2, doc.text(key))
            doc.font(8)
            value_text = doc.text(value)
            if doc.fits(value_text, pdf.epw - 4 - key_w - 1, 8):
                pdf.cell(0, 4.2, value_text, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.multi_cell(0, 4.2, value_text, new_x="LMARGIN", new_y="NEXT", align="L")
        if hidden:
            doc.line(f"... {hidden} more evidence value(s): see the JSON report", 8, color=MUTED, height=4.2, indent=4)
    if f.remediation and f.status in (Status.FAIL, Status.WARN):
        doc.line(f"Remediation: {f.remediation}", 8.5, color=(6, 118, 71), height=4.6)
    pdf.ln(1.5)


def _trail(doc: Doc, run: RunResult) -> None:
    doc.section("Waivers")
    if run.waivers:
        doc.table(["Waiver", "Check", "Target / subject", "Reason", "By", "Expires"],
                  [[w.id, w.check, f"{w.target} / {w.subject}", w.reason, w.actor or w.source,
                    (w.expires or "never") + (" EXPIRED" if w.expired else "")] for w in run.waivers],
                  (20, 36, 30, 50, 22, 22))
    else:
        doc.line("No waivers were known to this run.", 10)
    doc.section("Evidence snapshots")
    if run.snapshots:
        doc.table(["Target", "Kind", "sha256", "Error"],
                  [[s.target, s.kind, s.sha256, s.error or ""] for s in run.snapshots], (35, 22, 88, 35))
        doc.line("Each hash is the sha256 of the snapshot's canonical JSON as stored.", 8.5, color=GREY)
    else:
        doc.line("No snapshots were recorded with this run.", 10)
    doc.section("Audit trail")
    doc.line("Audit chain head", 10, bold=True)
    doc.line(run.audit_head or "not stored yet: this run was kept in the local spool", 9)
    doc.line("Every tick, waiver, stored run and sign-off is an event in a hash-chained log; "
             "`scaleready audit verify` proves the chain intact up to this head.", 8.5, color=GREY)


def _signoff(doc: Doc, run: RunResult) -> None:
    m = run.milestone
    if not m:
        return
    pdf = doc.pdf
    doc.section("Sign-off")
    doc.line(f"Milestone {m.get('name')} created {short_time(m.get('created_at'))} by {m.get('by')}"
             + (f": {m.get('note')}" if m.get("note") else ""), 10)
    doc.line(f"Frozen document sha256 {m.get('sha256')}", 8.5, color=GREY)
    pdf.ln(4)
    signatures = m.get("signatures") or []
    if not signatures:
        doc.line("Not signed yet.", 11, bold=True)
    for s in signatures:
        if pdf.will_page_break(30):
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_draw_color(*INK)
        pdf.rect(pdf.l_margin, y, pdf.epw, 26)
        pdf.set_xy(pdf.l_margin + 4, y + 3)
        doc.font(11, bold=True)
        pdf.cell(90, 6, doc.text(f"Signed by {s['by']}"))
        doc.font(10)
        pdf.cell(0, 6, doc.text(short_time(s["at"])), new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(pdf.l_margin + 4)
        doc.font(9)
        pdf.multi_cell(pdf.epw - 8, 5, doc.text(s.get("note") or ""), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_xy(pdf.l_margin + 4, y + 19)
        doc.font(7.5, color=GREY)
        pdf.cell(0, 4, doc.text(f"audit event {s.get('event_hash', '')}"))
        pdf.set_y(y + 30)


def render(run: RunResult, *, unicode_font: bool = True) -> bytes:
    """The PDF bytes; ``unicode_font=False`` forces the built-in Latin-1 font."""
    doc = Doc(run, unicode_font)
    _cover(doc, run)
    doc.pdf.add_page()  # the placeholder takes the current page: keep the cover
    doc.pdf.insert_toc_placeholder(contents_renderer(doc), pages=1, allow_extra_pages=True, reset_page_indices=False)
    _summary(doc, run)
    _roadmap(doc, run)
    by_area = records_by_area(run)
    security = next((r for a, _, r in by_area if a == SECURITY_AREA), [])
    if security:
        doc.section("Security checklist", new_page=True)
        for r in security:
            _record(doc, r)
    if by_area:
        doc.section("Evidence record", new_page=True)
        doc.line("Per item: verdict and how it was reached, checks and their findings, the manual tick (who, when, "
                 "why), waivers that applied or expired, and conflicts between a tick and the live evidence.",
                 9, color=GREY)
        for _, title, records in by_area:
            doc.section(title, level=1)
            for r in records:
                _record(doc, r)
    doc.section("Findings by area", new_page=True)
    groups = findings_by_area(run)
    if not groups:
        doc.line("No findings were recorded in this run.", 10)
    for _, title, findings in groups:
        doc.section(f"{title} ({len(findings)})", level=1)
        for f in findings:
            _finding(doc, f)
    _trail(doc, run)
    _signoff(doc, run)
    return bytes(doc.pdf.output())
