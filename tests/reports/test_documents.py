"""The HTML and PDF reports as documents: offline in a real browser, and a PDF a person can file.

The run is real (the bundled sample app checked into a store), ticked, frozen as a milestone
and signed, so the cover, the evidence record and the signature block carry real data.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from scaleready import milestones
from scaleready.demo import demo_config
from scaleready.reports import render
from scaleready.runner import execute
from scaleready.store import Store
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS

SHOTS = Path(__file__).resolve().parents[2] / "shots"


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'store.db'}")
    store.set_item_state("scaling-guide", "principles.horizontal_stateless", "done", "ana",
                         "HPA everywhere but the legacy worker")
    store.set_item_state("scaling-guide", "comm.circuit_breaker", "done", "bo", "breaker PR #42")
    execute(demo_config(), store=store)
    milestones.create(store, "Q4 readiness", "ana", "before the launch")
    return milestones.as_run(milestones.sign(store, "Q4 readiness", "Carla CTO", "Approved; residual risk accepted"))


def test_html_renders_fully_with_the_network_off(signed_run, tmp_path):
    from playwright.sync_api import sync_playwright

    html = tmp_path / "report.html"
    html.write_text(render(signed_run, "html"))
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri(), wait_until="load")
        chart = page.locator("svg.chart").bounding_box()
        sections = {s: page.locator(f"#{s}").is_visible() for s in
                    ("summary", "areas", "roadmap", "security", "items", "findings", "waivers", "snapshots", "audit",
                     "signoff")}
        signoff = page.locator("#signoff").inner_text()
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "report-html.png"), full_page=False)
        browser.close()
    assert requests == [html.as_uri()]  # nothing but the file itself was fetched
    assert chart and chart["width"] > 300 and chart["height"] > 100
    assert all(sections.values()), sections
    assert "Carla CTO" in signoff and "Approved; residual risk accepted" in signoff


def test_pdf_has_cover_contents_page_numbers_and_signatures(signed_run, tmp_path):
    data = render(signed_run, "pdf")
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]
    total = len(pages)
    assert total >= 5
    cover = pages[0]
    assert "Scaling-readiness audit report" in cover and "Q4 readiness" in cover
    assert "Carla CTO" in cover and signed_run.audit_head in cover.replace("\n", "")
    assert "Page " not in cover  # the cover carries no footer
    assert "\nContents\n" in pages[1]
    for section in ("Summary", "Roadmap progress", "Security checklist", "Evidence record", "Findings by area",
                    "Waivers", "Evidence snapshots", "Audit trail", "Sign-off"):
        entry = re.search(rf"{section}\s*\.{{3,}}\s*(\d+)", pages[1])
        assert entry, section
        assert section in pages[int(entry.group(1)) - 1], f"{section} is not on the page the contents name"
    for number, text in enumerate(pages[1:], start=2):
        assert f"Page {number} of {total}" in text
    last = pages[-1]
    assert "Signed by Carla CTO" in last and "Approved; residual risk accepted" in last
    assert "ticked done, but the live evidence fails" in "".join(pages)
    assert "breaker PR #42" in "".join(pages)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_pdf_pages_render_as_images(signed_run, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(signed_run, "pdf"))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(PdfReader(str(pdf)).pages)
    for image in images:  # every page has ink on it: no blank page slipped in
        lo, _ = Image.open(image).convert("L").getextrema()
        assert lo < 128, image.name
