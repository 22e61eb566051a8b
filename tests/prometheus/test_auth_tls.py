"""Authentication and TLS against a real Prometheus protected by its own web config (basic auth + HTTPS)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scaleready.api import Status
from tests.prometheus.conftest import run
from tests.support.prometheus_server import PrometheusServer

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

USER, PASSWORD = "scaleready", "correct-horse"
# bcrypt of PASSWORD (cost 12): Prometheus's web config stores only the hash.
PASSWORD_HASH = "$2b$12$t5mFAF8MGBsY6Du1Ozla6umVDKXOXt4GSntOkEeSjmwQvWkPtPh6a"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scaleready-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, Path]]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
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
