"""Rule files in a repository: read them with line numbers, read promtool's verdict, lint them.

``promtool check rules`` is the authority on validity (the collector runs it); on top of it
the guide's own alert (6.2) shows the house style every alert should follow: a ``for``
duration so a blip does not page, a ``severity`` label for routing and a ``summary``
annotation for the human who is woken up. Every finding carries file and line, so parsing
keeps PyYAML's node marks instead of loading plain dicts. Pure functions only: the
collector does the reading and the subprocess.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from checks.prometheus.rulestructure import duration_seconds, structure_problems

_PROMTOOL_LINE = re.compile(
    r"^(?P<file>.+?): (?:(?P<line>\d+):(?P<col>\d+): |yaml: line (?P<yline>\d+): )?(?P<msg>.*)$"
)


def _scalar_map(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _plain(node: yaml.Node | None) -> Any:
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return {str(getattr(k, "value", "")): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    return None


def parse_rule_file(text: str) -> dict[str, Any]:
    """Groups and rules with 1-based line numbers, or a parse error with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return {"groups": [], "parse_error": {"line": line, "message": f"invalid YAML: {problem}"},
                "structure": []}
    groups: list[dict[str, Any]] = []
    structure = structure_problems(root)
    groups_node = _scalar_map(root).get("groups") if root is not None else None
    if not isinstance(groups_node, yaml.SequenceNode):
        return {"groups": [], "parse_error": None, "structure": structure}
    for gnode in groups_node.value:
        gmap = _scalar_map(gnode)
        rules: list[dict[str, Any]] = []
        rules_node = gmap.get("rules")
        for rnode in rules_node.value if isinstance(rules_node, yaml.SequenceNode) else []:
            rmap = _scalar_map(rnode)
            kind = "alert" if "alert" in rmap else "record"
            rules.append({
                "kind": kind,
                "name": _plain(rmap.get(kind)),
                "line": rnode.start_mark.line + 1,
                "expr": _plain(rmap.get("expr")),
                "expr_line": (rmap["expr"].start_mark.line + 1) if "expr" in rmap else None,
                "for": _plain(rmap.get("for")),
                "labels": _plain(rmap.get("labels")) or {},
                "annotations": _plain(rmap.get("annotations")) or {},
            })
        groups.append({"name": _plain(gmap.get("name")), "line": gnode.start_mark.line + 1, "rules": rules})
    return {"groups": groups, "parse_error": None, "structure": structure}


def parse_promtool(output: str) -> list[dict[str, Any]]:
    """promtool's complaints as ``{line, message}`` (line None when it gives none)."""
    problems: list[dict[str, Any]] = []
    seen: set[tuple[Any, str]] = set()
    for raw in output.splitlines():
        text = raw.strip()
        if not text or text.startswith(("Checking ", "SUCCESS", "FAILED")):
            continue
        match = _PROMTOOL_LINE.match(text)
        line: int | None = None
        message = text
        if match and (match.group("line") or match.group("yline") or ":" in text):
            number = match.group("line") or match.group("yline")
            line = int(number) if number else None
            message = match.group("msg") if match.group("msg") else text
            if match.group("yline"):
                message = f"yaml: {message}"
        if (line, message) not in seen:
            seen.add((line, message))
            problems.append({"line": line, "message": message})
    return problems


def lint(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """Style problems of alerting rules: missing (or zero) ``for``, severity label, summary annotation."""
    issues: list[dict[str, Any]] = []
    for group in parsed.get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("kind") != "alert":
                continue
            name = rule.get("name") or "?"
            problems = []
            if not rule.get("for"):
                problems.append("has no 'for' duration")
            elif duration_seconds(rule["for"]) == 0:
                # ``for: 0m`` is no ``for`` at all: the alert fires on a single evaluation.
                problems.append(f"has a zero 'for' duration ({rule['for']}): it fires on one evaluation")
            labels = rule.get("labels") if isinstance(rule.get("labels"), dict) else {}
            if not labels.get("severity"):
                problems.append("has no 'severity' label")
            annotations = rule.get("annotations") if isinstance(rule.get("annotations"), dict) else {}
            if not annotations.get("summary"):
                problems.append("has no 'summary' annotation")
            for problem in problems:
                issues.append({"line": rule.get("line"), "rule": name, "group": group.get("name"),
                               "problem": f"alert {name} {problem}"})
    return issues
