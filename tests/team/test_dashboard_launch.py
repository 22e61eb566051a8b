"""`scaleready dashboard` refuses to serve open on a non-loopback address unless told to.

Real processes: the refusals are the command's exit code and its one line; the accepted cases
start the real server, answer its health check and are stopped again. The signed-in case is
looked at in Chromium: the first screen is a sign-in button, no readiness data.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from scaleready.demo_stack import stop_process
from tests.dashboard.conftest import free_port, shot
from tests.team.conftest import cli_env, scaleready, scaleready_background

SECRETS = """\
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "not-a-real-cookie-secret-only-for-tests"
client_id = "scaleready"
client_secret = "not-a-real-client-secret"
server_metadata_url = "{idp}/.well-known/openid-configuration"
"""


@pytest.fixture
def identity_provider() -> Iterator[str]:
    """An identity provider's discovery document and login page, over real HTTP: enough to see
    where st.login sends the browser (no token is ever issued)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                                   "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                                   "response_types_supported": ["code"], "subject_types_supported": ["public"],
                                   "id_token_signing_alg_values_supported": ["RS256"]}).encode()
                ctype = "application/json"
            elif self.path.startswith("/authorize"):
                body, ctype = b"<html><body><h1>Test IdP login</h1></body></html>", "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _serve(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = scaleready_background("dashboard", "--port", str(port), *args, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("dashboard exited: " + proc.communicate()[1])
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_process(proc)
    raise AssertionError("dashboard did not answer its health check")


def test_open_on_a_public_address_is_refused(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'store.db'}")
    refused = scaleready("dashboard", "--host", "0.0.0.0", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "refusing to serve the dashboard without sign-in on 0.0.0.0" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_sign_in_configured_but_secrets_missing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scaleready.yaml").write_text("version: 1\nauth:\n  oidc: true\n")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\ncookie_secret = "hush-hush"\n')
    env = cli_env(f"sqlite:///{tmp_path / 'store.db'}")
    refused = scaleready("dashboard", "--host", "0.0.0.0", "--secrets", str(secrets), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "missing auth.client_id; auth.client_secret; auth.server_metadata_url" in refused.stderr
    assert "hush-hush" not in refused.stderr


def test_explicitly_open_starts_and_says_so(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'store.db'}")
    proc, _url = _serve(["--host", "0.0.0.0", "--allow-unauthenticated"], env, tmp_path)
    stop_process(proc)
    assert "WARNING: serving without sign-in on 0.0.0.0" in proc.stderr.read()


@pytest.mark.browser
def test_signed_in_dashboard_opens_on_a_sign_in_screen(tmp_path: Path, page, identity_provider: str) -> None:
    (tmp_path / "scaleready.yaml").write_text("version: 1\nauth:\n  oidc: true\nroles:\n  editors: [ed@example.com]\n")
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(SECRETS.format(port=port, idp=identity_provider))
    env = cli_env(f"sqlite:///{tmp_path / 'store.db'}")
    proc = scaleready_background("dashboard", "--host", "0.0.0.0", "--port", str(port), "--secrets", str(secrets),
                                 env=env, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for(timeout=30000)
        assert page.get_by_text("Sign in to see this team's scaling readiness.").is_visible()
        shot(page, "team-sign-in")
        for name in ("Scorecard", "scorecard", "roadmap", "runs"):  # no page, no data before sign-in
            assert page.get_by_text(name, exact=True).count() == 0, name
        # Nor by a page's own address: each page asks who is there before it reads the store.
        for path in ("roadmap", "runs", "scorecard"):
            page.goto(f"{url}/{path}")
            page.get_by_role("button", name="Sign in").wait_for(timeout=30000)
            page.wait_for_load_state("networkidle")
            assert page.get_by_text("Tick an item").count() == 0 and page.get_by_text("Runs and reports").count() == 0
            assert page.get_by_text("Readiness scorecard").count() == 0, path
            assert page.get_by_text("Page not found").count() == 0, path  # a bookmark lands on sign-in
            shot(page, f"team-signed-out-{path}")
        # "Sign in" hands the browser to the identity provider with this app's client and callback.
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{identity_provider}/authorize*", timeout=30000)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
        assert query["client_id"] == ["scaleready"] and query["response_type"] == ["code"]
        assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/oauth2callback"]
        assert "openid" in query["scope"][0].split()
        assert page.get_by_text("Test IdP login").is_visible()
    finally:
        stop_process(proc)
    assert "sign-in: OpenID Connect" in proc.stderr.read()
