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

import unicodedata
from pathlib import Path
from typing import Any

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
from scaleready.reports.html_report import SECURITY_AREA, findings_by_area, records_by_area
from scaleready.results import RunResult

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_COLOR = {Status.FAIL: (180, 35, 24), Status.WARN: (181, 71, 8), Status.ERROR: (122, 46, 152),
          Status.SKIP: (102, 112, 133), Status.PASS: (6, 118, 71)}
_VERDICT_COLOR = {"pass": (6, 118, 71), "warn": (181, 71, 8), "fail": (180, 35, 24), "unknown": (102, 112, 133)}
INK, GREY, MUTED = (16, 24, 40), (71, 84, 103), (102, 112, 133)
MAX_EVIDENCE_ROWS = 12
TOTAL_PAGES = "{pages}"  # wider than "{nb}": room for a four-digit page count
MAX_RECORD_FINDINGS = 8


def _fpdf():  # imported lazily: only this format needs fpdf2
    try:
        import fpdf
    except ImportError as exc:  # pragma: no cover - fpdf2 is a declared dependency
        raise RuntimeError("the pdf format needs the fpdf2 package (pip install fpdf2)") from exc
    return fpdf


def _document_class() -> type:
    fpdf = _fpdf()

    class Report(fpdf.FPDF):
        """FPDF with the report's running footer: who and what on the left, page N of M on the right."""

        footer_text = ""
        family = "Helvetica"

        def footer(self) -> None:
            if self.page_no() == 1:  # the cover carries no footer
                return
            self.set_y(-12)
            self.set_font(self.family, "", 8)
            self.set_text_color(*MUTED)
            self.cell(self.epw / 2, 5, self.footer_text, align="L")
            self.cell(self.epw / 2, 5, f"Page {self.page_no()} of {TOTAL_PAGES}", align="R")

    return Report


class _Doc:
    def __init__(self, run: RunResult, unicode_font: bool = True) -> None:
        self.pdf = _document_class()(format="A4")
        self.pdf.alias_nb_pages(TOTAL_PAGES)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_title(f"scaleready audit report {run.id}")
        self.pdf.set_creator("scaleready")
        self.unicode = False
        for d in _FONT_DIRS if unicode_font else ():
            regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                self.pdf.add_font("Body", "", str(regular))
                self.pdf.add_font("Body", "B", str(bold))
                self.unicode = True
                break
        self.family = "Body" if self.unicode else "Helvetica"
        self.pdf.family = self.family
        self._font: tuple[float, bool] | None = None
        self._color: tuple[int, int, int] | None = None
        self.pdf.footer_text = self.text(f"scaleready audit report · project {run.project} · run {run.id[:8]}")

    def text(self, value: object) -> str:
        s = str(value if value is not None else "")
        if self.unicode:
            return s
        folded = unicodedata.normalize("NFKD", s.replace("·", "-").replace("…", "..."))
        return folded.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        # set_font is costly in fpdf2 even when nothing changes; thousands of findings call this
        if self._font != (size, bold):
            self.pdf.set_font(self.family, "B" if bold else "", size)
            self._font = (size, bold)
        if self._color != color:
            self.pdf.set_text_color(*color)
            self._color = color

    def fits(self, text: str, width: float, size: float) -> bool:
        """Whether one line holds the text: a cheap bound first (no glyph is wider than 0.75 em),
        the real measurement only for texts near the limit."""
        if len(text) * size * 0.265 < width:
            return True
        return self.pdf.get_string_width(text) < width

    def line(self, value: object, size: float = 10, bold: bool = False, color: tuple[int, int, int] = INK,
             height: float = 5.5, indent: float = 0) -> None:
        self.font(size, bold, color)
        text = self.text(value)
        if indent:
            self.pdf.set_x(self.pdf.l_margin + indent)
        width = self.pdf.epw - indent
        # A one-line cell costs a fraction of multi_cell's line breaking: use it when the text fits.
        if "\n" not in text and self.fits(text, width - 1, size):
            self.pdf.cell(width, height, text, new_x="LMARGIN", new_y="NEXT")
        else:
            self.pdf.multi_cell(width, height, text, new_x="LMARGIN", new_y="NEXT", align="L")

    def section(self, title: str, level: int = 0, new_page: bool = False) -> None:
        """A heading that is also an entry of the outline and the table of contents."""
        if new_page or self.pdf.will_page_break(22):
            self.pdf.add_page()
        self.pdf.ln(3 if level or self.pdf.get_y() > self.pdf.t_margin + 1 else 0)
        self.pdf.start_section(self.text(title), level=level)
        self.line(title, 15 if level == 0 else 12, bold=True)
        self.pdf.ln(1)

    def table(self, header: list[str], rows: list[list[str]], widths: tuple[int, ...], size: float = 8.5) -> None:
        self.font(size)
        self.pdf.set_fill_color(255, 255, 255)  # the chart's last fill must not leak into the cells
        self.pdf.set_draw_color(208, 213, 221)
        with self.pdf.table(col_widths=widths, first_row_as_headings=True, line_height=size * 0.55,
                            headings_style=_fpdf().FontFace(emphasis="BOLD", fill_color=(242, 244, 247))) as table:
            for row in [header, *rows]:
                r = table.row()
                for value in row:
                    r.cell(self.text(value))
        self._font = self._color = None  # the table set its own fonts
        self.pdf.ln(2)

    def bar(self, fraction: float, width: float = 60, height: float = 3.5,
            color: tuple[int, int, int] = (21, 112, 239)) -> None:
        x, y = self.pdf.get_x(), self.pdf.get_y() + 1
        self.pdf.set_fill_color(234, 236, 240)
        self.pdf.rect(x, y, width, height, style="F")
        self.pdf.set_fill_color(*color)
        if fraction > 0:
            self.pdf.rect(x, y, width * max(0.0, min(1.0, fraction)), height, style="F")


