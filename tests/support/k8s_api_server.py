"""A local stand-in for a Kubernetes API server, for testing live mode without a cluster.

No real API server can run here, so this serves the requests the official ``kubernetes``
client makes with the JSON a real kube-apiserver returns: ``/version``, discovery (``/api``,
``/apis``, ``/apis/<group>/<version>``), lists as ``<Kind>List`` with ``apiVersion``,
``metadata.resourceVersion`` and paging through ``limit``/``continue`` (built-in list items
carry no kind/apiVersion of their own, custom-resource items do, as on a real server),
``Status`` bodies for 401, 403 (with the RBAC wording) and 404 (unknown group, resource or
object). Custom resources exist only when the fixture holds their CustomResourceDefinition,
exactly like a cluster. It speaks HTTPS with a throw-away self-signed certificate, and
`write_kubeconfig` points a kubeconfig at it with a bearer token.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True)
class _Res:
    kind: str
    group: str
    versions: tuple[str, ...]
    plural: str
    namespaced: bool


BUILTINS = (
    _Res("Namespace", "", ("v1",), "namespaces", False),
    _Res("Node", "", ("v1",), "nodes", False),
    _Res("Service", "", ("v1",), "services", True),
    _Res("ConfigMap", "", ("v1",), "configmaps", True),
    _Res("Secret", "", ("v1",), "secrets", True),
    _Res("Pod", "", ("v1",), "pods", True),
    _Res("Deployment", "apps", ("v1",), "deployments", True),
    _Res("StatefulSet", "apps", ("v1",), "statefulsets", True),
    _Res("DaemonSet", "apps", ("v1",), "daemonsets", True),
    _Res("Job", "batch", ("v1",), "jobs", True),
    _Res("CronJob", "batch", ("v1",), "cronjobs", True),
    _Res("HorizontalPodAutoscaler", "autoscaling", ("v2", "v1"), "horizontalpodautoscalers", True),
    _Res("PodDisruptionBudget", "policy", ("v1",), "poddisruptionbudgets", True),
    _Res("NetworkPolicy", "networking.k8s.io", ("v1",), "networkpolicies", True),
    _Res("CustomResourceDefinition", "apiextensions.k8s.io", ("v1",), "customresourcedefinitions", False),
)


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


def _self_signed(tmp: str) -> tuple[str, str, bytes]:
    """(cert file, key file, cert PEM) for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = os.path.join(tmp, "apiserver.crt"), os.path.join(tmp, "apiserver.key")
    with open(cert_file, "wb") as fh:
        fh.write(pem)
    with open(key_file, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_file, key_file, pem


class FakeApiServer:
    """Serves ``objects`` as a kube-apiserver would. Use as a context manager.

    ``forbidden`` names resources the identity may not list, as ``plural.group`` (everywhere),
    ``plural.group@cluster`` (at cluster scope only) or ``plural.group@namespace`` (only there).
    ``broken`` resources answer 500, ``slow`` ones wait that many seconds first.
    ``requests`` records every (method, path). ``pod_logs`` maps ``namespace/pod`` to the text
    its ``/log`` subresource answers (``tailLines`` honoured); pod lists honour equality
    ``labelSelector``s.
    """

    def __init__(self, objects: Iterable[dict[str, Any]], *, token: str = "test-token",
                 forbidden: Iterable[str] = (), tls: bool = True, git_version: str = "v1.30.2",
                 broken: Iterable[str] = (), slow: dict[str, float] | None = None,
                 pod_logs: dict[str, str] | None = None) -> None:
        self.objects = [json.loads(json.dumps(o)) for o in objects]
        self.pod_logs = dict(pod_logs or {})
        self.token = token
        self.forbidden = set(forbidden)
        self.broken = set(broken)
        self.slow = dict(slow or {})
        self.tls = tls
        self.git_version = git_version
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._tmp = tempfile.mkdtemp(prefix="fake-apiserver-")
        self._resource_version = 48213
        self._resources = self._build_resources()
        self._stamp_objects()
        self.ca_pem: bytes | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- fixture ------------------------------------------------------------------------------
    def _build_resources(self) -> list[_Res]:
        resources = list(BUILTINS)
        for crd in self.objects:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            versions = tuple(v["name"] for v in spec.get("versions") or [] if v.get("served", True))
            resources.append(_Res(names["kind"], spec["group"], versions, names["plural"],
                                  spec.get("scope", "Namespaced") == "Namespaced"))
        return resources

    def _stamp_objects(self) -> None:
        for obj in self.objects:
            meta = obj.setdefault("metadata", {})
            self._resource_version += 1
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("resourceVersion", str(self._resource_version))
            meta.setdefault("creationTimestamp", "2026-01-12T09:30:00Z")
            meta.setdefault("managedFields", [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                               "apiVersion": obj.get("apiVersion"), "fieldsType": "FieldsV1",
                                               "fieldsV1": {"f:metadata": {}}}])
            if obj.get("kind") == "CustomResourceDefinition":
                spec = obj.get("spec") or {}
                meta["name"] = f"{spec['names']['plural']}.{spec['group']}"

    def _group_of(self, obj: dict[str, Any]) -> str:
        api_version = str(obj.get("apiVersion") or "")
        return api_version.split("/", 1)[0] if "/" in api_version else ""

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                code, body = server.handle("GET", self.path, self.headers.get("Authorization"))
                text = isinstance(body, str)  # a pod's log: plain text, as a real server sends it
                raw = body.encode() if text else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Audit-Id", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(raw)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that timed out and hung up is expected, not news

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            cert, key, self.ca_pem = _self_signed(self._tmp)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def write_kubeconfig(self, path: str | None = None, *, context: str = "fake-cluster",
                         token: str | None = None) -> str:
        """A kubeconfig pointing at this server with a bearer token; returns its path."""
        path = path or os.path.join(self._tmp, "kubeconfig")
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "reader", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "fake", "user": "reader", "namespace": "default"}}],
            "current-context": context,
        }
        with open(path, "w") as fh:
            yaml.safe_dump(doc, fh)
        return path

    # -- request handling ---------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, auth: str | None) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, raw_path))
        scheme, _, credential = (auth or "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.token:  # scheme is case-insensitive
            return 401, _status(401, "Unauthorized", "Unauthorized")
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segs = [s for s in parts.path.split("/") if s]
        if segs == ["version"]:
            return 200, {"major": "1", "minor": self.git_version.split(".")[1], "gitVersion": self.git_version,
                         "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                         "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
        if segs == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}
        if segs == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()}
        if segs and segs[0] == "api" and len(segs) >= 2:
            return self._route("", segs[1], segs[2:], query)
        if segs and segs[0] == "apis" and len(segs) >= 3:
            return self._route(segs[1], segs[2], segs[3:], query)
        if segs and segs[0] == "apis" and len(segs) == 2:
            group = next((g for g in self._groups() if g["name"] == segs[1]), None)
            if group:
                return 200, {"kind": "APIGroup", "apiVersion": "v1", **group}
        return 404, _status(404, "NotFound", "the server could not find the requested resource", {})

    def _groups(self) -> list[dict[str, Any]]:
        versions: dict[str, list[str]] = {}
        for res in self._resources:
            if res.group:
                seen = versions.setdefault(res.group, [])
                seen.extend(v for v in res.versions if v not in seen)
        return [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in versions.items()]

    def _find(self, group: str, version: str, plural: str) -> _Res | None:
        for res in self._resources:
            if res.group == group and res.plural == plural and version in res.versions:
                return res
        return None

    def _route(self, group: str, version: str, rest: list[str], query: dict[str, str]
               ) -> tuple[int, Any]:
        not_found = _status(404, "NotFound", "the server could not find the requested resource", {})
        if not any(version in r.versions and r.group == group for r in self._resources):
            return 404, not_found
        if not rest:
            return 200, self._resource_list(group, version)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        elif rest[0] == "namespaces" and len(rest) == 2 and group == "":
            return self._get_namespace(rest[1])
        res = self._find(group, version, rest[0])
        if res is None or (namespace is not None and not res.namespaced):
            return 404, not_found
        if len(rest) == 3 and rest[2] == "log" and res.kind == "Pod" and f"{namespace}/{rest[1]}" in self.pod_logs:
            lines = self.pod_logs[f"{namespace}/{rest[1]}"].splitlines(keepends=True)
            tail = int(query["tailLines"]) if query.get("tailLines") else len(lines)
            return 200, "".join(lines[-tail:] if tail else [])
        if len(rest) > 1:
            return 404, _status(404, "NotFound", f'{res.plural} "{rest[1]}" not found',
                                {"name": rest[1], "group": group, "kind": res.plural})
        qualified = f"{res.plural}.{group}" if group else res.plural
        if qualified in self.slow:
            time.sleep(self.slow[qualified])
        if qualified in self.broken:
            return 500, _status(500, "InternalError", f"Internal error occurred: etcdserver: request timed out "
                                f"listing {qualified}", {"group": group, "kind": res.plural})
        where = f"{qualified}@{namespace}" if namespace else f"{qualified}@cluster"
        if qualified in self.forbidden or where in self.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            message = (f'{qualified} is forbidden: User "system:serviceaccount:scaleready:reader" cannot list '
                       f'resource "{res.plural}" in API group "{group}" {scope}')
            return 403, _status(403, "Forbidden", message, {"group": group, "kind": res.plural})
        return 200, self._list(res, group, version, namespace, query)

    def _list(self, res: _Res, group: str, version: str, namespace: str | None, query: dict[str, str]
              ) -> dict[str, Any]:
        items = [o for o in self.objects if o.get("kind") == res.kind and self._group_of(o) == group
                 and (namespace is None or (o.get("metadata") or {}).get("namespace") == namespace)]
        if query.get("labelSelector"):
            wanted = dict(p.split("=", 1) for p in query["labelSelector"].split(",") if "=" in p)
            items = [o for o in items if all(((o.get("metadata") or {}).get("labels") or {}).get(k) == v
                                             for k, v in wanted.items())]
        start = int(base64.b64decode(query["continue"]).decode()) if query.get("continue") else 0
        limit = int(query["limit"]) if query.get("limit") else len(items) or 1
        page = items[start:start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self._resource_version)}
        if start + limit < len(items):
            meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        api_version = f"{group}/{version}" if group else version
        builtin = any(r is res for r in BUILTINS)
        out = []
        for obj in page:
            item = json.loads(json.dumps(obj))
            if builtin:  # a real server leaves these off the items of a built-in list
                item.pop("apiVersion", None)
                item.pop("kind", None)
            else:
                item["apiVersion"] = api_version
            out.append(item)
        return {"kind": f"{res.kind}List", "apiVersion": api_version, "metadata": meta, "items": out}

    def _get_namespace(self, name: str) -> tuple[int, dict[str, Any]]:
        if "namespaces" in self.forbidden:
            return 403, _status(403, "Forbidden", f'namespaces "{name}" is forbidden: User '
                                '"system:serviceaccount:scaleready:reader" cannot get resource "namespaces" '
                                'in API group "" in the namespace "{name}"', {"name": name, "kind": "namespaces"})
        for obj in self.objects:
            if obj.get("kind") == "Namespace" and obj["metadata"].get("name") == name:
                return 200, json.loads(json.dumps(obj))
        return 404, _status(404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"})

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources = [{"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": ["get", "list", "watch"]}
                     for r in self._resources if r.group == group and version in r.versions]
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def crd(group: str, kind: str, plural: str, versions: Iterable[str] = ("v1",), *, namespaced: bool = True
        ) -> dict[str, Any]:
    """A CustomResourceDefinition as a cluster holds it (schema trimmed)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced" if namespaced else "Cluster",
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                 "versions": [{"name": v, "served": True, "storage": i == 0,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}
                              for i, v in enumerate(versions)]},
    }


def node(name: str, zone: str | None, region: str | None) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    if region:
        labels["topology.kubernetes.io/region"] = region
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.2"}}}
