"""Plain-text and JSON listings of installed checks and framework items, for the CLI."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from scaleready.plugins import default_registry


def catalogue_json() -> dict[str, Any]:
    registry = default_registry()
    return {
        "checks": [
            {"id": c.id, "kind": c.kind, "title": c.title, "severity": c.severity.value,
             "items": list(c.items), "section": c.section, "plugin": c.plugin, "version": c.version}
            for c in sorted(registry.checks.values(), key=lambda c: c.id)
        ],
        "collectors": [
            {"kind": k, "plugin": c.plugin, "version": c.version, "options": sorted(c.options.model_fields)}
            for k, c in sorted(registry.collectors.items())
        ],
        "plugins": [
            {"name": p.name, "module": p.module, "distribution": p.distribution, "version": p.version,
             "error": p.error}
            for p in registry.plugins
        ],
        "problems": registry.problems,
    }


def _render(table: Table) -> str:
    console = Console(width=160, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def catalogue_table() -> str:
    doc = catalogue_json()
    table = Table(title=f"{len(doc['checks'])} checks installed")
    for column in ("id", "kind", "severity", "items", "plugin"):
        table.add_column(column)
    for c in doc["checks"]:
        table.add_row(c["id"], c["kind"], c["severity"], ", ".join(c["items"]), f"{c['plugin']} {c['version']}")
    text = _render(table)
    broken = [p for p in doc["plugins"] if p["error"]]
    for p in broken:
        text += f"plugin {p['name']} ({p['module']}) failed to load: {p['error']}\n"
    for problem in doc["problems"]:
        text += f"warning: {problem}\n"
    return text


def framework_table(framework: Any) -> str:
    table = Table(title=f"{framework.title} ({len(framework.items)} items)")
    for column in ("id", "section", "title", "kind", "checks"):
        table.add_column(column)
    for item in framework.items:
        table.add_row(item.id, item.section, item.title, item.kind, ", ".join(item.checks))
    return _render(table)
