"""Live mode: list the objects the checks need from a Kubernetes API server.

Uses the official ``kubernetes`` client (typed APIs for built-ins, CustomObjectsApi for CRDs)
with ``_preload_content=False``, so objects arrive as the API server's own JSON, in the same
camelCase shape manifests have; `normalize` then makes them identical to manifest objects.
Discovery (``GET /apis``) says which CRD groups exist, so an absent tool costs no request:
a 404 means "not installed", a 403 is recorded per resource ("forbidden: cannot list
poddisruptionbudgets.policy at cluster scope") and only the checks needing it turn to error.
Secrets are never listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from checks.kubernetes.objects import BUILTIN, CRD, CUSTOM, JOB, NAMESPACE, NODE, POD, Resource, node_fact, normalize
from scaleready.api import CollectError
from scaleready.faults import describe_failure, server_text

MAX_PAGES = 200

# kind -> (client API class per version, method stem)
_TYPED: dict[str, tuple[dict[str, str], str]] = {
    "Deployment": ({"v1": "AppsV1Api"}, "deployment"),
    "StatefulSet": ({"v1": "AppsV1Api"}, "stateful_set"),
    "DaemonSet": ({"v1": "AppsV1Api"}, "daemon_set"),
    "HorizontalPodAutoscaler": ({"v2": "AutoscalingV2Api", "v1": "AutoscalingV1Api"}, "horizontal_pod_autoscaler"),
    "PodDisruptionBudget": ({"v1": "PolicyV1Api"}, "pod_disruption_budget"),
    "Service": ({"v1": "CoreV1Api"}, "service"),
    "ConfigMap": ({"v1": "CoreV1Api"}, "config_map"),
    "NetworkPolicy": ({"v1": "NetworkingV1Api"}, "network_policy"),
    "Namespace": ({"v1": "CoreV1Api"}, "namespace"),
    "Node": ({"v1": "CoreV1Api"}, "node"),
    "Pod": ({"v1": "CoreV1Api"}, "pod"),
    "Job": ({"v1": "BatchV1Api"}, "job"),
    "CronJob": ({"v1": "BatchV1Api"}, "cron_job"),
    "CustomResourceDefinition": ({"v1": "ApiextensionsV1Api"}, "custom_resource_definition"),
}


class Unreachable(CollectError):
    """The server could not be talked to; ``reason`` is the short cause ("timed out")."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"cannot reach the Kubernetes API server at {host}: {reason}")
        self.reason = reason


def _reach_error(exc: BaseException, host: str) -> Unreachable:
    """The real cause (TLS, refused, reset, timeout, garbage) of a failed call, bounded."""
    if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower():
        return Unreachable(host, "timed out")
    return Unreachable(host, describe_failure(exc, "HTTP"))


def make_client(kubeconfig: str | None, context: str | None, in_cluster: bool) -> client.ApiClient:
    """An ApiClient for the configured cluster; configuration problems become CollectError."""
    cfg = client.Configuration()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=cfg)
        else:
            path = os.path.expanduser(kubeconfig) if kubeconfig else None  # None: $KUBECONFIG or ~/.kube/config
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                    persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        where = "in-cluster config" if in_cluster else f"kubeconfig {kubeconfig or '~/.kube/config'}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CollectError(f"{where}: {first}") from None
    cfg.retries = 0
    return client.ApiClient(cfg)