def _score_color(value: float) -> tuple[int, int, int]:
    return (6, 118, 71) if value >= 80 else (181, 71, 8) if value >= 50 else (180, 35, 24)


def _render_toc(doc: _Doc) -> Any:
    def render_toc(pdf: Any, outline: list[Any]) -> None:
        pdf.set_xy(pdf.l_margin, pdf.t_margin)
        doc.line("Contents", 18, bold=True, height=10)
        pdf.ln(3)
        for entry in outline:
            size = 11 if entry.level == 0 else 9.5
            doc.font(size, bold=entry.level == 0, color=INK if entry.level == 0 else GREY)
            indent = 8 * entry.level
            link = pdf.add_link(page=entry.page_number)
            pdf.set_x(pdf.l_margin + indent)
            name = doc.text(entry.name)
            number = str(entry.page_number)
            name_w = pdf.get_string_width(name) + 2
            dots_w = pdf.epw - indent - name_w - 10
            pdf.cell(name_w, 6.5 if entry.level == 0 else 5.5, name, link=link)
            doc.font(size, color=MUTED)
            dots = "." * max(2, int((dots_w - 2) / max(pdf.get_string_width("."), 0.1)))
            pdf.cell(dots_w, 6.5 if entry.level == 0 else 5.5, dots, link=link)
            doc.font(size, bold=entry.level == 0, color=INK)
            pdf.cell(0, 6.5 if entry.level == 0 else 5.5, number, align="R", link=link, new_x="LMARGIN", new_y="NEXT")

    return render_toc


def _cover(doc: _Doc, run: RunResult) -> None:
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
    for i, (label, value, color) in enumerate((("Overall score", f"{sc.overall:.1f}", _score_color(sc.overall)),
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


def _summary(doc: _Doc, run: RunResult) -> None:
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
        pdf.set_fill_color(*_score_color(score))
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


def _roadmap(doc: _Doc, run: RunResult) -> None:
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


def _record(doc: _Doc, r: EvidenceRecord) -> None:
    pdf = doc.pdf
    if pdf.will_page_break(24):
        pdf.add_page()
    doc.font(9, bold=True, color=_VERDICT_COLOR.get(r.item.status, INK))
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


def _finding(doc: _Doc, f: Finding) -> None:
    pdf = doc.pdf
    if pdf.will_page_break(20):
        pdf.add_page()
    doc.line(f"{f.status.value.upper()}  {f.title or f.check}", 10, bold=True, color=_COLOR[f.status])
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


def _trail(doc: _Doc, run: RunResult) -> None:
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


def _signoff(doc: _Doc, run: RunResult) -> None:
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
    doc = _Doc(run, unicode_font)
    _cover(doc, run)
    doc.pdf.add_page()  # the placeholder takes the current page: keep the cover
    doc.pdf.insert_toc_placeholder(_render_toc(doc), pages=1, allow_extra_pages=True, reset_page_indices=False)
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
