"""YAML loading that remembers where every value came from, and refuses hostile files.

A config or framework error is only useful if it says *where*: "scaleready.yaml:14:
targets[2].dnss: unknown key". PyYAML's composed node tree carries those marks; we build the
plain Python value and a map from key path to line number in one walk.

The same walk is the guard against hostile files (configs, frameworks and scenarios all come
through here): the bytes are capped and must be UTF-8, nesting is capped while composing (the
composer recurses), aliases are counted as what they expand to before anything is built (a
700-byte "billion laughs" file would otherwise grow to gigabytes), and every scalar or key that
PyYAML cannot turn into a plain value (``2026-02-30``, ``!!python/...``, a list as a key, a
duplicate key) is refused with the file, line and column instead of a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]

MAX_BYTES = 4 * 1024 * 1024
"""Largest file read (4 MiB): the built-in framework is 28 KB, a large config a few KB."""
MAX_DEPTH = 64
"""Deepest nesting accepted, counted through aliases; real files stay under 10."""
MAX_NODES = 250_000
"""Most values a document may expand to, aliases counted as often as they are used."""
PLAIN_TYPES = (str, int, float, bool, type(None), date, datetime)
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown escaped (``\\n``), never raw.

    Error messages quote keys and values from the file; a key holding a newline must not turn
    the promised single line into two.
    """
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


