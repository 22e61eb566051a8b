"""Load readiness frameworks (the scaling guide as data) into frozen dataclasses.

A framework is a YAML file of areas, roadmap phases and items; each item names the checks that
prove it, so scoring can fold findings into per-item, per-area and roadmap results. The built-in
framework encodes the scaling guide; teams write their own against the same JSON Schema
(``data/schemas/framework.schema.json``). Any problem in a file becomes one `FrameworkError`
naming the file, the line (from PyYAML's node marks), the item and what is wrong, so the CLI can
print it without a traceback.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from scaleready.paths import data_dir
from scaleready.yamlsource import YamlSyntaxError, load_document, one_line, read_source, unknown_key_hint

__all__ = [
    "Area",
    "Framework",
    "FrameworkError",
    "Item",
    "Kind",
    "Phase",
    "default_framework_path",
    "load_framework",
    "schema_path",
]

Kind = Literal["auto", "manual", "both"]
KINDS: tuple[str, ...] = ("auto", "manual", "both")
ROADMAP_AREA = "roadmap"


class FrameworkError(Exception):
    """A framework file that cannot be used; ``str()`` is one readable line."""

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        item: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.line = line
        self.item = item
        where = self.path or "<framework>"
        if line is not None:
            where = f"{where}:{line}"
        subject = f"{item}: " if item else ""
        super().__init__(one_line(f"{where}: {subject}{problem}"))


@dataclass(frozen=True)
class Area:
    """A scored area of the framework, e.g. ``security`` (guide section 7)."""

    id: str
    title: str
    section: str = ""


@dataclass(frozen=True)
class Phase:
    """A roadmap phase, e.g. phase 1 "Quick Wins", weeks "Week 1-2"."""

    number: int
    title: str
    weeks: str = ""


@dataclass(frozen=True)
class Item:
    """One thing a service must have; proven by ``checks`` and/or a human tick (``kind``)."""

    id: str
    area: str
    section: str
    title: str
    kind: Kind
    weight: float
    checks: tuple[str, ...]
    remediation: str
    description: str = ""
    phase: int | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def automated(self) -> bool:
        """True when checks give evidence for the item (kind ``auto`` or ``both``)."""
        return self.kind in ("auto", "both")

    @property
    def needs_tick(self) -> bool:
        """True when a human confirmation is part of the item (kind ``manual`` or ``both``)."""
        return self.kind in ("manual", "both")

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {
            "id": self.id,
            "area": self.area,
            "section": self.section,
            "title": self.title,
            "kind": self.kind,
            "weight": self.weight,
            "checks": list(self.checks),
            "remediation": self.remediation,
            "description": self.description,
            "phase": self.phase,
            "params": self.params,
        }


@dataclass(frozen=True)
class Framework:
    """A loaded, validated framework. Item order is the file's order."""

    id: str
    title: str
    version: str
    areas: tuple[Area, ...]
    phases: tuple[Phase, ...]
    items: tuple[Item, ...]
    path: Path | None = None
    source: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    check_lines: Mapping[tuple[str, str], int] = field(default_factory=dict, hash=False, compare=False, repr=False)
    """Line of each (item id, check id) reference in the file, for errors that point at it."""

    def verify_check_ids(self, known: Iterable[str]) -> None:
        """Refuse a check id no installed check has: it could never give evidence, so the item
        would stay unproven without anyone noticing. The error names the id and the closest one."""
        names = sorted(set(known))
        for item in self.items:
            for check_id in item.checks:
                if check_id in names:
                    continue
                close = difflib.get_close_matches(check_id, names, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else "see `scaleready checks` for the installed ids"
                raise FrameworkError(f"unknown check id '{check_id}' ({hint})", path=self.path,
                                     line=self.check_lines.get((item.id, check_id)), item=f"item {item.id!r}")

    @cached_property
    def _by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    @cached_property
    def _by_check(self) -> dict[str, tuple[Item, ...]]:
        index: dict[str, list[Item]] = {}
        for item in self.items:
            for check_id in item.checks:
                index.setdefault(check_id, []).append(item)
        return {check_id: tuple(items) for check_id, items in index.items()}

    def item(self, item_id: str) -> Item:
        """The item with this id; `KeyError` naming the id when there is none."""
        try:
            return self._by_id[item_id]
        except KeyError:
            raise KeyError(f"framework {self.id!r} has no item {item_id!r}") from None

    def has_item(self, item_id: str) -> bool:
        return item_id in self._by_id

    def area(self, area_id: str) -> Area:
        """The area with this id; `KeyError` when there is none."""
        for area in self.areas:
            if area.id == area_id:
                return area
        raise KeyError(f"framework {self.id!r} has no area {area_id!r}")

    def items_in(self, area_id: str) -> tuple[Item, ...]:
        """The items of one area, in file order (empty for an unknown area)."""
        return tuple(item for item in self.items if item.area == area_id)

    def items_in_phase(self, number: int) -> tuple[Item, ...]:
        """The roadmap items of one phase, in file order."""
        return tuple(item for item in self.items if item.phase == number)

    def items_for_check(self, check_id: str) -> tuple[Item, ...]:
        """The items a check gives evidence for (empty when no item names it)."""
        return self._by_check.get(check_id, ())

    def check_ids(self) -> tuple[str, ...]:
        """Every check id named by some item, sorted."""
        return tuple(sorted(self._by_check))

    def to_json(self) -> dict[str, Any]:
        """The framework as JSON: metadata, areas, phases and an item listing."""
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "source": dict(self.source),
            "path": str(self.path) if self.path else None,
            "areas": [{"id": a.id, "title": a.title, "section": a.section} for a in self.areas],
            "phases": [{"number": p.number, "title": p.title, "weeks": p.weeks} for p in self.phases],
            "items": [
                {
                    "id": item.id,
                    "section": item.section,
                    "title": item.title,
                    "kind": item.kind,
                    "checks": list(item.checks),
                    "area": item.area,
                    "weight": item.weight,
                    "phase": item.phase,
                }
                for item in self.items
            ],
        }


