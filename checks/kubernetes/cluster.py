"""Cluster-wide Kubernetes checks: canary analysis, default-deny, secrets, tracing, chaos, regions (mTLS: _k8s_mesh).

These read the whole snapshot: which CRD-based tools are installed (a 404 in live mode, or
no such objects in manifests, means "not installed") and which are actually in use. Being
installed but unused is a ``warn``; absent is a ``fail``; forbidden to look is an ``error``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import (
    WORKLOADS,
    View,
    as_int,
    containers,
    group_of,
    namespace_of,
    template_annotations,
)
from checks.kubernetes.secrets import markers_in, pod_spec
from scaleready.api import Outcome, Severity, Snapshot, Target, check, errored, failed, passed, skipped, warned

KIND = "kubernetes"

# Guide 5.2's canary analysis.
CANARY_MAX_INTERVAL_S = 60
CANARY_MAX_THRESHOLD = 5
CANARY_MAX_ERROR_RATE = 1.0
CANARY_MAX_LATENCY_MS = 500.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration_seconds(text: Any) -> float | None:
    """Go duration ("1m30s", "30s", "500ms") in seconds; None when it does not parse."""
    if not isinstance(text, str) or not re.fullmatch(r"(\d+(?:\.\d+)?(ms|s|m|h))+", text.strip()):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in _DURATION.findall(text.strip()))


def _threshold(metric: dict[str, Any], bound: str) -> float | None:
    """The metric's threshold: the guide's ``threshold`` or Flagger's ``thresholdRange``."""
    if bound == "max" and "threshold" in metric:
        try:
            return float(metric["threshold"])
        except (TypeError, ValueError):
            return None
    value = (metric.get("thresholdRange") or {}).get(bound)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def canary_problems(canary: dict[str, Any]) -> list[str]:
    """Where a Flagger Canary's analysis falls outside guide 5.2 (empty: within it)."""
    spec = canary.get("spec") or {}
    analysis = spec.get("analysis") or spec.get("canaryAnalysis")
    if not isinstance(analysis, dict):
        return ["no analysis section"]
    problems = []
    interval = duration_seconds(analysis.get("interval"))
    if interval is None:
        problems.append("no analysis interval")
    elif interval > CANARY_MAX_INTERVAL_S:
        problems.append(f"interval {analysis.get('interval')} is longer than 1m")
    threshold = as_int(analysis.get("threshold"), None)
    if threshold is None:
        problems.append("no failed-checks threshold")
    elif threshold > CANARY_MAX_THRESHOLD:
        problems.append(f"threshold {threshold} > {CANARY_MAX_THRESHOLD}")
    error_rate = latency = None
    for metric in analysis.get("metrics") or []:
        name = str(metric.get("name") or (metric.get("templateRef") or {}).get("name") or "").lower()
        if name == "request-success-rate":
            low = _threshold(metric, "min")
            error_rate = 100.0 - low if low is not None else float("inf")
        elif "error" in name:
            found = _threshold(metric, "max")
            error_rate = found if found is not None else float("inf")
        elif "latency" in name or "duration" in name:
            found = _threshold(metric, "max")
            latency = found if found is not None else float("inf")
    if error_rate is None:
        problems.append("no error-rate metric")
    elif error_rate > CANARY_MAX_ERROR_RATE:
        problems.append(f"error-rate threshold {error_rate:g}% > {CANARY_MAX_ERROR_RATE:g}%")
    if latency is None:
        problems.append("no latency metric")
    elif latency > CANARY_MAX_LATENCY_MS:
        problems.append(f"latency threshold {latency:g}ms > {CANARY_MAX_LATENCY_MS:g}ms")
    return problems


@check("kubernetes.canary", kind=KIND, title="Deployments roll out through a Flagger Canary within guide 5.2",
       severity=Severity.WARNING, items=["deploy.canary"], section="5.2",
       remediation="Add a flagger.app/v1beta1 Canary per Deployment with analysis interval 1m, threshold 5, "
                   "error-rate <= 1% and latency <= 500ms.")
