"""The PDF audit report, drawn with fpdf2 (pure Python, no browser or system libraries).

It carries what the HTML report carries, laid out for paper: summary, areas, roadmap,
findings worst first with evidence and remediation, and the snapshot hashes. DejaVu Sans
is used when the system has it (full Unicode); otherwise the built-in Helvetica with text
folded to Latin-1, so the report renders on any machine.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from scaleready.api import Status
from scaleready.reports._common import (
    by_attention,
    duration_seconds,
    framework_label,
    iso,
    status_counts,
    subject_label,
)
from scaleready.results import RunResult

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_COLOR = {Status.FAIL: (180, 35, 24), Status.WARN: (181, 71, 8), Status.ERROR: (122, 46, 152),
          Status.SKIP: (102, 112, 133), Status.PASS: (6, 118, 71)}
MAX_EVIDENCE = 1500


def _fpdf():  # imported lazily: only this format needs fpdf2
    try:
        import fpdf
    except ImportError as exc:  # pragma: no cover - fpdf2 is a declared dependency
        raise RuntimeError("the pdf format needs the fpdf2 package (pip install fpdf2)") from exc
    return fpdf


class _Doc:
    def __init__(self, unicode_font: bool = True) -> None:
        fpdf = _fpdf()
        self.pdf = fpdf.FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_margins(15, 15, 15)
        self.unicode = False
        for d in _FONT_DIRS if unicode_font else ():
            regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                self.pdf.add_font("Body", "", str(regular))
                self.pdf.add_font("Body", "B", str(bold))
                self.unicode = True
                break
        self.family = "Body" if self.unicode else "Helvetica"
        self.pdf.add_page()

    def text(self, value: object) -> str:
        s = str(value if value is not None else "")
        if self.unicode:
            return s
        folded = unicodedata.normalize("NFKD", s)
        return folded.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = (16, 24, 40)) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def line(self, value: object, size: float = 10, bold: bool = False,
             color: tuple[int, int, int] = (16, 24, 40), height: float = 5.5) -> None:
        self.font(size, bold, color)
        text = self.text(value)
        # A one-line cell costs a fraction of multi_cell's line breaking: use it when the text fits.
        if "\n" not in text and self.pdf.get_string_width(text) < self.pdf.epw - 1:
            self.pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
        else:
            self.pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    def heading(self, value: str) -> None:
        self.pdf.ln(3)
        self.line(value, 14, bold=True)
        self.pdf.ln(1)

    def table(self, header: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
        self.font(9)
        with self.pdf.table(col_widths=widths, first_row_as_headings=True, line_height=5.5) as table:
            for row in [header, *rows]:
                r = table.row()
                for value in row:
                    r.cell(self.text(value))
        self.pdf.ln(2)


def render(run: RunResult, *, unicode_font: bool = True) -> bytes:
    """The PDF bytes; ``unicode_font=False`` forces the built-in Latin-1 font."""
    doc = _Doc(unicode_font)
    sc = run.score
    doc.line("Scaling-readiness audit report", 18, bold=True, height=9)
    doc.line(f"Run {run.id} - {framework_label(run)}"
             + (f" - environment {run.environment}" if run.environment else ""), 10, color=(71, 84, 103))
    doc.line(f"Started {iso(run.started_at)}"
             + (f", finished {iso(run.finished_at)} ({duration_seconds(run):.1f} s)" if run.finished_at else ""),
             10, color=(71, 84, 103))
    doc.pdf.ln(3)
    doc.line(f"Overall score {sc.overall:.1f}/100   Coverage {sc.coverage * 100:.0f}%   Level {sc.level}", 13,
             bold=True)
    doc.line("Findings: " + ", ".join(f"{n} {s}" for s, n in status_counts(run.findings).items()), 10)

    if sc.areas:
        doc.heading("Areas")
        doc.table(["Area", "Score", "Coverage", "Items"],
                  [[a.title, f"{a.score:.1f}", f"{a.coverage * 100:.0f}%", str(len(a.items))] for a in sc.areas],
                  (90, 30, 30, 30))
    if sc.phases:
        doc.heading("Roadmap")
        doc.table(["Phase", "Title", "Done", "Complete"],
                  [[str(p.number), p.title, f"{p.done}/{p.total}", "yes" if p.complete else "no"]
                   for p in sc.phases], (20, 100, 30, 30))

    doc.heading("Findings")
    for f in by_attention(run.findings):
        head = f"{f.status.value.upper()}  {f.title or f.check}"
        doc.line(head, 11, bold=True, color=_COLOR[f.status])
        meta = f"{f.check} on {subject_label(f)} - severity {f.severity.value}"
        if f.section:
            meta += f" - guide section {f.section}"
        if f.waived:
            meta += f" - WAIVED: {f.waiver_reason or 'no reason given'}"
        doc.line(meta, 9, color=(71, 84, 103))
        doc.line(f.message, 10)
        if f.location:
            doc.line(f"Location: {f.location}", 9)
        if f.evidence:
            evidence = json.dumps(f.evidence, sort_keys=True, ensure_ascii=False, default=str)
            if len(evidence) > MAX_EVIDENCE:
                evidence = evidence[:MAX_EVIDENCE] + " ... (truncated; see the JSON report)"
            doc.line(f"Evidence: {evidence}", 8, color=(52, 64, 84), height=4.5)
        if f.remediation and f.status in (Status.FAIL, Status.WARN):
            doc.line(f"Remediation: {f.remediation}", 9, color=(6, 118, 71))
        doc.pdf.ln(2)

    doc.heading("Evidence snapshots")
    if run.snapshots:
        doc.table(["Target", "Kind", "sha256", "Error"],
                  [[s.target, s.kind, s.sha256, s.error or ""] for s in run.snapshots], (35, 25, 85, 35))
    else:
        doc.line("No snapshots were recorded with this run.", 10)
    return bytes(doc.pdf.output())
