"""Sign-in and roles for the dashboard: who is looking, and what the pages let them change.

`sign_in()` runs first on every script run (from app.py). With ``auth.oidc`` in the config it
requires an OpenID Connect sign-in through ``st.login`` and maps the address to a role from
``roles``; otherwise the dashboard is one person's local tool (loopback only, that person is an
editor). Pages read the result with `current()`.

Enforcement does not rely on pages hiding buttons: `GuardedStore` (what `store_or_stop` hands
out) refuses every write to a viewer and stamps the signed-in address as the ``actor`` of every
write, so each audit event names the person, whatever a page passes.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import streamlit as st

from scaleready.access import EDITOR, AccessConfig, Role, allows, is_loopback
from scaleready.config import ConfigError, load_config

CONFIG_ENV = "SCALEREADY_CONFIG"
ALLOW_OPEN_ENV = "SCALEREADY_ALLOW_UNAUTHENTICATED"
_SESSION_KEY = "scaleready_identity"
# Store methods that change something: by name, so methods added later are covered by their verb.
WRITE_PREFIXES = ("set_", "add_", "save_", "revoke_", "create_", "sign_", "delete_", "update_", "record_",
                  "waive", "unwaive", "tick", "audit", "flush", "import_")
READ_ONLY_EXCEPTIONS = frozenset({"audit_log"})


@dataclass(frozen=True)
class Identity:
    """The person using this session. ``email`` is None in local mode (nobody signed in)."""

    role: Role
    email: str | None = None
    name: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.email is not None

    @property
    def actor(self) -> str | None:
        """The name audit events carry: the signed-in address (local mode: whatever was typed)."""
        return self.email

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)

    def label(self) -> str:
        who = f"{self.name} <{self.email}>" if self.name and self.email else (self.email or "local user")
        return f"{who} · {self.role}"


@st.cache_data(show_spinner=False, max_entries=4)
def _access_of(path: str, mtime_ns: int) -> AccessConfig:
    """Read once per version of the file (the mtime is the cache key), not on every rerun."""
    return load_config(path).access


def access_config() -> AccessConfig:
    """The ``auth``/``roles`` sections of the config the dashboard was started with (none: local mode).
    A config that cannot be read stops the app: failing open would hand out editor rights."""
    path = os.environ.get(CONFIG_ENV)
    if not path and Path("scaleready.yaml").is_file():
        path = "scaleready.yaml"
    if not path:
        return AccessConfig()
    try:
        mtime_ns = Path(path).stat().st_mtime_ns
    except OSError:
        mtime_ns = 0  # load_config says what is wrong with the path
    try:
        return _access_of(path, mtime_ns)
    except ConfigError as exc:
        st.error(f"The dashboard's config cannot be read, so nobody can be let in: {exc}")
        _stop_here()
        raise  # unreachable


def _nothing_to_show() -> None:
    """The only page of a session that is not let in."""


def _stop_here() -> None:
    """Stop before the app's pages exist for this session. Hidden stand-ins under the pages'
    addresses keep a bookmarked /roadmap on this screen (not a "page not found" dialog) and keep
    Streamlit from offering the files in pages/ as a navigation of their own."""
    addresses = sorted(p.stem for p in (Path(__file__).parent / "pages").glob("*.py") if p.stem != "__init__")
    stand_ins = [st.Page(_nothing_to_show, title="scaleready", default=True)]
    stand_ins += [st.Page(_nothing_to_show, title="scaleready", url_path=a) for a in addresses]
    st.navigation(stand_ins, position="hidden")
    st.stop()


def _server_is_local() -> bool:
    """Unset means Streamlit listens on every interface (`streamlit run` without an address):
    not local. `scaleready dashboard` always passes the address it was given."""
    address = st.get_option("server.address")
    return bool(address) and is_loopback(str(address))


def sign_in() -> Identity:
    """Who is using this session; stops the script with a sign-in screen until that is known."""
    access = access_config()
    if not access.oidc:
        if not _server_is_local() and os.environ.get(ALLOW_OPEN_ENV) != "1":
            st.error("This dashboard has no sign-in configured and is not on a loopback address. "
                     "Configure `auth: {oidc: true}` or start it with `--allow-unauthenticated`.")
            _stop_here()
        identity = Identity(role=EDITOR)
        st.sidebar.caption("Local mode: no sign-in (loopback only). Everyone who can open it is an editor.")
    else:
        identity = _oidc_identity(access)
    st.session_state[_SESSION_KEY] = identity
    return identity


def _oidc_identity(access: AccessConfig) -> Identity:
    if not st.user.is_logged_in:
        st.title("scaleready")
        st.write("Sign in to see this team's scaling readiness.")
        if st.button("Sign in", type="primary"):
            st.login(access.provider)
        _stop_here()
    email = str(st.user.get("email") or "")
    name = st.user.get("name")
    role = access.role_for(email)
    if role is None:
        st.error(f"You are signed in as {email or 'an account without an e-mail address'}, "
                 "but the config gives that address no role. Ask an editor to add it under `roles`.")
        if st.button("Sign out"):
            st.logout()
        _stop_here()
    identity = Identity(role=role, email=email, name=str(name) if name else None)
    with st.sidebar:
        st.caption(f"Signed in: {identity.label()}")
        if st.button("Sign out", key="scaleready_sign_out"):
            st.logout()
    return identity


def current() -> Identity:
    """The identity `sign_in` established for this session (a page run alone: sign in now)."""
    identity = st.session_state.get(_SESSION_KEY)
    return identity if isinstance(identity, Identity) else sign_in()


class GuardedStore:
    """A `Store` as one person may use it: reads pass through; writes need the editor role and
    carry the signed-in address as their actor."""

    def __init__(self, store: Any, identity: Identity) -> None:
        self._store = store
        self._identity = identity

    @property
    def identity(self) -> Identity:
        return self._identity

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr) or name in READ_ONLY_EXCEPTIONS or not name.startswith(WRITE_PREFIXES):
            return attr
        return self._guarded(name, attr)

    def _guarded(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        identity = self._identity

        @wraps(method)
        def write(*args: Any, **kwargs: Any) -> Any:
            if identity.role != EDITOR:
                raise PermissionError(f"{identity.label()} may not {name.replace('_', ' ')}: editors only")
            if identity.actor is not None:
                try:
                    bound = inspect.signature(method).bind_partial(*args, **kwargs)
                except TypeError:
                    return method(*args, **kwargs)
                if "actor" in inspect.signature(method).parameters:
                    bound.arguments["actor"] = identity.actor
                    return method(*bound.args, **bound.kwargs)
            return method(*args, **kwargs)

        return write
