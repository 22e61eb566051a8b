"""Human formats: markdown, table, html and pdf say what matters, in the right order, safely."""

from __future__ import annotations

import re
import zlib
from html.parser import HTMLParser

import pytest

from scaleready.reports import FORMATS, get_format, render


def test_registry(run):
    assert set(FORMATS) == {"table", "json", "sarif", "junit", "markdown", "html", "pdf"}
    for name, fmt in FORMATS.items():
        out = render(run, name)
        assert isinstance(out, bytes if fmt.binary else str) and out
    assert get_format("md").name == "markdown"
    with pytest.raises(ValueError, match="unknown report format 'yaml'"):
        render(run, "yaml")


def test_markdown(run):
    md = render(run, "markdown")
    assert md.startswith("## scaleready: 37.5/100")
    assert "**coverage 62%**" in md and "**level 0**" in md
    assert "| Security checklist | 33.3" in md
    # failing before warnings before errors; passes only counted
    order = [md.index(h) for h in ("### Failing (2)", "### Warnings (1)", "### Could not evaluate (1)",
                                   "### Waived (1)")]
    assert order == sorted(order)
    failing = md[md.index("### Failing"):md.index("### Warnings")]
    assert failing.index("http.rate_limit") < failing.index("gitops.canary")  # danger first
    assert "Fix: Enforce 1000 requests/min/IP" in failing
    assert "Location: `k8s/canary.yaml:12`" in failing
    assert "AnalysisTemplate \\| with" in failing
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "waived: legacy API retired in Q3" in md
    assert "2 checks passed, 1 skipped." in md
    assert "work_mem is 16MB" not in md


def test_table_plain_and_coloured(run):
    plain = render(run, "table")
    assert "\x1b[" not in plain
    lines = plain.split("Evidence record")[0].splitlines()
    rows = [ln for ln in lines if ln.startswith("│ ") and ln.split("│")[1].strip()]
    statuses = [r.split("│")[1].strip().split()[0] for r in rows]
    assert statuses == ["FAIL", "FAIL", "FAIL", "WARN", "ERROR", "SKIP", "PASS", "PASS"]
    assert "FAIL (waived)" in plain
    assert "Score 37.5/100  coverage 62%  level 0" in plain
    assert "3 fail  1 warn  1 error  1 skip  2 pass  (1 waived)" in plain
    cut = render(run, "table", max_rows=3)
    assert "FAIL (waived)" in cut and "WARN" not in cut.split("Evidence record")[0]
    evidence = plain.split("Evidence record")[1]
    assert "security.rate_limiting" in evidence and "live evidence" in evidence and "no evidence yet" in evidence
    assert "audit chain head not stored yet" in plain
    assert "5 more findings not shown (1 warn, 1 error, 1 skip, 2 pass)" in cut
    coloured = render(run, "table", color=True)
    assert "\x1b[1;31mFAIL" in coloured and "\x1b[32mPASS" in coloured


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href"):
                self.urls.append(v or "")
            if k == "id":
                self.ids.add(v or "")


def test_html_is_self_contained_and_complete(run):
    page = render(run, "html")
    parsed = _Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert all(url.startswith("#") and url[1:] in parsed.ids for url in parsed.urls)  # in-page links only
    assert "<style>" in page and "<svg" in page  # the area chart is inline SVG
    assert {"summary", "areas", "roadmap", "security", "items", "findings", "waivers", "snapshots",
            "audit"} <= parsed.ids
    assert re.search(r'id="overall">37\.5<', page) and 'id="coverage">62%<' in page
    assert "Quick Wins" in page and "0 / 3" in page
    items = page[page.index('id="items"'):page.index('id="findings"')]
    assert "<code>http.latency</code> <code>prometheus.p99</code>" in items
    assert "live evidence" in items and "no evidence yet" in items
    for s in run.snapshots:
        assert s.sha256 in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "legacy API retired in Q3" in page
    # evidence as key/value rows, not a JSON dump
    assert '<td class="k">p99_ms</td><td>420</td>' in page and '<td class="k">answers.alg_none</td>' in page
    assert "&#34;p99_ms&#34;" not in page
    by_area = page[page.index('id="findings"'):]
    security = by_area[by_area.index("<h3>Security checklist"):by_area.index("<h3>Implementation roadmap")]
    assert security.index('class="finding fail"') < security.index('class="finding pass"')
    for f in run.findings:
        assert f"finding-{f.fingerprint}" in parsed.ids


def _pdf_text(data: bytes) -> str:
    chunks = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)).decode("latin-1"))
        except zlib.error:
            chunks.append(m.group(1).decode("latin-1"))
    return "\n".join(chunks)


def test_pdf(run):
    data = render(run, "pdf")
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    core = render(run, "pdf", unicode_font=False)
    text = _pdf_text(core)
    for needle in ("Overall score 37.5/100", "Rate limiting is enforced", "Evidence snapshots",
                   run.snapshots[0].sha256[:20], "WAIVED: legacy API retired in Q3"):
        assert needle in text, needle
    assert len(re.findall(rb"/Type /Page\b", core)) >= 2
