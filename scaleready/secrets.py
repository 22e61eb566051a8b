"""Secret references in config (``${ENV}``, ``${ENV:-default}``, ``${file:/path}``) and their redaction.

Secrets are resolved only in memory, just before collection. Every resolved value is
remembered by a `Redactor` so that a driver error message or a snapshot that happens to echo
a password is scrubbed before anything is stored, printed or logged: the literal value and
the forms it takes on the wire (percent-encoded, base64 as in HTTP Basic, JSON and HTML
escaped), plus any Basic/Bearer credential and any password in a URL or DSN.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

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


def encoded_forms(secret: str) -> set[str]:
    """The forms a secret takes on its way through URLs, headers and report formats.

    A server or a driver rarely echoes a password as typed: it appears percent-encoded in a
    URL (``p%40ss``), base64-encoded in a Basic or JWT header, JSON- or HTML-escaped in a
    report. Each form is registered beside the literal value so every one is masked.
    """
    forms = {secret}
    for safe in ("", "/", ":@", "/:@!$&'()*+,;="):
        forms.add(quote(secret, safe=safe))
        forms.add(_lower_escapes(quote(secret, safe=safe)))  # %2f, as some servers write it
    forms.add(quote_plus(secret))
    forms.add(json.dumps(secret)[1:-1])
    forms.add(html.escape(secret))
    forms.add(html.escape(secret, quote=False))
    raw = secret.encode()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.update({text, text.rstrip("=")})
    forms.add(raw.hex())
    return {form for form in forms if len(form) >= MIN_SECRET}


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


MIN_SECRET = 4
"""Shorter values would mask innocent text ("on", "1"); real secrets are longer."""
BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
PERCENT_TOKEN = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")
# A credential after an auth scheme; it must hold a digit, a symbol or an inner capital, so
# prose such as "Basic authentication" or "Token verification" stays readable.
AUTH_HEADER = re.compile(r"(?P<scheme>\b(?:Basic|Bearer|Token|Digest)\s+)"
                         r"(?P<token>(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-]|[A-Za-z0-9._~+/=-]+[A-Z])"
                         r"[A-Za-z0-9._~+/=-]{8,})")


def _base64_text(token: str) -> str:
    """``token`` decoded as base64 (standard or URL-safe, padding optional), or "" if it is not."""
    padded = token + "=" * (-len(token) % 4)
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decoder(padded).decode("utf-8", errors="ignore")
        except (binascii.Error, ValueError):
            continue
    return ""


def base64_cores(secret: str) -> set[str]:
    """What base64 of *any* data containing ``secret`` must contain, whatever the alignment.

    The secret starts at some offset mod 3 inside the encoded data; from its first byte on a
    3-byte boundary, each whole group encodes to fixed characters. Those runs (three offsets,
    two alphabets) are a cheap, exact pre-filter before decoding candidate tokens.
    """
    raw = secret.encode()
    cores: set[str] = set()
    for start in range(3):
        whole = (len(raw) - start) // 3 * 3
        if whole >= 3:
            chunk = raw[start:start + whole]
            cores |= {base64.b64encode(chunk).decode(), base64.urlsafe_b64encode(chunk).decode()}
    return cores


class Redactor:
    """Scrubs known secrets (literal and encoded), credentials in URLs, DSNs and auth headers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._cores: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self._core_hint: re.Pattern[str] | None = None
        self._short_b64 = False  # a secret too short for a core: every token must be decoded
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Register secrets and every encoded form of them (see `encoded_forms`)."""
        given = {s for s in secrets if s}
        # A secret written pre-encoded into a URL (``p%40ss``) reaches the server decoded.
        given |= {unquote(s) for s in given} | {unquote_plus(s) for s in given}
        fresh = {s for s in given if len(s) >= MIN_SECRET} - self._values
        if not fresh:
            return
        self._values |= fresh
        for secret in fresh:
            self._forms |= encoded_forms(secret)
            cores = base64_cores(secret)
            self._short_b64 |= not cores
            self._cores |= cores
        # One alternation, longest first, so a form is masked whole before any part of it.
        alternatives = sorted(self._forms, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, alternatives)))
        cores = sorted(self._cores, key=len, reverse=True)
        self._core_hint = re.compile("|".join(map(re.escape, cores))) if cores else None

    def _holds_secret(self, decoded: str) -> bool:
        return any(secret in decoded for secret in self._values)

    def _might_hold_base64(self, text: str) -> bool:
        return self._short_b64 or (self._core_hint is not None and self._core_hint.search(text) is not None)

    def text(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
            # Forms not registered: base64 of "user:password" (HTTP Basic), of a JSON claim, a
            # secret percent-encoded inside a longer token. Decode candidates and look inside.
            if self._might_hold_base64(text):
                text = BASE64_TOKEN.sub(lambda m: MASK if self._holds_secret(_base64_text(m[0])) else m[0], text)
            if "%" in text:
                text = PERCENT_TOKEN.sub(lambda m: MASK if self._holds_secret(unquote(m[0])) else m[0], text)
        text = AUTH_HEADER.sub(lambda m: f"{m['scheme']}{MASK}", text)
        text = URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return KEYWORD_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value
