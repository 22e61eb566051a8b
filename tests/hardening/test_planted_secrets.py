"""Planted secrets never leave memory, in any form: not in a report, a store row or a log.

Secrets with URL-special characters are referenced from the config (``${ENV}``) for every
target kind, and every target answers with a server that echoes credentials back: HTTP 500
bodies quoting the ``Authorization`` header (base64 of ``user:password``, a bearer token),
a Redis that quotes the AUTH command, secrets in a URL path that clients percent-encode.
The real program runs (``scaleready check``, then ``scaleready report`` in every format);
then every output, every cell of every store table and everything logged is searched for
each secret in literal and encoded form (base64 in both alphabets with and without
padding, base64 of ``user:secret``, percent-encoded, JSON- and HTML-escaped, hex).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import yaml

from scaleready.secrets import MASK, Redactor
from tests.support.fault_server import FaultServer

REPO = Path(__file__).resolve().parents[2]
SCALEREADY = str(Path(sys.executable).parent / "scaleready")
FORMATS = ("table", "json", "sarif", "junit", "markdown", "html", "pdf")
USER = "scaleready"
SECRETS = {
    "HTTP_PASSWORD": "Hp9-wQ.s3cr3t_X",       # userinfo of the http target: Basic auth
    "PATH_TOKEN": "tok/en@s3cr3t+%=~",       # in a URL path: stored percent-encoded
    "PROM_PASSWORD": "Pr0m&p@ss w0rd/\"<x>",  # Basic auth to Prometheus, quoted in its error
    "REDIS_PASSWORD": "R3d1s-s3cr3t!#$",     # quoted back by the Redis server's error
    "K8S_TOKEN": "k8s-b3arer-t0ken.s3cr3t",  # the token file a kubeconfig would hold
    "PG_PASSWORD": "Pg/s3cr3t@&?=",          # in a DSN (encoded, as libpq needs it)
}


def forms(secret: str, user: str = USER) -> dict[str, str]:
    """Every encoded form we look for: a hit in any of them is a leak."""
    raw = secret.encode()
    out = {"literal": secret, "quote": quote(secret, safe=""), "quote/": quote(secret), "quote_plus": quote_plus(secret),
           "quote lower": re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="")), "json": json.dumps(secret)[1:-1],
           "html": html.escape(secret), "hex": raw.hex()}
    for name, encoded in (("b64", base64.b64encode(raw)), ("b64url", base64.urlsafe_b64encode(raw)),
                          ("basic", base64.b64encode(f"{user}:{secret}".encode())),
                          ("basic-empty-user", base64.b64encode(f":{secret}".encode()))):
        out[name] = encoded.decode()
        out[name + " unpadded"] = encoded.decode().rstrip("=")
    return {k: v for k, v in out.items() if len(v) >= 6}


def leaks(text: str) -> list[str]:
    found = []
    for env, secret in SECRETS.items():
        for name, form in forms(secret).items():
            if form in text:
                found.append(f"{env} as {name}")
    return found


def _kubeconfig(folder: Path, url: str) -> str:
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"tokenFile": str(folder / "token")}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
    (folder / "token").write_text(SECRETS["K8S_TOKEN"])
    return str(path)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def test_redactor_masks_encoded_forms_of_every_secret() -> None:
    redactor = Redactor(SECRETS.values())
    for secret in SECRETS.values():
        for name, form in forms(secret).items():
            text = f"server said: got {form} in the request"
            assert form not in redactor.text(text), (name, form)
        basic = base64.b64encode(f"someone-else:{secret}".encode()).decode()
        assert MASK in redactor.text(f"Authorization: Basic {basic}")
    # a bearer credential or a URL password the redactor never heard of is masked by shape
    assert "abcdefgh12345678" not in Redactor().text("Authorization: Bearer abcdefgh12345678")
    assert "hunter22" not in Redactor().text("postgresql://u:hunter22@db/app")
    # innocent text stays readable
    for prose in ("deployment my-app-7d9f8 is ready", "Basic authentication is enabled", "Token verification failed"):
        assert Redactor(SECRETS.values()).text(prose) == prose


def test_planted_secrets_leak_into_no_report_store_row_or_log(tmp_path: Path) -> None:
    with FaultServer("echo") as http_srv, FaultServer("echo") as prom_srv, FaultServer("resp-echo") as redis_srv, \
            FaultServer("echo") as k8s_srv:
        config = {
            "version": 1,
            "targets": [
                {"name": "api", "kind": "http", "timeout": 5,
                 "url": f"http://{USER}:${{HTTP_PASSWORD}}@127.0.0.1:{http_srv.port}/svc/${{PATH_TOKEN}}/"},
                {"name": "prom", "kind": "prometheus", "timeout": 5, "url": prom_srv.url, "username": USER,
                 "password": "${PROM_PASSWORD}"},
                {"name": "cache", "kind": "redis", "timeout": 5,
                 "url": f"redis://:${{REDIS_PASSWORD_ENC}}@127.0.0.1:{redis_srv.port}/0"},
                {"name": "cluster", "kind": "kubernetes", "timeout": 5, "kubeconfig": _kubeconfig(tmp_path, k8s_srv.url)},
                {"name": "db", "kind": "postgres", "timeout": 5,
                 "dsn": "postgresql://postgres:${PG_PASSWORD_ENC}@127.0.0.1:5432/postgres?sslmode=disable"},
            ],
        }
        path = tmp_path / "scaleready.yaml"
        path.write_text(yaml.safe_dump(config))
        store = tmp_path / "store.db"
        env = {**os.environ, **SECRETS, "SCALEREADY_DATABASE_URL": f"sqlite:///{store}",
               "REDIS_PASSWORD_ENC": quote(SECRETS["REDIS_PASSWORD"], safe=""),
               "PG_PASSWORD_ENC": quote(SECRETS["PG_PASSWORD"], safe="")}
        outputs: dict[str, str] = {}
        result = subprocess.run([SCALEREADY, "check", "-c", str(path), "-f", "json", "-o", str(tmp_path / "run.json")],
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert result.returncode in (0, 3), result.stderr[-2000:]
        outputs["check stderr"] = result.stdout + result.stderr
        echoed = b"".join(http_srv.requests + prom_srv.requests + redis_srv.requests + k8s_srv.requests)
    # the servers really were sent the credentials, so there was something to leak
    assert base64.b64encode(f"{USER}:{SECRETS['HTTP_PASSWORD']}".encode()) in echoed
    assert base64.b64encode(f"{USER}:{SECRETS['PROM_PASSWORD']}".encode()) in echoed
    assert SECRETS["REDIS_PASSWORD"].encode() in echoed and SECRETS["K8S_TOKEN"].encode() in echoed
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        result = subprocess.run([SCALEREADY, "report", "--run", "latest", "-f", fmt, "-o", str(out)],
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        if result.returncode != 0 and "choose one of" in result.stderr + result.stdout:
            continue  # `report` renders a subset of formats; `check` renders the rest below
        assert result.returncode == 0, (fmt, result.stderr[-2000:])
        data = out.read_bytes()
        outputs[f"report {fmt}"] = _pdf_text(data) + data.decode("latin-1") if fmt == "pdf" else data.decode()
        outputs[f"report {fmt} stderr"] = result.stderr
    outputs["check json"] = (tmp_path / "run.json").read_text()
    report = json.loads(outputs["check json"])
    messages = {f["target"]: f["message"] for f in report["findings"] if f["status"] == "error"}
    assert "500" in messages.get("prom", "") or "cannot serve" in messages.get("prom", ""), messages
    with sqlite3.connect(store) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            outputs[f"store {table}"] = "\n".join(
                str(cell.decode("latin-1") if isinstance(cell, bytes) else cell) for row in rows for cell in row)
    assert any("cannot serve" in text for name, text in outputs.items() if name.startswith("store")), \
        "the echoed error text never reached the store: nothing was tested"
    found = {name: leaks(text) for name, text in outputs.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}
