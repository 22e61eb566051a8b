"""Sign-in and roles, through Streamlit's AppTest on the real app and pages with a real SQLite store.

A viewer browses but cannot tick or waive (no form, and the store the pages get refuses the
write); an editor's tick is audited under the signed-in address, not a typed name; an address
the roles do not name gets nothing; without an identity provider the dashboard is local-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from scaleready.access import AccessConfig, check_oidc_secrets, is_loopback
from scaleready.config import ConfigError, parse_config
from scaleready.runner import resolve_framework
from scaleready.shards import Shard, execute_shard
from scaleready.store import Store
from tests.team.conftest import REPO

APP = str(REPO / "dashboard" / "app.py")
TEAM_CONFIG = """\
version: 1
auth:
  oidc: true
roles:
  editors: ["ed@example.com", "*@platform.example.com"]
  viewers: ["*@example.com"]
"""
EDITOR = {"is_logged_in": True, "email": "ed@example.com", "name": "Ed Itor"}
VIEWER = {"is_logged_in": True, "email": "vera@example.com", "name": "Vera View"}


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("SCALEREADY_DATABASE_URL", url)
    monkeypatch.delenv("SCALEREADY_ALLOW_UNAUTHENTICATED", raising=False)
    st.cache_resource.clear()  # the app opens the store once per process: not across tests
    st.cache_data.clear()
    yield url
    st.cache_resource.clear()


@pytest.fixture
def team_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Path:
    path = tmp_path / "scaleready.yaml"
    path.write_text(TEAM_CONFIG)
    monkeypatch.setenv("SCALEREADY_CONFIG", str(path))
    return path


def roadmap_as(user: dict, sidebar_says: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = dict(user)
    at.run()
    assert not at.exception, at.exception
    assert any(sidebar_says in c.value for c in at.sidebar.caption)  # the first page's sidebar names the user
    at.switch_page("pages/roadmap.py").run()
    assert not at.exception, at.exception
    return at


def test_roles_from_config() -> None:
    access = parse_config(TEAM_CONFIG).access
    assert access.oidc
    assert access.role_for("ED@example.com") == "editor"
    assert access.role_for("ops@platform.example.com") == "editor"
    assert access.role_for("vera@example.com") == "viewer"
    assert access.role_for("mallory@evil.example.org") is None
    assert access.role_for("") is None
    assert AccessConfig().role_for("anyone@anywhere") == "viewer"  # default: every signed-in person may look
    with pytest.raises(ConfigError, match=r"scaleready.yaml:3: roles.editor: unknown key"):
        parse_config("version: 1\nroles:\n  editor: [a@b]\n")
    with pytest.raises(ConfigError, match=r"auth.oidc"):
        parse_config("version: 1\nauth:\n  oidc: perhaps\n")


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.5"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.4", "dashboard.example.com"))


def test_oidc_secrets_are_checked_by_key_without_reading_values_out(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    assert check_oidc_secrets([secrets]).missing[0].startswith("an [auth] section")
    secrets.write_text('[auth]\nredirect_uri = "https://rd.example.com/oauth2callback"\ncookie_secret = "s3cr3t"\n'
                       'client_id = "scaleready"\nserver_metadata_url = "https://idp/.well-known/openid-configuration"\n')
    check = check_oidc_secrets([secrets])
    assert check.missing == ["auth.client_secret"]
    assert "s3cr3t" not in " ".join(check.missing)
    assert check_oidc_secrets([secrets], provider="okta").missing == ["an [auth.okta] section"]


def test_viewer_cannot_tick_or_waive(team_config: Path, store_url: str) -> None:
    at = roadmap_as(VIEWER, sidebar_says="Signed in: Vera View <vera@example.com> · viewer")
    assert not at.get("form"), "a viewer is shown the tick form"
    assert not any(b.label == "Save tick" for b in at.button)
    assert any("You are a viewer" in i.value for i in at.info)

    # Not only hidden: the store the pages are given refuses a viewer's writes, whatever a page does.
    script = AppTest.from_string(
        "import streamlit as st\n"
        "from dashboard.state import store_or_stop\n"
        "store = store_or_stop()\n"
        "for attempt in (lambda: store.add_waiver('kubernetes.chaos', 'no', 'vera@example.com'),\n"
        "                lambda: store.set_item_state('scaling-guide', 'x', 'done', 'vera@example.com'),\n"
        "                lambda: store.revoke_waiver(1, 'vera@example.com')):\n"
        "    try:\n"
        "        attempt()\n"
        "        st.write('WROTE')\n"
        "    except PermissionError as exc:\n"
        "        st.write(f'refused: {exc}')\n", default_timeout=30)
    script.user = dict(VIEWER)
    script.run()
    assert not script.exception, script.exception
    said = [m.value for m in script.markdown]
    assert len(said) == 3 and all(s.startswith("refused: ") and "editors only" in s for s in said), said
    store = Store(store_url)
    assert store.waivers() == [] and store.item_states("scaling-guide") == {}
    assert not [e for e in store.audit_log() if e.action != "run.stored"]


def test_editor_ticks_and_the_audit_names_the_signed_in_user(team_config: Path, store_url: str) -> None:
    at = roadmap_as(EDITOR, sidebar_says="Signed in: Ed Itor <ed@example.com> · editor")
    framework = resolve_framework(None)
    item = next(i for i in framework.items if i.kind == "manual")
    who = next(t for t in at.text_input if t.label == "Who")
    assert who.value == "ed@example.com" and who.disabled
    at.selectbox[0].select(item.id)
    at.selectbox[1].select("done")
    next(t for t in at.text_input if t.label.startswith("Why")).input("load test report LT-7")
    next(b for b in at.button if b.label == "Save tick").click().run()
    assert not at.exception, at.exception

    store = Store(store_url)
    state = store.item_states(framework.id)[item.id]
    assert (state.state, state.actor, state.note) == ("done", "ed@example.com", "load test report LT-7")
    event = store.audit_log(1)[0]
    assert (event.action, event.actor, event.subject) == ("item.state", "ed@example.com", f"{framework.id}:{item.id}")

    # A page that passes some other name still cannot put it in the audit log.
    script = AppTest.from_string(
        "from dashboard.state import store_or_stop\n"
        "store_or_stop().add_waiver('kubernetes.chaos', 'drills next quarter', actor='someone-else')\n",
        default_timeout=30)
    script.user = dict(EDITOR)
    script.run()
    assert not script.exception, script.exception
    waiver = store.waivers()[0]
    assert waiver.actor == "ed@example.com"
    assert store.audit_log(1)[0].actor == "ed@example.com"


def test_unknown_address_and_signed_out_get_nothing(team_config: Path, store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "mallory@evil.example.org"}
    at.run()
    assert not at.exception
    assert any("gives that address no role" in e.value for e in at.error)
    assert not at.get("form") and not any(b.label == "Save tick" for b in at.button)

    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.title or at.title[0].value == "scaleready"  # no scorecard, no data before sign-in


@pytest.fixture
def server_address():
    """Set Streamlit's server.address for the AppTest runs of one test, then put it back."""
    from streamlit import config

    before = config.get_option("server.address")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", before)


