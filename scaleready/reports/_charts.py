"""Charts drawn as inline SVG, so the HTML report renders fully with the network off.

No script and no external file: the chart is markup inside the page, prints sharply and
reads the same in any browser or archive viewer.
"""

from __future__ import annotations

from html import escape

from scaleready.results import RunResult


def score_colour(value: float) -> str:
    return "#067647" if value >= 80 else "#b54708" if value >= 50 else "#b42318"


def area_chart_svg(run: RunResult, width: int = 720) -> str:
    """Score per area as bars, coverage as a diamond on the same 0-100 axis."""
    areas = run.score.areas
    row, label_w, top = 26, 230, 24
    plot_w = width - label_w - 60
    height = top + row * len(areas) + 28
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Score and coverage per area" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">']
    parts.append(f'<rect x="{label_w}" y="4" width="10" height="10" fill="#1570ef"/>'
                 f'<text x="{label_w + 14}" y="13" font-size="11">score</text>'
                 f'<path d="M{label_w + 70} 4 l5 5 l-5 5 l-5 -5 z" fill="#101828"/>'
                 f'<text x="{label_w + 80}" y="13" font-size="11">coverage %</text>')
    for tick in range(0, 101, 25):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + row * len(areas)}" '
                     f'stroke="#eaecf0"/><text x="{x:.1f}" y="{height - 8}" font-size="10" text-anchor="middle" '
                     f'fill="#667085">{tick}</text>')
    for i, area in enumerate(areas):
        y = top + i * row
        # rounded as the store keeps them, so a stored run draws the very same chart
        score = max(0.0, min(100.0, round(area.score, 1)))
        cov = max(0.0, min(1.0, round(area.coverage, 3))) * 100
        cx, cy = label_w + plot_w * cov / 100, y + row / 2
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row / 2 + 4:.1f}" font-size="12" text-anchor="end">'
            f'{escape(area.title)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{plot_w * score / 100:.1f}" height="{row - 10}" rx="3" '
            f'fill="{score_colour(score)}"/>'
            f'<text x="{label_w + plot_w * score / 100 + 6:.1f}" y="{y + row / 2 + 4:.1f}" font-size="11">'
            f'{area.score:.0f}</text>'
            f'<path d="M{cx:.1f} {cy - 6:.1f} l6 6 l-6 6 l-6 -6 z" fill="#101828"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
