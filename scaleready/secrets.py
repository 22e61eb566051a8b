"""Secret references in config (``${ENV}``, ``${ENV:-default}``, ``${file:/path}``) and their redaction.

Secrets are resolved only in memory, just before collection. Every resolved value is
remembered by a `Redactor` so that a driver error message or a snapshot that happens to echo
a password is scrubbed before anything is stored, printed or logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REFERENCE = re.compile(r"\$\{(?P<body>[^}]+)\}")
URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
KEYWORD_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
MASK = "***"


class SecretError(ValueError):
    """A referenced secret could not be resolved (unset variable, unreadable file)."""


def resolve_string(text: str, base_dir: Path | None = None) -> tuple[str, list[str]]:
    """Expand every reference in ``text``; returns the value and the secret parts it used."""
    used: list[str] = []

    def expand(match: re.Match[str]) -> str:
        body = match.group("body")
        if body.startswith("file:"):
            path = Path(body[5:]).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                value = path.read_text().strip()
            except OSError as exc:
                raise SecretError(f"secret file {path} cannot be read: {exc.strerror}") from None
        else:
            name, _, default = body.partition(":-")
            value = os.environ.get(name, default if ":-" in body else None)
            if value is None:
                raise SecretError(f"environment variable {name} is not set")
        used.append(value)
        return value

    return REFERENCE.sub(expand, text), used


def resolve(value: Any, base_dir: Path | None = None) -> tuple[Any, list[str]]:
    """Resolve references anywhere inside a JSON-like value."""
    if isinstance(value, str):
        return resolve_string(value, base_dir)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        used: list[str] = []
        for k, v in value.items():
            out[k], parts = resolve(v, base_dir)
            used += parts
        return out, used
    if isinstance(value, list):
        items, used = [], []
        for v in value:
            item, parts = resolve(v, base_dir)
            items.append(item)
            used += parts
        return items, used
    return value, []


class Redactor:
    """Scrubs known secret values, and passwords embedded in URLs or DSNs, from any JSON value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask innocent text ("on", "1"); real secrets are longer.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted(set(self._secrets) | {s for s in secrets if s and len(s) >= 4},
                               key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return KEYWORD_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value