class LiveReader:
    """One collection pass against one API server."""

    def __init__(self, api: client.ApiClient, namespaces: list[str] | None, timeout: float,
                 page_size: int = 500) -> None:
        self.api = api
        self.namespaces = namespaces
        self.timeout = max(1.0, min(timeout, 30.0))
        self.page_size = page_size
        self.host = api.configuration.host
        self.groups: dict[str, list[str]] | None = None
        self.access_errors: list[dict[str, Any]] = []
        self.installed: list[str] = []

    # -- requests ----------------------------------------------------------------------------
    def _json(self, call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        try:  # an ApiException (an HTTP error status) passes through to the caller
            resp = call(_preload_content=False, _request_timeout=self.timeout, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _reach_error(exc, self.host) from None
        try:
            raw = resp.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _reach_error(exc, self.host) from None
        finally:
            resp.release_conn()  # unread-by-default responses keep their connection otherwise
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Unreachable(self.host, "the answer is not a JSON object")
        return body

    def _pages(self, call: Callable[..., Any], **kwargs: Any) -> tuple[list[dict[str, Any]], str, str]:
        """All items of a list call, following ``continue``; plus the list's apiVersion and kind."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        api_version = kind = ""
        for _ in range(MAX_PAGES):
            body = self._json(call, limit=self.page_size, _continue=token, **kwargs)
            api_version, kind = str(body.get("apiVersion") or ""), str(body.get("kind") or "")
            items.extend(i for i in body.get("items") or [] if isinstance(i, dict))
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                break
        else:
            raise Unreachable(self.host, f"more than {MAX_PAGES} pages of {self.page_size}; not read to the end")
        return items, api_version, kind

    def start(self) -> dict[str, Any]:
        """Check we can talk to the server at all, then read API discovery."""
        try:
            version = self._json(client.VersionApi(self.api).get_code)
        except ApiException as exc:
            if exc.status == 401:
                raise CollectError(f"the API server at {self.host} rejected the credentials (401 Unauthorized)"
                                   ) from None
            if int(exc.status or 0) >= 500:  # a failing server: nothing it lists later can be trusted
                raise CollectError(f"the API server at {self.host} answered HTTP {exc.status} on /version: "
                                   f"{server_text(exc.body or exc.reason or '', 160)}") from None
            version = {}
        try:
            body = self._json(client.ApisApi(self.api).get_api_versions)
            self.groups = {g["name"]: [v["version"] for v in g.get("versions") or []]
                           for g in body.get("groups") or [] if isinstance(g, dict) and g.get("name")}
        except ApiException as exc:
            if exc.status == 401:
                raise CollectError(f"the API server at {self.host} rejected the credentials (401 Unauthorized)"
                                   ) from None
            self.groups = None  # discovery refused: probe every candidate version instead
        return {"git_version": version.get("gitVersion"), "platform": version.get("platform")}

    def _versions(self, res: Resource) -> list[str]:
        if self.groups is None or res.group == "":
            return list(res.versions)
        served = self.groups.get(res.group)
        if served is None:
            return []  # group absent: not installed
        return [v for v in res.versions if v in served]

    def _call(self, res: Resource, version: str, namespace: str | None) -> Callable[..., Any]:
        if res.custom:
            api = client.CustomObjectsApi(self.api)
            if namespace is not None:
                return lambda **kw: api.list_namespaced_custom_object(res.group, version, namespace, res.plural, **kw)
            if res.namespaced:
                return lambda **kw: api.list_custom_object_for_all_namespaces(res.group, version, res.plural, **kw)
            return lambda **kw: api.list_cluster_custom_object(res.group, version, res.plural, **kw)
        classes, stem = _TYPED[res.kind]
        api = getattr(client, classes[version])(self.api)
        if namespace is not None:
            method = getattr(api, f"list_namespaced_{stem}")
            return lambda **kw: method(namespace, **kw)
        if res.namespaced:
            return getattr(api, f"list_{stem}_for_all_namespaces")
        return getattr(api, f"list_{stem}")

    def _forbidden(self, res: Resource, scopes: list[str], status: int, reason: str) -> None:
        if status == 403:
            message = f"forbidden: cannot list {res.qualified} {' / '.join(scopes)}"
        elif status == 0:
            message = f"cannot list {res.qualified} {' / '.join(scopes)}: {reason}"
        else:
            message = f"cannot list {res.qualified} {' / '.join(scopes)}: HTTP {status} {server_text(reason, 120)}"
            message = message.rstrip()
        self.access_errors.append({"kind": res.kind, "resource": res.qualified, "verb": "list",
                                   "scope": ", ".join(scopes), "status": status, "message": message})

    def list(self, res: Resource) -> list[dict[str, Any]] | None:
        """Raw items of a resource across the configured scope; None when not installed."""
        targets: list[str | None] = [None]
        if res.namespaced and self.namespaces:
            targets = list(self.namespaces)
        for version in self._versions(res):
            found: list[dict[str, Any]] = []
            denied: list[str] = []
            status, reason, missing = 0, "", False
            for namespace in targets:
                try:
                    items, api_version, list_kind = self._pages(self._call(res, version, namespace))
                except ApiException as exc:
                    if exc.status == 404:
                        missing = True
                        break
                    status, reason = int(exc.status or 0), str(exc.reason or "")
                    denied.append("at cluster scope" if namespace is None else f"in namespace {namespace}")
                    continue
                except Unreachable as exc:  # one slow or broken resource must not sink the rest
                    status, reason = 0, exc.reason
                    denied.append("at cluster scope" if namespace is None else f"in namespace {namespace}")
                    continue
                kind = list_kind[:-4] if list_kind.endswith("List") else res.kind
                for item in items:  # built-in list items carry no apiVersion/kind of their own
                    item.setdefault("apiVersion", api_version or f"{res.group}/{version}".lstrip("/"))
                    item.setdefault("kind", kind or res.kind)
                found.extend(items)
            if missing:
                continue
            if denied:
                self._forbidden(res, denied, status, reason)
            if res.custom:
                self.installed.append(f"{res.qualified}/{version}")
            return found
        return None


def collect(api: client.ApiClient, namespaces: list[str] | None, timeout: float, page_size: int = 500
            ) -> dict[str, Any]:
    """Every section of a live snapshot."""
    reader = LiveReader(api, namespaces, timeout, page_size)
    server = reader.start()
    objects: list[dict[str, Any]] = []
    for res in (*BUILTIN, *CUSTOM):
        objects.extend(normalize(item) for item in reader.list(res) or [])
    # Bare Pods: nothing recreates them, so they are judged like workloads. Pods a controller owns
    # are its replicas and are judged through the controller; they are not kept in the snapshot.
    # Same for Jobs: a CronJob's runs are judged through the CronJob (listed with the built-ins).
    for res in (POD, JOB):
        objects.extend(normalize(item) for item in reader.list(res) or []
                       if not (item.get("metadata") or {}).get("ownerReferences"))
    if namespaces:
        ns_items = []
        core = client.CoreV1Api(api)
        for name in namespaces:
            try:
                ns_items.append(reader._json(core.read_namespace, name=name))
            except ApiException as exc:
                ns_items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
                if exc.status != 404:
                    reader._forbidden(NAMESPACE, [f"namespace {name} (get)"], int(exc.status or 0),
                                      str(exc.reason or ""))
    else:
        ns_items = reader.list(NAMESPACE) or []
    for item in ns_items:
        item.setdefault("apiVersion", "v1")
        item.setdefault("kind", "Namespace")
    objects.extend(normalize(item) for item in ns_items)
    nodes = reader.list(NODE)
    crds = reader.list(CRD)
    return {
        "source": {"mode": "live", "server": reader.host, "version": server, "namespaces": namespaces},
        "objects": objects,
        "cluster": {
            "nodes": [node_fact(n) for n in nodes] if nodes is not None else None,
            "crds": sorted(str((c.get("metadata") or {}).get("name")) for c in crds or []),
            "namespaces": sorted(str((n.get("metadata") or {}).get("name")) for n in ns_items),
            "api_groups": sorted(reader.groups) if reader.groups is not None else None,
            "installed": reader.installed,
        },
        "access_errors": reader.access_errors,
        "load_errors": [],
    }
