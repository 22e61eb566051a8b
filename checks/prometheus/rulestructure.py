"""The structure of a rule file, checked the way Prometheus' ``rulefmt`` does, for when promtool is absent.

promtool is the authority (``promtool check rules``), but a machine without it should still
catch what needs no PromQL parser: unknown keys (Prometheus unmarshals strictly), a rule that
is both or neither ``alert`` and ``record``, a missing ``expr``, fields a recording rule may
not carry, bad duration strings, invalid label/annotation/metric names, empty or repeated
group names. These rules mirror Prometheus 2.x ``rulefmt.Validate`` and the strict YAML
decoding promtool uses; tests/prometheus/test_rule_structure_agreement.py measures the
agreement with the real promtool. What it cannot judge is the PromQL itself, so a file with
no structural problem is "structure ok, expressions unvalidated", never a pass.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

GROUP_KEYS = frozenset({"name", "interval", "limit", "rules", "query_offset"})
RULE_KEYS = frozenset({"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"})
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def duration_seconds(text: Any) -> float | None:
    """Seconds in a Prometheus duration string (``0`` and ``0m`` allowed), None when malformed."""
    raw = str(text).strip()
    if raw == "0":
        return 0.0
    match = _DURATION.match(raw)
    if not raw or match is None:
        return None
    factors = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
    return sum(int(v) * f for v, f in zip(match.groups(), factors, strict=True) if v)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _map(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _names(node: yaml.Node | None, what: str, where: str, allow_name: bool = False) -> list[dict[str, Any]]:
    problems = []
    for key, _ in _map(node) if node is not None else []:
        name = str(key.value)
        if not _LABEL_NAME.match(name) or (name == "__name__" and not allow_name):
            problems.append({"line": _line(key), "message": f"{where}: invalid {what} name: {name}"})
    return problems


def _rule_problems(node: yaml.Node, where: str) -> list[dict[str, Any]]:
    if not isinstance(node, yaml.MappingNode):
        return [{"line": _line(node), "message": f"{where}: a rule must be a mapping"}]
    fields = {str(k.value): (k, v) for k, v in _map(node)}
    problems = [{"line": _line(k), "message": f"{where}: unknown field {name!r}"}
                for name, (k, _) in fields.items() if name not in RULE_KEYS]
    has_alert, has_record = "alert" in fields, "record" in fields
    if has_alert and has_record:
        problems.append({"line": _line(node), "message": f"{where}: only one of 'record' and 'alert' may be set"})
    elif not has_alert and not has_record:
        problems.append({"line": _line(node), "message": f"{where}: one of 'record' or 'alert' must be set"})
    expr = fields.get("expr")
    if expr is None or not str(getattr(expr[1], "value", "") or "").strip():
        problems.append({"line": _line(node), "message": f"{where}: field 'expr' must be set"})
    if has_record and not has_alert:
        name = str(getattr(fields["record"][1], "value", ""))
        if not _METRIC_NAME.match(name):
            problems.append({"line": _line(fields["record"][1]),
                             "message": f"{where}: invalid recording rule name: {name}"})
        for field in ("for", "keep_firing_for", "annotations"):
            if field in fields:
                problems.append({"line": _line(fields[field][0]),
                                 "message": f"{where}: invalid field {field!r} in a recording rule"})
    for field in ("for", "keep_firing_for"):
        if field in fields and duration_seconds(getattr(fields[field][1], "value", "")) is None:
            problems.append({"line": _line(fields[field][1]),
                             "message": f"{where}: not a valid duration: {fields[field][1].value!r}"})
    problems += _names(fields.get("labels", (None, None))[1], "label", where)
    problems += _names(fields.get("annotations", (None, None))[1], "annotation", where)
    return problems


def structure_problems(root: yaml.Node | None) -> list[dict[str, Any]]:
    """``{line, message}`` for every structural problem promtool would also reject (PromQL aside)."""
    if root is None:
        return []  # an empty file holds zero rules, as promtool says
    if not isinstance(root, yaml.MappingNode):
        return [{"line": _line(root), "message": "a rule file must be a mapping with 'groups:'"}]
    problems: list[dict[str, Any]] = []
    groups: yaml.Node | None = None
    for key, value in _map(root):
        if key.value == "groups":
            groups = value
        else:
            problems.append({"line": _line(key), "message": f"unknown top-level field {key.value!r}"})
    if groups is None or (isinstance(groups, yaml.ScalarNode) and groups.tag.endswith(":null")):
        return problems
    if not isinstance(groups, yaml.SequenceNode):
        return [*problems, {"line": _line(groups), "message": "'groups' must be a list"}]
    seen: set[str] = set()
    for gnode in groups.value:
        if not isinstance(gnode, yaml.MappingNode):
            problems.append({"line": _line(gnode), "message": "a group must be a mapping"})
            continue
        fields = {str(k.value): (k, v) for k, v in _map(gnode)}
        problems += [{"line": _line(k), "message": f"unknown group field {name!r}"}
                     for name, (k, _) in fields.items() if name not in GROUP_KEYS]
        name = str(getattr(fields.get("name", (None, None))[1], "value", "") or "")
        if not name:
            problems.append({"line": _line(gnode), "message": "group name must not be empty"})
        elif name in seen:
            problems.append({"line": _line(gnode), "message": f"group name {name!r} is repeated in the file"})
        seen.add(name)
        if "interval" in fields and duration_seconds(getattr(fields["interval"][1], "value", "")) is None:
            problems.append({"line": _line(fields["interval"][1]), "message": "group interval is not a duration"})
        rules = fields.get("rules", (None, None))[1]
        if isinstance(rules, yaml.SequenceNode):
            for index, rnode in enumerate(rules.value, start=1):
                problems += _rule_problems(rnode, f"group {name!r}, rule {index}")
        elif rules is not None and not (isinstance(rules, yaml.ScalarNode) and rules.tag.endswith(":null")):
            problems.append({"line": _line(rules), "message": f"group {name!r}: 'rules' must be a list"})
    return problems
