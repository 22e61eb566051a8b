"""Authentication and TLS against a real Prometheus protected by its own web config (basic auth + HTTPS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaleready.api import Status
from tests.http.server import self_signed
from tests.prometheus.conftest import run
from tests.support.prometheus_server import PrometheusServer

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

USER, PASSWORD = "scaleready", "correct-horse"
# bcrypt of PASSWORD (cost 12): Prometheus's web config stores only the hash.
PASSWORD_HASH = "$2b$12$t5mFAF8MGBsY6Du1Ozla6umVDKXOXt4GSntOkEeSjmwQvWkPtPh6a"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    web = {"tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
           "basic_auth_users": {USER: PASSWORD_HASH}}
    with PrometheusServer([], web_config=web) as prom:
        yield prom, cert


def test_basic_auth_over_verified_tls_reaches_the_api(secured):
    prom, cert = secured
    assert prom.url.startswith("https://")
    snapshot, _ = run({"url": prom.url, "username": USER, "password": PASSWORD, "ca_file": str(cert)})
    assert snapshot.error is None and snapshot.errors == {}
    assert snapshot.data["server"]["version"]
    assert PASSWORD not in json.dumps(snapshot.to_json(), default=str)


def test_wrong_password_is_a_readable_credentials_error(secured):
    prom, cert = secured
    snapshot, findings = run({"url": prom.url, "username": USER, "password": "nope", "ca_file": str(cert)})
    assert snapshot.error == f"Prometheus at {prom.url} refused the credentials (HTTP 401)"
    assert all(f.status is Status.ERROR for f in findings)


def test_untrusted_certificate_fails_unless_verification_is_off(secured):
    prom, _ = secured
    snapshot, _ = run({"url": prom.url, "username": USER, "password": PASSWORD})
    assert snapshot.error and snapshot.error.startswith(f"cannot reach Prometheus at {prom.url}: TLS certificate verification failed")
    snapshot, _ = run({"url": prom.url, "username": USER, "password": PASSWORD, "verify_tls": False})
    assert snapshot.error is None


def test_unreadable_ca_file_is_a_config_error(secured, tmp_path: Path):
    prom, _ = secured
    snapshot, _ = run({"url": prom.url, "ca_file": str(tmp_path / "missing.pem")})
    assert snapshot.error and snapshot.error.startswith("cannot load ca_file")
