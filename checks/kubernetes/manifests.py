"""Manifest mode: Kubernetes objects from YAML/JSON files, folders and globs.

Files are split into YAML documents *before* parsing (on ``---``/``...`` lines at column 0),
so one broken document becomes a load error naming its file and line while every other
document still loads; PyYAML's own multi-document reader would stop at the first error.
Each document is composed to a node tree first so every object, and every item of a
``kind: List``/``*List``, keeps the line it starts on. Helm's ``# Source:`` comments are kept.
Anything with a ``kind`` loads, unknown CRDs included; YAML without one (values files, ...)
is counted as skipped, not an error.
"""

from __future__ import annotations

import gc
import glob
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from checks.kubernetes.objects import normalize, shape_problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DOC_START = re.compile(r"^---(\s|$)")
_DOC_END = re.compile(r"^\.\.\.\s*$")
_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_FILES = 20_000


@dataclass
class ManifestSet:
    """What a manifest load produced: normalized objects, per-document errors, skipped docs."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def _walk(folder: str) -> list[str]:
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(_SUFFIXES))
    return found


def expand(patterns: list[str], base: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Files named by ``patterns`` (files, folders walked recursively, globs), deduplicated."""
    files: list[str] = []
    errors: list[dict[str, Any]] = []
    for pattern in patterns:
        path = os.path.expanduser(pattern)
        if base and not os.path.isabs(path):
            path = os.path.join(base, path)
        if glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                errors.append({"file": pattern, "line": None, "message": "glob matches no file"})
            for match in matches:
                files.extend(_walk(match) if os.path.isdir(match) else [match])
        elif os.path.isdir(path):
            files.extend(_walk(path))
        elif os.path.isfile(path):
            files.append(path)
        else:
            errors.append({"file": pattern, "line": None, "message": "no such file or folder"})
    seen: set[str] = set()
    unique = [f for f in files if not (f in seen or seen.add(f))]
    if len(unique) > MAX_FILES:
        errors.append({"file": patterns[0] if patterns else "", "line": None,
                       "message": f"{len(unique)} files; only the first {MAX_FILES} were read"})
        unique = unique[:MAX_FILES]
    return unique, errors


def split_documents(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each YAML document; lines are 1-based."""
    docs: list[tuple[int, str]] = []
    start = 1
    current: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _DOC_START.match(line):
            if current:
                docs.append((start, "".join(current)))
            start, current = number, [line]
        elif _DOC_END.match(line):
            if current:
                docs.append((start, "".join(current)))
            start, current = number + 1, []
        else:
            current.append(line)
    if current:
        docs.append((start, "".join(current)))
    return docs


_STR, _INT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"
_BOOL, _NULL = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


class _Fallback(Exception):
    """The fast builder met something only PyYAML's constructor handles (merge keys, ...)."""


def _build(node: Any, memo: dict[int, Any]) -> Any:
    """Python data from a composed node for the common cases, several times faster than
    SafeConstructor's generic machinery; anything unusual raises `_Fallback`."""
    if isinstance(node, yaml.ScalarNode):
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        if tag == _INT and _PLAIN_INT.fullmatch(value):
            return int(value)
        if tag == _BOOL:
            return yaml.constructor.SafeConstructor.bool_values[value.lower()]
        if tag == _NULL:
            return None
        raise _Fallback
    key = id(node)
    if key in memo:  # an alias: share it as PyYAML does; a recursive one is left to PyYAML
        if memo[key] is _Fallback:
            raise _Fallback
        return memo[key]
    memo[key] = _Fallback
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge" or not isinstance(k, yaml.ScalarNode):
                raise _Fallback
            out[_build(k, memo)] = _build(v, memo)
        result: Any = out
    elif isinstance(node, yaml.SequenceNode):
        result = [_build(child, memo) for child in node.value]
    else:
        raise _Fallback
    memo[key] = result
    return result


def _compose(text: str) -> tuple[Any, Any]:
    """(node, data) for one document, or (None, None) when it is empty."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        try:
            return node, _build(node, {})
        except (_Fallback, KeyError, TypeError):
            return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, first_line: int) -> tuple[int, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + mark.line if mark is not None else first_line
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    started = getattr(exc, "context_mark", None)
    if context and started is not None and started.line + first_line != line:
        context = f"{context} (from line {started.line + first_line})"
    message = f"{context}, {problem}" if context else str(problem)
    return line, f"YAML error: {message}"


def _list_items(node: Any, data: dict[str, Any]) -> list[tuple[int | None, Any]]:
    """Items of a List with the line each starts on (0-based within the document)."""
    lines: list[int | None] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                lines = [child.start_mark.line for child in value.value]
    items = data.get("items") or []
    return [(lines[i] if i < len(lines) else None, item) for i, item in enumerate(items)]


def load_text(text: str, file: str, out: ManifestSet) -> None:
    """Load every document of one file's text into ``out``."""
    for first_line, doc in split_documents(text):
        helm = _HELM_SOURCE.search(doc)
        source = helm.group(1) if helm else None
        try:
            node, data = _compose(doc)
        except yaml.YAMLError as exc:
            line, message = _yaml_error(exc, first_line)
            out.errors.append({"file": file, "line": line, "message": message})
            continue
        if data is None:
            continue
        doc_line = first_line + node.start_mark.line
        if not isinstance(data, dict) or "kind" not in data:
            out.skipped.append({"file": file, "line": doc_line, "reason": "not a Kubernetes object (no kind)"})
            continue
        kind = str(data.get("kind") or "")
        if kind.endswith("List") and isinstance(data.get("items"), list):
            for offset, item in _list_items(node, data):
                line = first_line + offset if offset is not None else doc_line
                if isinstance(item, dict) and "kind" in item:
                    _add(out, item, file, line, source)
                else:
                    out.errors.append({"file": file, "line": line,
                                       "message": f"item of {kind} is not a Kubernetes object"})
            continue
        _add(out, data, file, doc_line, source)


def _add(out: ManifestSet, raw: dict[str, Any], file: str, line: int, source: str | None) -> None:
    problem = shape_problem(raw)
    if problem:
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        out.errors.append({"file": file, "line": line,
                           "message": f"{raw.get('kind')} {meta.get('name') or ''}: {problem}".replace("  ", " ")})
        return
    out.objects.append(normalize(raw, file=file, line=line, source=source))


def load(patterns: list[str], base: str | None = None) -> ManifestSet:
    """Load every manifest named by ``patterns``; never raises for bad files, records them.

    The cyclic garbage collector is paused while loading: parsing allocates hundreds of
    thousands of acyclic dicts and lists, and the collector's repeated full scans of them
    made a 5,000-object load grow faster than the input.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(patterns, base)
    finally:
        if enabled:
            gc.enable()


def _load(patterns: list[str], base: str | None) -> ManifestSet:
    out = ManifestSet()
    files, out.errors = expand(patterns, base)
    for path in files:
        shown = os.path.relpath(path, base) if base and path.startswith(base.rstrip(os.sep) + os.sep) else path
        try:
            if os.path.getsize(path) > MAX_FILE_BYTES:
                out.errors.append({"file": shown, "line": None, "message": "file larger than 32 MiB"})
                continue
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            out.errors.append({"file": shown, "line": None, "message": f"cannot read: {reason}"})
            continue
        out.files.append(shown)
        load_text(text, shown, out)
    return out
