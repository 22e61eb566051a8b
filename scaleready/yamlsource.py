"""YAML loading that remembers where every value came from, for errors that name a line.

A config or framework error is only useful if it says *where*: "scaleready.yaml:14:
targets[2].dnss: unknown key". PyYAML's composed node tree carries those marks; we build the
plain Python value and a map from key path to line number in one walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """The file is not valid YAML; the message names file, line and column."""


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


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], loader: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, child, lines, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_with_lines(text: str, file: str | Path = "<string>") -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data plus its `SourceMap`."""
    source = SourceMap(str(file))
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, source
        return _construct(node, (), source.lines, loader), source
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        message = f"{where}: invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(message) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{file}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def format_path(path: PathKey) -> str:
    """``("targets", 2, "dsn")`` → ``targets[2].dsn``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
