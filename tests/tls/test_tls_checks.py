"""TLS and mTLS from outside, against real HTTPS servers on loopback with certificates made here."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import checks.tls
from scaleready.api import Finding, Snapshot, Status, Target
from scaleready.engine import collect_target, evaluate
from scaleready.plugins import Registry
from tests.support.prometheus_server import free_port
from tests.tls.servers import TlsServer, self_signed, server_context

HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}


def run(options: dict[str, Any]) -> tuple[Snapshot, dict[str, Finding]]:
    reg = Registry()
    reg.add_module(checks.tls, "tls", "test")
    target = Target("edge", "tls", options, timeout=8)
    snapshot = asyncio.run(collect_target(target, reg))
    return snapshot, {f.check: f for f in evaluate(snapshot, target, reg)}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def client(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A client certificate from the internal CA, as files the config would name."""
    leaf = ca.issue_cert("orders-service")
    folder = tmp_path_factory.mktemp("client")
    cert, key = folder / "client.pem", folder / "client.key"
    for blob in leaf.cert_chain_pems:
        with cert.open("ab") as handle:
            handle.write(blob.bytes())
    leaf.private_key_pem.write_to_path(str(key))
    return {"client_cert": str(cert), "client_key": str(key)}


@pytest.fixture
def good_server(ca: trustme.CA) -> Iterator[TlsServer]:
    with TlsServer(server_context(ca.issue_cert("127.0.0.1", "localhost")), HSTS) as server:
        yield server


def test_good_public_endpoint(good_server: TlsServer, ca_file: str) -> None:
    snapshot, found = run({"host": "127.0.0.1", "port": good_server.port, "ca_file": ca_file})
    assert snapshot.error is None
    for check_id in ("tls.version", "tls.chain", "tls.expiry", "tls.hsts"):
        assert found[check_id].status is Status.PASS, (check_id, found[check_id].message)
    assert found["tls.mtls"].status is Status.SKIP
    assert snapshot.data["negotiated"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert snapshot.data["certificate"]["days_left"] > 300
    assert snapshot.data["legacy"]["accepted"] in (False, None)


def test_unknown_ca_fails_the_chain(good_server: TlsServer) -> None:
    _, found = run({"host": "127.0.0.1", "port": good_server.port, "hsts": False})
    assert found["tls.chain"].status is Status.FAIL
    assert "unable to get local issuer certificate" in found["tls.chain"].message
    assert found["tls.hsts"].status is Status.SKIP
    assert found["tls.expiry"].status is Status.PASS  # the certificate is still read and judged


def test_expired_and_soon_expiring(ca: trustme.CA, ca_file: str) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = ca.issue_cert("127.0.0.1", not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1))
    with TlsServer(server_context(expired), HSTS) as server:
        _, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file, "hsts": False})
    assert found["tls.expiry"].status is Status.FAIL and "expired on" in found["tls.expiry"].message
    assert found["tls.chain"].status is Status.FAIL and "expired" in found["tls.chain"].message
    soon = ca.issue_cert("127.0.0.1", not_before=now - dt.timedelta(days=60), not_after=now + dt.timedelta(days=10))
    with TlsServer(server_context(soon), HSTS) as server:
        _, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file})
    assert found["tls.expiry"].status is Status.FAIL and "within 21" in found["tls.expiry"].message
    assert found["tls.chain"].status is Status.PASS


def test_self_signed(tmp_path: Path) -> None:
    with TlsServer(self_signed(tmp_path)) as server:
        snapshot, found = run({"host": "127.0.0.1", "port": server.port})
    assert snapshot.data["certificate"]["self_signed"] is True
    chain = found["tls.chain"]
    assert chain.status is Status.FAIL and "self-signed" in chain.message
    assert found["tls.hsts"].status is Status.ERROR  # the HTTPS GET cannot verify either: unknown, not a pass


def test_missing_hsts_and_short_max_age(ca: trustme.CA, ca_file: str) -> None:
    cert = ca.issue_cert("127.0.0.1")
    with TlsServer(server_context(cert)) as server:
        _, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file})
    assert found["tls.hsts"].status is Status.FAIL
    with TlsServer(server_context(cert), {"Strict-Transport-Security": "max-age=300"}) as server:
        _, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file})
    assert found["tls.hsts"].status is Status.WARN


def test_mtls_required_and_proven(ca: trustme.CA, ca_file: str, client: dict[str, str]) -> None:
    context = server_context(ca.issue_cert("127.0.0.1"), client_ca=ca)
    with TlsServer(context, HSTS) as server:
        base = {"host": "127.0.0.1", "port": server.port, "ca_file": ca_file, "internal": True}
        _, found = run({**base, **client})
        assert found["tls.mtls"].status is Status.PASS, found["tls.mtls"].message
        assert found["tls.chain"].status is Status.PASS
        assert found["tls.hsts"].status is Status.PASS  # the GET presents the client certificate
        _, found = run(base)
    assert found["tls.mtls"].status is Status.ERROR and "no client_cert" in found["tls.mtls"].message


def test_mtls_not_enforced_fails(good_server: TlsServer, ca_file: str, client: dict[str, str]) -> None:
    _, found = run({"host": "127.0.0.1", "port": good_server.port, "ca_file": ca_file, "internal": True, **client})
    assert found["tls.mtls"].status is Status.FAIL and "without a certificate" in found["tls.mtls"].message


def test_wrong_client_certificate_is_refused(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    other = trustme.CA()  # a client certificate from a CA the server does not trust
    leaf = other.issue_cert("intruder")
    cert, key = tmp_path / "c.pem", tmp_path / "c.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    with TlsServer(server_context(ca.issue_cert("127.0.0.1"), client_ca=ca)) as server:
        _, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file, "internal": True,
                        "client_cert": str(cert), "client_key": str(key), "hsts": False})
    assert found["tls.mtls"].status is Status.FAIL and "configured client certificate was refused" in \
        found["tls.mtls"].message


def test_legacy_protocol_server(ca: trustme.CA, ca_file: str) -> None:
    """A server that still accepts TLS 1.0/1.1: fail when this OpenSSL can offer them, else said so."""
    with TlsServer(server_context(ca.issue_cert("127.0.0.1"), legacy=True), HSTS) as server:
        snapshot, found = run({"host": "127.0.0.1", "port": server.port, "ca_file": ca_file})
    legacy = snapshot.data["legacy"]
    if legacy["accepted"] is None:
        assert "could not be tried" in found["tls.version"].message
    else:
        assert legacy["accepted"] is True and found["tls.version"].status is Status.FAIL


def test_unreachable_and_bad_options(ca_file: str) -> None:
    snapshot, found = run({"host": "127.0.0.1", "port": free_port()})
    assert snapshot.error and "connection refused" in snapshot.error
    assert all(f.status is Status.ERROR for f in found.values())
    snapshot, _ = run({"host": "127.0.0.1", "port": 70000})
    assert snapshot.error and "port" in snapshot.error and "\n" not in snapshot.error
    snapshot, _ = run({"host": "127.0.0.1", "client_cert": "/nonexistent.pem"})
    assert snapshot.error and "client_cert" in snapshot.error