# --------------------------------------------------------------------------- locations


def default_framework_path() -> Path:
    """The built-in scaling-guide framework file."""
    return data_dir() / "frameworks" / "scaling-guide.yaml"


def schema_path() -> Path:
    """The JSON Schema every framework file must satisfy."""
    return data_dir() / "schemas" / "framework.schema.json"


@functools.cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load_framework(path: str | Path | None = None) -> Framework:
    """Load and validate a framework; ``None`` gives the built-in scaling guide (cached).

    Raises `FrameworkError` with one readable message for any unreadable, malformed or
    invalid file.
    """
    default = default_framework_path().resolve()
    if path is None or Path(path).resolve() == default:
        return _load_builtin()
    return _load(Path(path))


@functools.cache
def _load_builtin() -> Framework:
    return _load(default_framework_path().resolve())


# --------------------------------------------------------------------------- parsing


def _load(path: Path) -> Framework:
    try:
        root, data, _ = load_document(read_source(path, "framework file"), path)
    except YamlSyntaxError as exc:
        problem = exc.problem.replace("invalid YAML", "malformed YAML", 1)
        raise FrameworkError(problem, path=path, line=exc.line) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise FrameworkError(
            f"a framework must be a mapping with id, title, version, areas and items (got {got})",
            path=path,
            line=1,
        )
    locate = _Locator(root)
    _validate_schema(data, path, locate)
    return _build(data, path, locate)


class _Locator:
    """Maps a JSON path (keys and indexes) to a 1-based line using the composed YAML nodes."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, json_path: Sequence[str | int]) -> int | None:
        node = self.root
        if node is None:
            return None
        for part in json_path:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        child = value_node
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    def key_line(self, json_path: Sequence[str | int], key: str) -> int | None:
        """The line of ``key`` inside the mapping at ``json_path`` (or the mapping's line)."""
        node = self.root
        for part in json_path:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                node = None
            if node is None:
                return self.line(json_path)
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if key_node.value == key:
                    return key_node.start_mark.line + 1
        return self.line(json_path)


def _subject(data: Mapping[str, Any], json_path: Sequence[str | int]) -> str | None:
    """A readable name for what a path points into: ``item 'db.work_mem'``, ``areas[2]``..."""
    if len(json_path) >= 2 and json_path[0] in ("items", "areas", "phases") and isinstance(json_path[1], int):
        section, index = json_path[0], json_path[1]
        entries = data.get(section)
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        noun = {"items": "item", "areas": "area", "phases": "phase"}[section]
        key = "number" if section == "phases" else "id"
        name = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(name, str | int) and not isinstance(name, bool):
            return f"{noun} {name!r}"
        return f"{section}[{index}]"
    return None


_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
}


