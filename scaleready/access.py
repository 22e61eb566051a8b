"""Who may do what in the dashboard: sign-in settings and the viewer/editor roles, without any UI.

``auth`` and ``roles`` in ``scaleready.yaml`` say whether the dashboard signs people in with
OpenID Connect (Streamlit's ``st.login``; the identity provider's client settings stay in
Streamlit's own ``secrets.toml``, mounted from a Kubernetes Secret, never in this file) and
which signed-in people are editors or viewers. Patterns are shell-style globs on the e-mail
address (``*@platform.example.com``), compared case-insensitively; editors win over viewers;
someone who matches neither gets no access at all.

Without an identity provider there is nobody to tell apart: the dashboard is one person's
tool, so it serves only a loopback address (unless explicitly told otherwise) and that
person is an editor who types their name for the audit log.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Role = Literal["viewer", "editor"]
VIEWER: Role = "viewer"
EDITOR: Role = "editor"
PERMISSIONS: dict[Role, frozenset[str]] = {
    VIEWER: frozenset({"browse", "export"}),
    EDITOR: frozenset({"browse", "export", "run", "tick", "waive", "milestone"}),
}
# The keys st.login needs in the [auth] section (or in [auth.<provider>] for the client ones).
AUTH_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class AccessConfig:
    """The ``auth`` and ``roles`` sections of the config."""

    oidc: bool = False
    provider: str | None = None
    editors: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ("*",)

    def role_for(self, email: str | None) -> Role | None:
        """The role of a signed-in address, or None when it matches no pattern."""
        if not email:
            return None
        if _matches(email, self.editors):
            return EDITOR
        if _matches(email, self.viewers):
            return VIEWER
        return None


def _matches(email: str, patterns: Iterable[str]) -> bool:
    address = email.strip().lower()
    return any(fnmatch.fnmatchcase(address, p.strip().lower()) for p in patterns)


def allows(role: Role | None, permission: str) -> bool:
    return role is not None and permission in PERMISSIONS[role]


def is_loopback(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: reachable from elsewhere


@dataclass(frozen=True)
class SecretsCheck:
    """Whether Streamlit's secrets hold what ``st.login`` needs (values are never read out)."""

    files: list[Path]
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


def default_secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for ``secrets.toml`` unless told otherwise (later files win)."""
    return [Path.home() / ".streamlit" / "secrets.toml", (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def check_oidc_secrets(files: Iterable[Path], provider: str | None = None) -> SecretsCheck:
    """Merge the ``[auth]`` sections the way Streamlit does and name every missing key."""
    files = list(files)
    auth: dict[str, object] = {}
    for path in files:
        if not path.is_file():
            continue
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            return SecretsCheck(files, [f"{path}: cannot be read as TOML ({type(exc).__name__})"])
        section = doc.get("auth")
        if isinstance(section, dict):
            auth.update(section)
    if not auth:
        where = ", ".join(str(p) for p in files) or "no secrets file"
        return SecretsCheck(files, [f"an [auth] section in Streamlit's secrets.toml ({where})"])
    missing = [f"auth.{k}" for k in AUTH_KEYS if not auth.get(k)]
    client = auth.get(provider) if provider else auth
    if not isinstance(client, dict):
        return SecretsCheck(files, [*missing, f"an [auth.{provider}] section"])
    prefix = f"auth.{provider}." if provider else "auth."
    missing += [prefix + k for k in PROVIDER_KEYS if not client.get(k)]
    return SecretsCheck(files, missing)