def canary(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    yield from view.blocked("Deployment")
    blocked = view.blocked("Canary")
    if blocked:
        yield from blocked
        return
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in view.of("Canary", group="flagger.app"):
        ref = (obj.get("spec") or {}).get("targetRef") or {}
        if str(ref.get("kind") or "Deployment") == "Deployment" and ref.get("name"):
            index[(namespace_of(obj), str(ref["name"]))] = obj
    installed = view.group_installed("flagger.app")
    deployments = view.workloads(("Deployment",))
    for dep in deployments:
        found = index.get((namespace_of(dep), dep["metadata"]["name"]))
        if found is None:
            why = "" if installed else " (Flagger is not installed)"
            yield view.outcome(failed, f"no Flagger Canary for this Deployment{why}", dep)
            continue
        problems = canary_problems(found)
        name = found["metadata"]["name"]
        if problems:
            yield view.outcome(failed, f"Canary {name}: " + "; ".join(problems), dep, canary=name,
                               problems=problems, analysis=(found.get("spec") or {}).get("analysis"))
        else:
            yield view.outcome(passed, f"Canary {name} analysis is within guide 5.2", dep, canary=name)
    if not deployments:
        yield skipped("no Deployment in scope")


def _default_deny(policy: dict[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector")
    if selector is None or (selector or {}).get("matchLabels") or (selector or {}).get("matchExpressions"):
        return False
    types = spec.get("policyTypes") or ["Ingress"]
    return "Ingress" in types and not spec.get("ingress")


@check("kubernetes.network_policy.default_deny", kind=KIND, title="Namespaces deny ingress by default",
       items=["security.mtls"], severity=Severity.WARNING, section="7.1",
       remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] in every application "
                   "namespace, then allow the flows you need.")
def network_policy_default_deny(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    blocked = view.blocked("NetworkPolicy")
    if blocked:
        yield from blocked
        return
    by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pol in view.of("NetworkPolicy"):
        by_ns[namespace_of(pol)].append(pol)
    apps = view.namespaces()
    for ns in apps:
        deny = [p for p in by_ns.get(ns, ()) if _default_deny(p)]
        if deny:
            yield view.outcome(passed, f"default-deny ingress NetworkPolicy {deny[0]['metadata']['name']}",
                               deny[0])
        else:
            yield failed(f"namespace {ns} has no default-deny ingress NetworkPolicy: every pod accepts "
                         "traffic from anywhere", subject=f"Namespace/{ns}",
                         policies=[p["metadata"]["name"] for p in by_ns.get(ns, ())])
    if not apps:
        yield skipped("no application namespace in scope")


@check("kubernetes.secrets.plaintext", kind=KIND, title="No plaintext secrets in env or ConfigMaps",
       severity=Severity.DANGER, items=["security.secrets_encryption"], section="7.1",
       remediation="Move the value to a Secret fed by External Secrets, Sealed Secrets, Vault or a CSI "
                   "driver, and reference it with valueFrom.secretKeyRef.")
def secrets_plaintext(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    yield from view.blocked("ConfigMap")
    found = 0
    scanned = [o for o in view.objects if view.in_scope(o)]
    for obj in scanned:
        hits = markers_in(obj)
        if obj.get("kind") == "Secret" and view.mode == "manifests" and hits:
            found += 1
            yield view.outcome(failed, f"Secret manifest holds {len(hits)} value(s) in the repository "
                               "(base64 is not encryption): use SealedSecrets, External Secrets or a CSI "
                               "driver", obj, keys=[w for w, _ in hits])
        elif hits:
            found += 1
            shown = ", ".join(f"{w} ({m['reason']})" for w, m in hits)
            yield view.outcome(failed, f"secret-looking literal(s): {shown}", obj,
                               literals=[{"key": w, "fingerprint": m["fingerprint"], "length": m["length"]}
                                         for w, m in hits])
    if not found:
        yield passed(f"no secret-looking literal in {len(scanned)} object(s)", scanned=len(scanned))


_EXTERNAL = {
    "ExternalSecret": "external-secrets.io", "SecretStore": "external-secrets.io",
    "ClusterSecretStore": "external-secrets.io", "SealedSecret": "bitnami.com",
    "SecretProviderClass": "secrets-store.csi.x-k8s.io",
}


@check("kubernetes.secrets.external", kind=KIND, title="Secrets come from an external, encrypted store",
       severity=Severity.WARNING, items=["security.secrets_encryption"], section="7.1",
       remediation="Install External Secrets (Vault/KMS backend), Sealed Secrets or the secrets-store CSI "
                   "driver and move workloads onto it.")
def secrets_external(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    in_use: list[str] = []
    for kind, group in _EXTERNAL.items():
        objs = view.of(kind, group=group)
        if objs:
            in_use.append(f"{len(objs)} {kind}")
    vault = [o for o in view.of(*WORKLOADS)
             if template_annotations(o).get("vault.hashicorp.com/agent-inject", "").lower() == "true"]
    if vault:
        in_use.append(f"Vault agent injection in {len(vault)} workload(s)")
    csi = [o for o in view.of(*WORKLOADS) for v in ((pod_spec(o) or {}).get("volumes") or [])
           if ((v or {}).get("csi") or {}).get("driver") == "secrets-store.csi.k8s.io"]
    if csi:
        in_use.append(f"secrets-store CSI volumes in {len(csi)} workload(s)")
    if in_use:
        yield passed("secrets come from an external store: " + ", ".join(in_use), mechanisms=in_use)
        return
    blocked = view.blocked(*_EXTERNAL)
    if blocked:
        yield from blocked
        return
    installed = sorted({g for g in _EXTERNAL.values() if view.group_installed(g)})
    if installed:
        yield warned(f"installed but unused: {', '.join(installed)}", installed=installed)
    else:
        yield failed("no Vault agent, External Secrets, Sealed Secrets or secrets-store CSI driver in use")


_TRACING_IMAGE = re.compile(
    r"(opentelemetry-collector|otel/opentelemetry|otelcol|aws-otel-collector|jaegertracing/|grafana/tempo|"
    r"openzipkin/zipkin|datadog/agent|signoz/)", re.IGNORECASE)
_OTEL_ENV = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "JAEGER_AGENT_HOST",
             "JAEGER_ENDPOINT", "ZIPKIN_ENDPOINT"}


@check("kubernetes.tracing", kind=KIND, title="A distributed-tracing collector runs",
       severity=Severity.WARNING, items=["roadmap.p3.distributed_tracing"], section="8",
       remediation="Deploy an OpenTelemetry Collector (the operator's OpenTelemetryCollector) and point "
                   "OTEL_EXPORTER_OTLP_ENDPOINT at it.")
def tracing(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    found = [f"{namespace_of(o)}/OpenTelemetryCollector/{o['metadata']['name']}"
             for o in view.of("OpenTelemetryCollector", group="opentelemetry.io")]
    for obj in view.of(*WORKLOADS):
        if any(_TRACING_IMAGE.search(str(c.get("image") or "")) for c in containers(obj)):
            found.append(f"{namespace_of(obj)}/{obj['kind']}/{obj['metadata']['name']}")
    if found:
        yield passed(f"trace collector present: {', '.join(found[:5])}", collectors=found)
        return
    exporting = [o for o in view.workloads() if any(
        isinstance(e, dict) and e.get("name") in _OTEL_ENV for c in containers(o) for e in c.get("env") or [])
        or any(k.startswith("instrumentation.opentelemetry.io/inject") for k in template_annotations(o))]
    blocked = view.blocked("OpenTelemetryCollector")
    if blocked and not exporting:
        yield from blocked
        return
    if exporting or view.of("Instrumentation", group="opentelemetry.io"):
        yield warned(f"{len(exporting)} workload(s) export traces, but no collector is visible in scope")
    else:
        yield failed("no OpenTelemetry collector (or Jaeger/Tempo/Zipkin) and no workload exports traces")


@check("kubernetes.chaos", kind=KIND, title="Chaos engineering tooling is installed and used",
       severity=Severity.INFO, items=["roadmap.p4.chaos_engineering"], section="8",
       remediation="Install Chaos Mesh or Litmus and schedule a PodChaos/ChaosEngine experiment.")
def chaos(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    groups = ("chaos-mesh.org", "litmuschaos.io")
    experiments = [f"{namespace_of(o)}/{o['kind']}/{o['metadata']['name']}" for o in view.objects
                   if group_of(o.get("apiVersion", "")) in groups]
    if experiments:
        yield passed(f"chaos experiments defined: {', '.join(experiments[:5])}", experiments=experiments)
        return
    installed = [g for g in groups if view.group_installed(g)] + [
        f"{namespace_of(o)}/{o['kind']}/{o['metadata']['name']}" for o in view.of(*WORKLOADS)
        if any(re.search(r"chaos-mesh|litmuschaos", str(c.get("image") or "")) for c in containers(o))]
    if installed:
        yield warned(f"chaos tooling installed but no experiment defined: {', '.join(installed)}")
        return
    blocked = view.blocked("PodChaos", "ChaosEngine")
    if blocked:
        yield from blocked
        return
    yield failed("neither Chaos Mesh nor Litmus is installed")


@check("kubernetes.regions", kind=KIND, title="Nodes span 2+ zones and 2+ regions",
       severity=Severity.WARNING, items=["roadmap.p4.regional_failover"], section="8",
       remediation="Run node pools in at least two zones; add a second region for regional failover.")
def regions(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    if view.mode != "live":
        yield skipped("manifests carry no nodes: run against a live cluster to see zones and regions")
        return
    blocked = view.blocked("Node")
    if blocked:
        yield from blocked
        return
    nodes = view.cluster.get("nodes") or []
    if not nodes:
        yield errored("no node is visible to this identity")
        return
    zones = sorted({n["zone"] for n in nodes if n.get("zone")})
    regions_ = sorted({n["region"] for n in nodes if n.get("region")})
    unlabelled = [n["name"] for n in nodes if not n.get("zone")]
    facts = {"zones": zones, "regions": regions_, "nodes": len(nodes), "unlabelled": unlabelled[:20]}
    if len(zones) >= 2 and len(regions_) >= 2:
        yield passed(f"nodes span {len(zones)} zones in {len(regions_)} regions", **facts)
    elif len(zones) >= 2:
        yield warned(f"nodes span {len(zones)} zones but one region ({', '.join(regions_) or 'unlabelled'}): "
                     "no regional failover", **facts)
    else:
        yield failed(f"all {len(nodes)} node(s) are in {zones[0] if zones else 'no labelled'} zone: one zone "
                     "outage takes the service down", **facts)


@check("kubernetes.load", kind=KIND, title="Every manifest loads and every resource can be listed",
       severity=Severity.WARNING, section="5",
       remediation="Fix the YAML at the named line, or grant the collector's identity `list` on the "
                   "named resource (a read-only ClusterRole).")
def load(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Broken manifest documents and forbidden resources, each as an error naming where."""
    problems = 0
    for err in snapshot.data.get("load_errors") or []:
        problems += 1
        line = err.get("line")
        location = f"{err['file']}:{line}" if line else err["file"]
        yield errored(f"{location}: {err['message']}", location=location, subject=err["file"])
    for err in snapshot.data.get("access_errors") or []:
        problems += 1
        yield errored(err["message"], subject=err.get("resource"), verb=err.get("verb"), scope=err.get("scope"))
    if not problems:
        objects = snapshot.section("objects")
        yield passed(f"{len(objects)} object(s) read without a load or access error", objects=len(objects))