def _describe(error: jsonschema.ValidationError, json_path: Sequence[str | int]) -> tuple[str, str | None]:
    """One readable problem for a schema error, and the key it points at when it is a key problem."""
    keys = [part for part in json_path if isinstance(part, str)]
    name = f"'{keys[-1]}'" if keys and json_path and isinstance(json_path[-1], str) else "entry"
    if json_path and isinstance(json_path[-1], int) and keys:
        name = f"entry {json_path[-1]} of '{keys[-1]}'"
    got = json.dumps(error.instance, default=str)
    if len(got) > 60:
        got = got[:57] + "..."
    validator = error.validator
    if validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"missing required key '{missing[0] if missing else error.validator_value[0]}'", None
    if validator == "additionalProperties":
        allowed = set((error.schema.get("properties") or {}).keys())
        extra = sorted((k for k in error.instance if k not in allowed), key=str)  # YAML keys may be numbers
        first = str(extra[0]) if extra else "?"
        return f"unknown key '{first}' {unknown_key_hint(first, allowed)}", first
    if validator == "enum":
        options = ", ".join(str(v) for v in error.validator_value)
        return f"{name} must be one of {options} (got {got})", None
    if validator == "type":
        expected = error.validator_value
        expected_list = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected_list)
        hint = ' (quote section numbers, e.g. "7.1")' if keys and keys[-1] == "section" else ""
        return f"{name} must be {wanted} (got {got}){hint}", None
    if validator == "pattern":
        if keys and keys[-1] == "section":
            return f'{name} must be a section number like "7.1" (got {got})', None
        if json_path == ["id"]:
            return f"{name} must be lower-case letters, digits, '-', '_' or '.' (got {got})", None
        return f"{name} must be lower-case dotted words like 'cache.rule.sessions' (got {got})", None
    if validator in ("exclusiveMinimum", "minimum"):
        op = ">" if validator == "exclusiveMinimum" else ">="
        return f"{name} must be {op} {error.validator_value} (got {got})", None
    if validator == "minItems":
        if keys and keys[-1] == "checks":
            return "kind auto/both needs at least one check id in 'checks' (use kind: manual otherwise)", None
        return f"{name} must have at least {error.validator_value} entries", None
    if validator == "minLength":
        return f"{name} must not be empty", None
    if validator == "uniqueItems":
        return f"{name} lists the same value twice", None
    return error.message, None


def _validate_schema(data: dict[str, Any], path: Path, locate: _Locator) -> None:
    errors = list(_schema_validator().iter_errors(data))
    if not errors:
        return
    located = []
    for error in errors:
        json_path = list(error.absolute_path)
        problem, key = _describe(error, json_path)
        line = locate.key_line(json_path, key) if key else locate.line(json_path)
        located.append((line or 0, len(json_path), problem, json_path))
    # The first problem in document order; deeper (more specific) paths win on the same line.
    line, _, problem, json_path = min(located, key=lambda entry: (entry[0], -entry[1]))
    more = len(located) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    raise FrameworkError(problem + extra, path=path, line=line or None, item=_subject(data, json_path))


def _build(data: dict[str, Any], path: Path, locate: _Locator) -> Framework:
    def fail(problem: str, json_path: Sequence[str | int], key: str | None = None) -> FrameworkError:
        line = locate.key_line(json_path, key) if key else locate.line(json_path)
        return FrameworkError(problem, path=path, line=line, item=_subject(data, json_path))

    areas: list[Area] = []
    for index, raw in enumerate(data["areas"]):
        if any(area.id == raw["id"] for area in areas):
            raise fail(f"duplicate area id {raw['id']!r}", ["areas", index])
        areas.append(Area(id=raw["id"], title=raw["title"], section=raw.get("section", "")))
    area_sections = {area.id: area.section for area in areas}

    phases: list[Phase] = []
    for index, raw in enumerate(data.get("phases") or []):
        if any(phase.number == raw["number"] for phase in phases):
            raise fail(f"duplicate phase number {raw['number']}", ["phases", index])
        phases.append(Phase(number=raw["number"], title=raw["title"], weeks=raw.get("weeks", "")))
    phase_numbers = {phase.number for phase in phases}

    items: list[Item] = []
    seen: dict[str, int] = {}
    check_lines: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(data["items"]):
        where = ["items", index]
        item_id = raw["id"]
        for position, check_id in enumerate(raw.get("checks") or ()):
            check_lines.setdefault((item_id, check_id), locate.line([*where, "checks", position]) or 0)
        if item_id in seen:
            first = locate.line(["items", seen[item_id]])
            raise fail(f"duplicate item id {item_id!r} (first defined on line {first})", where, "id")
        seen[item_id] = index
        if raw["area"] not in area_sections:
            known = ", ".join(area_sections)
            raise fail(f"unknown area {raw['area']!r} (areas: {known})", where, "area")
        phase = raw.get("phase")
        if phase is not None and phase not in phase_numbers:
            known = ", ".join(str(n) for n in sorted(phase_numbers)) or "none declared"
            raise fail(f"unknown phase {phase} (phases: {known})", where, "phase")
        if raw["area"] == ROADMAP_AREA and phase is None:
            raise fail("roadmap items need a 'phase'", where, "id")
        items.append(
            Item(
                id=item_id,
                area=raw["area"],
                section=raw.get("section") or area_sections[raw["area"]],
                title=raw["title"],
                kind=raw["kind"],
                weight=float(raw["weight"]),
                checks=tuple(raw.get("checks") or ()),
                remediation=raw["remediation"].strip(),
                description=(raw.get("description") or "").strip(),
                phase=phase,
                params=dict(raw.get("params") or {}),
            )
        )

    return Framework(
        id=data["id"],
        title=data["title"],
        version=str(data["version"]),
        areas=tuple(areas),
        phases=tuple(phases),
        items=tuple(items),
        path=path,
        source=dict(data.get("source") or {}),
        check_lines=check_lines,
    )
