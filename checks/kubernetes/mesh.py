"""``kubernetes.mtls``: is service-to-service traffic mutually authenticated?

Istio: a PeerAuthentication with mode STRICT in the root namespace (mesh-wide) or in every
application namespace, with no PERMISSIVE/DISABLE override, and the application namespaces
actually injected into the mesh. Linkerd: meshed pods always use mTLS, so what matters is an
inbound policy that *requires* it (``all-authenticated`` defaults or AuthorizationPolicies
naming a MeshTLSAuthentication).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import WORKLOADS, View, namespace_of, template_annotations, template_labels
from scaleready.api import Outcome, Severity, Snapshot, Target, check, failed, passed, warned

KIND = "kubernetes"

ISTIO_ROOT_NAMESPACE = "istio-system"


def _mode(obj: dict[str, Any]) -> str:
    return str(((obj.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET").upper()


def _has_selector(obj: dict[str, Any]) -> bool:
    return bool(((obj.get("spec") or {}).get("selector") or {}).get("matchLabels"))


def _linkerd(view: View) -> tuple[bool, list[str]]:
    """(Linkerd present, reasons its inbound policy requires authenticated mTLS clients)."""
    present = any(view.group_installed(g) for g in ("policy.linkerd.io", "linkerd.io")) or any(
        o["metadata"]["name"] == "linkerd" for o in view.of("Namespace"))
    strong = []
    for ns in view.of("Namespace"):
        policy = ns["metadata"]["annotations"].get("config.linkerd.io/default-inbound-policy", "")
        if policy == "all-authenticated":
            strong.append(f"Namespace/{ns['metadata']['name']} default-inbound-policy all-authenticated")
    for obj in view.of(*WORKLOADS):
        if template_annotations(obj).get("config.linkerd.io/default-inbound-policy") == "all-authenticated":
            strong.append(f"{namespace_of(obj)}/{obj['kind']}/{obj['metadata']['name']} default-inbound-policy "
                          "all-authenticated")
    for cm in view.of("ConfigMap"):  # the control plane's cluster-wide default (linkerd-config)
        values = (cm.get("data") or {}).get("values")
        if cm["metadata"]["name"] == "linkerd-config" and isinstance(values, str) and re.search(
                r"defaultInboundPolicy:\s*['\"]?all-authenticated", values):
            strong.append(f"{namespace_of(cm)}/ConfigMap/linkerd-config defaultInboundPolicy all-authenticated")
    for pol in view.of("AuthorizationPolicy", group="policy.linkerd.io"):
        refs = (pol.get("spec") or {}).get("requiredAuthenticationRefs") or []
        if any(r.get("kind") == "MeshTLSAuthentication" for r in refs if isinstance(r, dict)):
            strong.append(f"{namespace_of(pol)}/AuthorizationPolicy/{pol['metadata']['name']} requires mTLS")
    return present or bool(strong), strong


def _outside_istio(view: View, apps: list[str]) -> list[str]:
    """Application namespaces whose Namespace object shows they are not in the Istio mesh.

    Meshed: label ``istio-injection=enabled``, a revision label ``istio.io/rev``, or ambient
    mode; or every workload in it opts in with ``sidecar.istio.io/inject: "true"``. A namespace
    with no Namespace object in the evidence (manifests often omit it) is not judged.
    """
    namespaces = {o["metadata"]["name"]: o["metadata"] for o in view.of("Namespace")}
    opted_in: dict[str, list[bool]] = defaultdict(list)
    for obj in view.workloads():
        flags = {**template_labels(obj), **template_annotations(obj)}
        opted_in[namespace_of(obj)].append(str(flags.get("sidecar.istio.io/inject", "")).lower() == "true")
    outside = []
    for ns in apps:
        meta = namespaces.get(ns)
        if meta is None:
            continue
        labels = meta.get("labels") or {}
        meshed = (labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels
                  or labels.get("istio.io/dataplane-mode") == "ambient")
        if not meshed and not (opted_in.get(ns) and all(opted_in[ns])):
            outside.append(ns)
    return outside


@check("kubernetes.mtls", kind=KIND, title="Service-to-service traffic uses mTLS",
       severity=Severity.DANGER, items=["security.mtls"], section="7.1",
       remediation="Apply an Istio PeerAuthentication with mtls.mode STRICT in istio-system, or mesh with "
                   "Linkerd and require MeshTLSAuthentication in AuthorizationPolicies.")
def mtls(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    peers = view.of("PeerAuthentication", group="security.istio.io")
    wide = [p for p in peers if not _has_selector(p)]
    mesh = [p for p in wide if namespace_of(p) == ISTIO_ROOT_NAMESPACE and _mode(p) == "STRICT"]
    strict_ns = {namespace_of(p) for p in wide if _mode(p) == "STRICT"}
    weak = [p for p in peers if _mode(p) in ("PERMISSIVE", "DISABLE") or any(
        str(v.get("mode", "")).upper() in ("PERMISSIVE", "DISABLE")
        for v in ((p.get("spec") or {}).get("portLevelMtls") or {}).values() if isinstance(v, dict))]
    weak_names = [f"{namespace_of(p)}/PeerAuthentication/{p['metadata']['name']}" for p in weak]
    apps = view.namespaces()
    outside = _outside_istio(view, apps)
    if mesh and not weak and not outside:
        yield view.outcome(passed, "Istio PeerAuthentication STRICT mesh-wide", mesh[0])
        return
    if mesh:
        why = ([f"overridden by {', '.join(weak_names)}"] if weak else []) + (
            [f"namespace(s) {', '.join(outside)} not in the mesh (no istio-injection label): their pods get no "
             "sidecar and talk plaintext"] if outside else [])
        yield view.outcome(warned, "STRICT mesh-wide, but " + "; ".join(why), mesh[0], overrides=weak_names,
                           not_meshed=outside)
        return
    if apps and all(ns in strict_ns for ns in apps) and not weak and not outside:
        yield passed(f"Istio PeerAuthentication STRICT in every application namespace ({', '.join(apps)})",
                     namespaces=apps)
        return
    linkerd, strong = _linkerd(view)
    if linkerd and strong:
        yield passed("Linkerd mTLS with authenticated inbound policy: " + "; ".join(strong), reasons=strong)
        return
    blocked = view.blocked("PeerAuthentication", "Server", "AuthorizationPolicy")
    if blocked:
        yield from blocked
        return
    if linkerd:
        yield warned("Linkerd is present (meshed pods use mTLS) but no inbound policy requires "
                     "authenticated clients")
    elif peers:
        missing = [ns for ns in apps if ns not in strict_ns]
        yield failed(f"Istio mTLS is not STRICT: {', '.join(weak_names) or 'namespaces ' + ', '.join(missing)} "
                     "accept plaintext", weak=weak_names, not_strict=missing)
    else:
        yield failed("no service-mesh mTLS: no Istio PeerAuthentication STRICT and no Linkerd")