def test_local_mode_without_identity_provider(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path, server_address) -> None:
    monkeypatch.delenv("SCALEREADY_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no scaleready.yaml here
    for address in ("0.0.0.0", None):  # None: `streamlit run` without an address listens everywhere
        server_address(address)
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception
        assert any("no sign-in configured and is not on a loopback address" in e.value for e in at.error), address
        assert not at.button and not at.get("form")
    server_address("127.0.0.1")  # as `scaleready dashboard` starts it by default
    at = roadmap_as({}, sidebar_says="Local mode")
    who = next(t for t in at.text_input if t.label == "Who")
    assert not who.disabled
    who.input("Lee Local")
    next(b for b in at.button if b.label == "Save tick").click().run()
    assert not at.exception
    assert Store(store_url).audit_log(1)[0].actor == "Lee Local"


def test_a_broken_config_fails_closed(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "scaleready.yaml"
    bad.write_text("version: 1\nroles:\n  editors: oops-not-a-list\n")
    monkeypatch.setenv("SCALEREADY_CONFIG", str(bad))
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = dict(EDITOR)
    at.run()
    assert not at.exception
    assert any("nobody can be let in" in e.value and "roles.editors" in e.value for e in at.error)
    assert not at.button


def test_scorecard_shows_an_incomplete_sharded_run_and_viewers_cannot_run(team_config: Path, store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = dict(VIEWER)
    at.run()
    assert not at.exception
    assert not any(b.label == "Run the demo checks" for b in at.button)  # an empty store: viewers cannot run
    assert any("An editor can run the demo checks." in c.value for c in at.caption)

    config = parse_config(yaml_targets(4), "/tmp/scaleready.yaml")
    execute_shard(config, Shard(1, 2), "nightly-7", Store(store_url))  # shard 2/2 never reports
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = dict(VIEWER)
    at.run()
    assert not at.exception, at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "Incomplete sharded run" in warning and "shard(s) 2 missing" in warning and "k8s-1, k8s-3" in warning


def yaml_targets(n: int) -> str:
    return "version: 1\ntargets:\n" + "".join(
        f"  - name: k8s-{i}\n    kind: kubernetes\n    manifests: [{REPO / 'data/demo/k8s/cart-service'}]\n"
        for i in range(n))


def test_a_viewer_browses_every_page_of_a_stored_run(team_config: Path, store_url: str) -> None:
    config = parse_config(yaml_targets(2), "/tmp/scaleready.yaml")
    execute_shard(config, Shard(1, 1), "one-shard", Store(store_url))
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = dict(VIEWER)
    at.run()
    assert not at.exception, at.exception
    assert any(t.value == "Readiness scorecard" for t in at.title)
    assert not at.warning  # a one-shard run is complete
    for page, title in (("pages/roadmap.py", "Roadmap and checklist"), ("pages/runs.py", "Runs and reports")):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert [t.value for t in at.title] == [title]
        assert not at.error, [e.value for e in at.error]
