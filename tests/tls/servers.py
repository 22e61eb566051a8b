"""HTTPS servers on loopback for the TLS tests, with certificates made on the spot (trustme).

Each server answers every GET with 200 and the headers it was given (HSTS or none); it can
require client certificates from a CA, accept old protocols, or present any certificate
(expired, soon expiring, self-signed). Handshake failures on the server side are expected
(that is what the tests provoke) and stay silent.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import warnings
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # refused handshakes and resets are what the tests provoke


class TlsServer:
    """``with TlsServer(context, headers) as s: s.port`` — serves until the block ends."""

    def __init__(self, context: ssl.SSLContext, headers: Mapping[str, str] | None = None) -> None:
        answer = dict(headers or {})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"ok\n"
                self.send_response(200)
                for name, value in answer.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = _Quiet(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever, name="tls-test-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def server_context(cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None,
                   legacy: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def self_signed(tmp: Path, name: str = "127.0.0.1") -> ssl.SSLContext:
    """A server context presenting a certificate signed by its own key (no CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "self.pem", tmp / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
