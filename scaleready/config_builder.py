"""A config built from a form: rows of targets in, a validated `scaleready.yaml` text out.

The dashboard lets a person list targets without writing YAML. Secrets must stay references
(``${ENV}`` / ``${file:…}``): a literal password, token or key in the form is refused with
the row and key named, so nothing secret is ever typed into a page, a config or the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaleready.config import Config, ConfigError, parse_config
from scaleready.plugins import Registry
from scaleready.secrets import REFERENCE, URL_PASSWORD

SENSITIVE_KEY = re.compile(r"password|passwd|token|secret|signing_key|api_key|private_key", re.IGNORECASE)


@dataclass
class TargetRow:
    """One row of the form: name, kind, environment and the kind's keys as YAML (``key: value`` lines)."""

    name: str
    kind: str
    environment: str = ""
    options: str = ""
    active: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _literal_secrets(where: str, value: Any, key: str = "") -> list[str]:
    """Places where a secret is written out instead of referenced."""
    problems = []
    if isinstance(value, dict):
        for k, v in value.items():
            problems += _literal_secrets(f"{where}.{k}", v, str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problems += _literal_secrets(f"{where}[{i}]", v, key)
    elif isinstance(value, str):
        if SENSITIVE_KEY.search(key) and value and not REFERENCE.fullmatch(value.strip()):
            problems.append(f"{where}: write the secret as a reference (${{ENV}} or ${{file:/path}}), not its value")
        for match in URL_PASSWORD.finditer(value):
            if not REFERENCE.search(match.group("pw")) and "${" not in match.group("pw"):
                problems.append(f"{where}: the password in this URL must be a reference, e.g. "
                                f"{match.group('scheme')}{match.group('user')}:${{PG_PASSWORD}}@…")
    return problems


def build_config_text(rows: list[TargetRow], framework: str | None = None) -> str:
    """YAML for these rows; raises `ConfigError` naming the row and key of the first problem."""
    targets = []
    for index, row in enumerate(rows, start=1):
        where = f"target {index} ({row.name or 'unnamed'})"
        if not row.name.strip() or not row.kind.strip():
            raise ConfigError(f"{where}: needs a name and a kind")
        try:
            options = yaml.safe_load(row.options) if row.options.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{where}: its keys are not valid YAML{line}: "
                              f"{getattr(exc, 'problem', None) or exc}") from None
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: its keys must be 'key: value' lines")
        options = {**options, **row.extra}
        problems = _literal_secrets(where, options)
        if problems:
            raise ConfigError(problems[0])
        target: dict[str, Any] = {"name": row.name.strip(), "kind": row.kind.strip()}
        if row.environment.strip():
            target["environment"] = row.environment.strip()
        if row.active:
            target["active"] = True
        target.update(options)
        targets.append(target)
    doc: dict[str, Any] = {"version": 1}
    if framework:
        doc["framework"] = framework
    doc["targets"] = targets
    return yaml.safe_dump(doc, sort_keys=False)


def config_from_text(text: str, name: str = "dashboard.scaleready.yaml", base_dir: Path | None = None,
                     registry: Registry | None = None) -> Config:
    """Parse an uploaded or built config; relative paths resolve against ``base_dir`` (default: cwd).
    Literal secrets are refused here too, whichever way the text came in."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None  # parse_config reports the syntax error with its line
    if isinstance(doc, dict):
        for index, target in enumerate(doc.get("targets") or [], start=1):
            if isinstance(target, dict):
                problems = _literal_secrets(f"{name}: targets[{index - 1}] ({target.get('name', '?')})", target)
                if problems:
                    raise ConfigError(problems[0])
    return parse_config(text, (base_dir or Path.cwd()) / name, registry)
