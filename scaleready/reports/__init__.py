"""Report formats: every way a finished run is written out, behind one `render` call.

The CLI (`check --format`, `report --format`), the dashboard's downloads and the tests all
go through `render(run, fmt)`, so a format behaves the same wherever it is asked for. Each
format lives in its own small module; `FORMATS` names them with the file extension and the
media type a caller needs to write or serve the result. Keyword options are passed through
to the format (e.g. ``render(run, "table", color=True)``, ``render(run, "sarif",
include_all=True, artifact="scaleready.yaml")``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scaleready.results import RunResult

__all__ = ["ALIASES", "FORMATS", "Format", "render"]


@dataclass(frozen=True)
class Format:
    name: str
    module: str
    extension: str
    media_type: str
    binary: bool = False
    description: str = ""

    @property
    def renderer(self) -> Callable[..., str | bytes]:
        return importlib.import_module(f"scaleready.reports.{self.module}").render


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("table", "table", "txt", "text/plain", description="terminal table, status coloured"),
        Format("json", "json_report", "json", "application/json", description="machine-readable run"),
        Format("sarif", "sarif", "sarif", "application/sarif+json", description="SARIF 2.1.0 for code scanning"),
        Format("junit", "junit", "xml", "application/xml", description="JUnit XML, a suite per area"),
        Format("markdown", "markdown", "md", "text/markdown", description="summary for PR comments and CI logs"),
        Format("html", "html_report", "html", "text/html", description="self-contained audit report"),
        Format("pdf", "pdf_report", "pdf", "application/pdf", binary=True, description="printable audit report"),
    )
}
ALIASES = {"md": "markdown", "xml": "junit", "txt": "table", "text": "table", "htm": "html"}


def get_format(fmt: str) -> Format:
    name = ALIASES.get(fmt.lower(), fmt.lower())
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}") from None


def render(run: RunResult, fmt: str, **options: Any) -> str | bytes:
    """Render a run in a format: `str` for text formats, `bytes` for pdf."""
    return get_format(fmt).renderer(run, **options)
