"""The drawing toolkit of the PDF report: the fpdf2 document, fonts, lines, tables, contents.

Kept apart from what the report says (`pdf_report`) so each stays small. fpdf2 is imported
lazily: only this format needs it. The font state is cached because fpdf2's ``set_font`` is
costly even when nothing changes, and a 6,000-finding report calls it tens of thousands of times.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from scaleready.api import Status
from scaleready.results import RunResult

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
STATUS_COLOR = {Status.FAIL: (180, 35, 24), Status.WARN: (181, 71, 8), Status.ERROR: (122, 46, 152),
          Status.SKIP: (102, 112, 133), Status.PASS: (6, 118, 71)}
VERDICT_COLOR = {"pass": (6, 118, 71), "warn": (181, 71, 8), "fail": (180, 35, 24), "unknown": (102, 112, 133)}
INK, GREY, MUTED = (16, 24, 40), (71, 84, 103), (102, 112, 133)
MAX_EVIDENCE_ROWS = 12
TOTAL_PAGES = "{pages}"  # wider than "{nb}": room for a four-digit page count
MAX_RECORD_FINDINGS = 8


def fpdf_module():  # imported lazily: only this format needs fpdf2
    try:
        import fpdf
    except ImportError as exc:  # pragma: no cover - fpdf2 is a declared dependency
        raise RuntimeError("the pdf format needs the fpdf2 package (pip install fpdf2)") from exc
    return fpdf


def _document_class() -> type:
    fpdf = fpdf_module()

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


class Doc:
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
        headings = fpdf_module().FontFace(emphasis="BOLD", fill_color=(242, 244, 247))
        with self.pdf.table(col_widths=widths, first_row_as_headings=True, line_height=size * 0.55,
                            headings_style=headings) as table:
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


def score_color(value: float) -> tuple[int, int, int]:
    return (6, 118, 71) if value >= 80 else (181, 71, 8) if value >= 50 else (180, 35, 24)


def contents_renderer(doc: Doc) -> Any:
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