class YamlSyntaxError(ValueError):
    """The file is not usable YAML; ``str()`` names file, line and column, ``problem`` says what."""

    def __init__(self, file: str | Path, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.file = str(file)
        self.problem = problem
        self.line = line
        self.column = column
        where = self.file
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(one_line(f"{where}: {problem}"))


@dataclass
class SourceMap:
    """Line numbers (1-based) by key path; missing paths fall back to their nearest parent."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def where(self, path: PathKey) -> str:
        line = self.line(path)
        return f"{self.file}:{line}" if line else self.file


def read_source(path: str | Path, what: str = "file") -> str:
    """The text of a YAML/JSON source file, size-capped and strictly UTF-8.

    Raises `YamlSyntaxError` (one line naming the file, and the line of a bad byte) for a
    missing file, a directory, an unreadable, oversized or non-UTF-8 file.
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise YamlSyntaxError(file, f"{what} not found") from None
    except IsADirectoryError:
        raise YamlSyntaxError(file, f"is a directory, not a {what}") from None
    except OSError as exc:
        raise YamlSyntaxError(file, f"cannot read {what}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise YamlSyntaxError(file, f"{what} is larger than {MAX_BYTES // (1024 * 1024)} MiB; refused")
    return decode(raw, file)


def decode(raw: bytes, file: str | Path = "<bytes>") -> str:
    """UTF-8 text of ``raw`` (a leading BOM dropped); a bad byte is named with its line and column."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlSyntaxError(file, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, column) from None
    return text.removeprefix("\ufeff")


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than `MAX_DEPTH` before recursing further."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _refuse(file: str | Path, problem: str, mark: Any) -> YamlSyntaxError:
    if mark is None:
        return YamlSyntaxError(file, problem)
    return YamlSyntaxError(file, problem, mark.line + 1, mark.column + 1)


def _check_expansion(root: yaml.Node, file: str | Path) -> None:
    """Refuse alias cycles, and documents that expand beyond `MAX_NODES` values or `MAX_DEPTH` levels.

    Sizes are memoised per node, so the count itself stays linear in the file however
    often an anchor is reused; the recursion is cut at `MAX_DEPTH`.
    """
    sizes: dict[int, tuple[int, int]] = {}  # node id -> (values it expands to, levels below it)
    on_path: set[int] = set()

    def size(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            total, height = sizes[key]
            if depth + height > MAX_DEPTH:
                raise _refuse(file, f"nesting deeper than {MAX_DEPTH} levels (through aliases)", node.start_mark)
            return total, height
        if depth > MAX_DEPTH:
            raise _refuse(file, f"nesting deeper than {MAX_DEPTH} levels (through aliases)", node.start_mark)
        if key in on_path:
            raise _refuse(file, "an alias refers to its own anchor (a cycle)", node.start_mark)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            raise _refuse(file, f"unsupported YAML tag '{node.tag}'", node.start_mark)
        on_path.add(key)
        total, height = 1, 0
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else node.value if isinstance(node, yaml.SequenceNode) else []
        for child in children:
            child_total, child_height = size(child, depth + 1)
            total += child_total
            height = max(height, child_height + 1)
            if total > MAX_NODES:
                break
        on_path.discard(key)
        if total > MAX_NODES:
            raise _refuse(
                file, f"expands to more than {MAX_NODES} values (aliases counted as used); refused", node.start_mark
            )
        sizes[key] = (total, height)
        return total, height

    size(root, 0)


def compose(text: str, file: str | Path = "<string>") -> yaml.Node | None:
    """The node tree of one YAML document, after every guard; `YamlSyntaxError` otherwise."""
    if len(text) > MAX_BYTES:
        raise YamlSyntaxError(file, f"larger than {MAX_BYTES // (1024 * 1024)} MiB; refused")
    loader = _GuardedLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, file) from None
    except yaml.YAMLError as exc:
        raise _plain(exc, file) from None
    except RecursionError:  # a defence in depth: the depth guard stops the composer long before
        raise YamlSyntaxError(file, f"nesting deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:  # e.g. "\UFFFFFFFF" in a quoted scalar
        raise _refuse(file, f"invalid YAML: {' '.join(str(exc).split())[:160]}", loader.get_mark()) from None
    finally:
        loader.dispose()
    if node is not None:
        _check_expansion(node, file)
    return node


def _marked(exc: yaml.MarkedYAMLError, file: str | Path) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = f"invalid YAML: {exc.problem or exc.context}"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        problem += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return _refuse(file, problem, mark)


def _plain(exc: yaml.YAMLError, file: str | Path) -> YamlSyntaxError:
    return YamlSyntaxError(file, f"invalid YAML: {' '.join(str(exc).split())[:200]}")


class _Builder:
    """Turns the guarded node tree into plain data, recording the line of every key path."""

    def __init__(self, file: str | Path, lines: dict[PathKey, int]) -> None:
        self.file = file
        self.lines = lines
        self.loader = yaml.SafeLoader("")

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag.startswith("!") or (node.tag.startswith("tag:yaml.org,2002:python/")):
            raise _refuse(self.file, f"unsupported YAML tag '{node.tag}'", node.start_mark)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _marked(exc, self.file) from None
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp like 2026-02-30
            raise _refuse(self.file, f"invalid value {node.value!r}: {' '.join(str(exc).split())[:120]}",
                          node.start_mark) from None
        if not isinstance(value, PLAIN_TYPES):
            raise _refuse(self.file, f"unsupported value of type {type(value).__name__} (tag {node.tag})",
                          node.start_mark)
        return value

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _refuse(self.file, "a mapping key must be a plain value, not a list or mapping",
                              key_node.start_mark)
            key = self.scalar(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _refuse(self.file, f"duplicate key {key!r} (first on line {first_line[key]})",
                              key_node.start_mark)
            first_line[key] = line
            child = (*path, key)
            self.lines[child] = line
            result[key] = self.build(value_node, child)
        return result


def load_document(text: str, file: str | Path = "<string>") -> tuple[yaml.Node | None, Any, SourceMap]:
    """The node tree, the plain data and the `SourceMap` of one document; `YamlSyntaxError` if refused."""
    source = SourceMap(str(file))
    node = compose(_checked_text(text, file), file)
    if node is None:
        return None, None, source
    return node, _Builder(file, source.lines).build(node, ()), source


def load_with_lines(text: str, file: str | Path = "<string>") -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data plus its `SourceMap`; `YamlSyntaxError` if refused."""
    _, data, source = load_document(text, file)
    return data, source


_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _checked_text(text: str, file: str | Path) -> str:
    """Refuse characters YAML forbids (NUL and other controls) with their line and column."""
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        index = bad.start()
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        raise YamlSyntaxError(file, f"invalid YAML: control character #x{ord(bad.group()):04x} is not allowed",
                              line, column)
    return text


def unknown_key_hint(key: Any, accepted: Iterable[str]) -> str:
    """``(did you mean 'dsn'? accepted: a, b, c)``: every accepted key, the closest first."""
    names = sorted({str(k) for k in accepted})
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    listed = ", ".join(names) or "none"
    return f"(did you mean '{close[0]}'? accepted: {listed})" if close else f"(accepted: {listed})"


def format_path(path: PathKey) -> str:
    """``("targets", 2, "dsn")`` → ``targets[2].dsn``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return one_line(out)
