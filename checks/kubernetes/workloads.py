"""Per-workload Kubernetes checks: replicas, autoscaling, disruption budgets, resources, probes.

Each check yields one outcome per Deployment/StatefulSet (DaemonSets too where the rule
applies to them) outside the excluded system namespaces, or one ``skip`` when there is
nothing to judge. A bare Pod (no controller owns it) is judged too: it fails the replica
rule (nothing recreates it) and goes through the per-container rules like any workload;
live mode does not list Pods, so there only manifests can show one. Spread is in
``checks.kubernetes.spread``, dangling HPAs/PDBs in ``checks.kubernetes.references``.
A resource the collector was forbidden to list turns the checks that
need it into ``error`` outcomes instead of false failures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import (
    SCALABLE,
    WORKLOADS,
    View,
    as_int,
    containers,
    namespace_of,
    selector_matches,
    template_labels,
)
from scaleready.api import Outcome, Severity, Snapshot, Target, check, failed, passed, skipped, warned

KIND = "kubernetes"

BUFFER_MAX_UTILISATION = 70  # guide 9.1: auto-scaling with a 30 % buffer
DEFAULT_HPA_CPU = 80  # what Kubernetes uses when an HPA names no metric


def _nothing(message: str) -> Outcome:
    return skipped(message)


def scalers(view: View) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(namespace, kind, name) of each scale target -> its HPA (or KEDA ScaledObject)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj in view.of("HorizontalPodAutoscaler", "ScaledObject"):
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("name"):
            found[(namespace_of(obj), str(ref.get("kind") or "Deployment"), str(ref["name"]))] = obj
    return found


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return namespace_of(obj), obj["kind"], obj["metadata"]["name"]


def min_replicas(obj: dict[str, Any], scaler: dict[str, Any] | None) -> tuple[int, str]:
    """The fewest pods the workload may run, and where that number comes from."""
    if scaler is not None:
        spec = scaler.get("spec") or {}
        if scaler["kind"] == "ScaledObject":
            return as_int(spec.get("minReplicaCount"), 0) or 0, "ScaledObject minReplicaCount"
        return as_int(spec.get("minReplicas"), 1) or 1, "HPA minReplicas"
    return as_int((obj.get("spec") or {}).get("replicas"), 1) or 0, "spec.replicas"


@check("kubernetes.replicas.min", kind=KIND, title="Workloads run at least 2 replicas",
       severity=Severity.DANGER, items=["principles.horizontal_stateless"], section="1.1",
       remediation="Set spec.replicas (or the HPA's minReplicas) to 2 or more.")
def replicas_min(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    yield from view.blocked(*SCALABLE)
    index = scalers(view)
    workloads = view.workloads(SCALABLE)
    bare = view.bare_pods()
    for pod in bare:
        yield view.outcome(failed, "a bare Pod: no controller recreates it when it or its node fails; run it "
                           "from a Deployment or StatefulSet", pod, observed=1, recommended=">= 2")
    for obj in workloads:
        count, source = min_replicas(obj, index.get(_key(obj)))
        if count == 0 and source == "spec.replicas":
            yield view.outcome(skipped, "scaled to zero: not serving", obj, observed=0)
        elif count >= 2:
            yield view.outcome(passed, f"runs at least {count} replicas ({source})", obj,
                               observed=count, recommended=">= 2")
        else:
            yield view.outcome(failed, f"only {count} replica ({source}): one pod failure is an outage", obj,
                               observed=count, recommended=">= 2", source=source)
    if not workloads and not bare:
        yield _nothing("no Deployment, StatefulSet or bare Pod in scope")


@check("kubernetes.hpa.present", kind=KIND, title="Workloads have a HorizontalPodAutoscaler",
       severity=Severity.WARNING, items=["principles.horizontal_stateless", "roadmap.p3.autoscaling"], section="8",
       remediation="Add an autoscaling/v2 HorizontalPodAutoscaler targeting the workload.")
def hpa_present(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    blocked = view.blocked("HorizontalPodAutoscaler")
    if blocked:
        yield from blocked
        return
    index = scalers(view)
    workloads = view.workloads(SCALABLE)
    for obj in workloads:
        scaler = index.get(_key(obj))
        if scaler is None:
            yield view.outcome(failed, "no HorizontalPodAutoscaler targets this workload", obj)
        else:
            spec = scaler.get("spec") or {}
            yield view.outcome(passed, f"scaled by {scaler['kind']} {scaler['metadata']['name']}", obj,
                               min=spec.get("minReplicas", spec.get("minReplicaCount")),
                               max=spec.get("maxReplicas", spec.get("maxReplicaCount")))
    if not workloads:
        yield _nothing("no Deployment or StatefulSet in scope")


def utilisation_targets(hpa: dict[str, Any]) -> list[tuple[str, int]]:
    """(resource, target %) of every utilisation metric, with Kubernetes' defaults applied."""
    spec = hpa.get("spec") or {}
    if "targetCPUUtilizationPercentage" in spec or hpa.get("apiVersion") == "autoscaling/v1":
        return [("cpu", as_int(spec.get("targetCPUUtilizationPercentage"), DEFAULT_HPA_CPU) or 0)]
    metrics = spec.get("metrics")
    if not metrics:
        return [("cpu", DEFAULT_HPA_CPU)]
    found = []
    for metric in metrics:
        if not isinstance(metric, dict):
            continue
        for field in ("resource", "containerResource"):
            res = metric.get(field)
            if not isinstance(res, dict):
                continue
            target = res.get("target") or {}
            value = as_int(target.get("averageUtilization"), None)
            if target.get("type") == "Utilization" and value is not None:
                found.append((str(res.get("name")), value))
            elif "targetAverageUtilization" in res:  # autoscaling/v2beta1 shape
                found.append((str(res.get("name")), as_int(res.get("targetAverageUtilization"), 0) or 0))
    return found


def saturation(hpa: dict[str, Any]) -> str | None:
    """Why a live HPA is pinned at its ceiling, or None."""
    status, spec = hpa.get("status") or {}, hpa.get("spec") or {}
    top = as_int(spec.get("maxReplicas"), None)
    current = as_int(status.get("currentReplicas"), None)
    desired = as_int(status.get("desiredReplicas"), None)
    if top is not None and ((current is not None and current >= top) or (desired is not None and desired >= top)):
        return f"saturated: {current} current / {desired} desired replicas at maxReplicas {top}"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "ScalingLimited" and cond.get("status") == "True" \
                and cond.get("reason") == "TooManyReplicas":
            return f"saturated: {cond.get('message') or 'ScalingLimited TooManyReplicas'}"
    return None


@check("kubernetes.hpa.buffer", kind=KIND, title="HPA targets leave a 30% buffer and are not saturated",
       severity=Severity.WARNING, items=["cost.autoscaling_buffer", "roadmap.p3.autoscaling"], section="9.1",
       remediation="Set averageUtilization to 70 or lower; raise maxReplicas when the HPA sits at its ceiling.")
def hpa_buffer(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    blocked = view.blocked("HorizontalPodAutoscaler")
    if blocked:
        yield from blocked
        return
    index = scalers(view)
    judged = 0
    for obj in view.workloads(SCALABLE):
        hpa = index.get(_key(obj))
        if hpa is None:
            continue
        judged += 1
        if hpa["kind"] == "ScaledObject":
            yield view.outcome(skipped, "KEDA ScaledObject: its triggers are not utilisation targets", obj)
            continue
        hot = saturation(hpa)
        targets = utilisation_targets(hpa)
        spec = hpa.get("spec") or {}
        evidence = {"hpa": hpa["metadata"]["name"], "targets": dict(targets),
                    "recommended": f"<= {BUFFER_MAX_UTILISATION}%",
                    "min": spec.get("minReplicas", 1), "max": spec.get("maxReplicas")}
        if hot:
            yield view.outcome(failed, f"HPA {hot}: no buffer left", obj, status=hpa.get("status"), **evidence)
            continue
        over = [f"{name} {value}%" for name, value in targets if value > BUFFER_MAX_UTILISATION]
        if over:
            yield view.outcome(failed, f"target utilisation {', '.join(over)} leaves less than the guide's "
                               "30% buffer", obj, **evidence)
        elif not targets:
            yield view.outcome(warned, "HPA scales on custom/external metrics only: buffer not measurable",
                               obj, **evidence)
        elif as_int(spec.get("maxReplicas"), 0) == as_int(spec.get("minReplicas"), 1):
            yield view.outcome(warned, "maxReplicas equals minReplicas: the HPA cannot scale", obj, **evidence)
        else:
            shown = ", ".join(f"{n} {v}%" for n, v in targets)
            yield view.outcome(passed, f"target utilisation {shown} keeps a >= 30% buffer", obj, **evidence)
    if not judged:
        yield _nothing("no workload has an HPA to judge")


def _blocks_all(pdb: dict[str, Any], replicas: int) -> str | None:
    spec = pdb.get("spec") or {}
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    if max_unavailable is not None and str(max_unavailable).strip() in ("0", "0%"):
        return "maxUnavailable 0 blocks every voluntary disruption (node drains hang)"
    if min_available is not None:
        text = str(min_available).strip()
        if text == "100%":
            return "minAvailable 100% blocks every voluntary disruption (node drains hang)"
        count = as_int(min_available, None)
        if count is not None and count >= replicas:
            return f"minAvailable {count} >= {replicas} replicas blocks every voluntary disruption"
    return None


def _pdb_index(pdbs: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    """PDBs by (namespace, one label pair they require), so matching stays linear in big namespaces.

    A PDB without matchLabels is filed under (namespace, None) and tried against every workload.
    """
    index: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for pdb in pdbs:
        selector = (pdb.get("spec") or {}).get("selector") or {}
        pairs = sorted((str(k), str(v)) for k, v in (selector.get("matchLabels") or {}).items())
        index[(namespace_of(pdb), pairs[0] if pairs else None)].append(pdb)
    return index


@check("kubernetes.pdb.present", kind=KIND, title="Workloads have a PodDisruptionBudget that allows drains",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Add a policy/v1 PodDisruptionBudget with maxUnavailable: 1 (not 0, and minAvailable "
                   "below the replica count).")
def pdb_present(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    view = View(snapshot, target)
    blocked = view.blocked("PodDisruptionBudget")
    if blocked:
        yield from blocked
        return
    candidates = _pdb_index(view.of("PodDisruptionBudget"))
    index = scalers(view)
    workloads = view.workloads(SCALABLE)
    for obj in workloads:
        labels, ns = template_labels(obj), namespace_of(obj)
        pool = candidates.get((ns, None), []) + [p for pair in labels.items()
                                                 for p in candidates.get((ns, pair), ())]
        matching = list({id(p): p for p in pool if selector_matches(
            (p.get("spec") or {}).get("selector"), labels)}.values())
        if not matching:
            yield view.outcome(failed, "no PodDisruptionBudget selects its pods", obj)
            continue
        replicas, _ = min_replicas(obj, index.get(_key(obj)))
        names = [p["metadata"]["name"] for p in matching]
        problems = [r for r in (_blocks_all(p, replicas) for p in matching) if r]
        if problems:
            yield view.outcome(failed, f"PDB {problems[0]}", obj, pdbs=names, replicas=replicas)
        else:
            yield view.outcome(passed, f"protected by PDB {', '.join(names)}", obj, pdbs=names)
    if not workloads:
        yield _nothing("no Deployment or StatefulSet in scope")


def _per_container(snapshot: Snapshot, target: Target, judge: Any, kinds: tuple[str, ...] = WORKLOADS
                   ) -> Iterator[Outcome]:
    view = View(snapshot, target)
    yield from view.blocked(*kinds)
    workloads = view.workloads(kinds) + (view.bare_pods() if "Deployment" in kinds else [])
    for obj in workloads:
        yield judge(view, obj, containers(obj))
    if not workloads:
        yield _nothing("no workload in scope")


def _missing(items: list[dict[str, Any]], section: str, key: str) -> list[str]:
    return [str(c.get("name")) for c in items
            if not (((c.get("resources") or {}).get(section) or {}).get(key))]


def _requests(view: View, obj: dict[str, Any], items: list[dict[str, Any]]) -> Outcome:
    cpu, mem = _missing(items, "requests", "cpu"), _missing(items, "requests", "memory")
    if cpu or mem:
        parts = ([f"cpu ({', '.join(cpu)})"] if cpu else []) + ([f"memory ({', '.join(mem)})"] if mem else [])
        return view.outcome(failed, "missing requests: " + "; ".join(parts) + ": the scheduler and the HPA "
                            "cannot size it", obj, missing_cpu=cpu, missing_memory=mem)
    return view.outcome(passed, "every container requests cpu and memory", obj)


def _limits(view: View, obj: dict[str, Any], items: list[dict[str, Any]]) -> Outcome:
    cpu, mem = _missing(items, "limits", "cpu"), _missing(items, "limits", "memory")
    if mem:
        return view.outcome(failed, f"no memory limit on {', '.join(mem)}: one leak can starve the node", obj,
                            missing_memory=mem, missing_cpu=cpu)
    if cpu:
        return view.outcome(warned, f"memory limited, but no cpu limit on {', '.join(cpu)}", obj,
                            missing_cpu=cpu)
    return view.outcome(passed, "every container has cpu and memory limits", obj)


def _readiness(view: View, obj: dict[str, Any], items: list[dict[str, Any]]) -> Outcome:
    missing = [str(c.get("name")) for c in items if not c.get("readinessProbe")]
    if missing:
        return view.outcome(failed, f"no readinessProbe on {', '.join(missing)}: traffic reaches pods "
                            "before they are ready and rollouts cannot wait", obj, missing=missing)
    return view.outcome(passed, "every container has a readinessProbe", obj)


def _liveness(view: View, obj: dict[str, Any], items: list[dict[str, Any]]) -> Outcome:
    missing = [str(c.get("name")) for c in items if not c.get("livenessProbe")]
    same = [str(c.get("name")) for c in items
            if c.get("livenessProbe") and c.get("livenessProbe") == c.get("readinessProbe")]
    if missing:
        return view.outcome(failed, f"no livenessProbe on {', '.join(missing)}: a hung process is never "
                            "restarted", obj, missing=missing)
    if same:
        return view.outcome(warned, f"livenessProbe identical to readinessProbe on {', '.join(same)}: a slow "
                            "dependency restarts every pod at once", obj, identical=same)
    return view.outcome(passed, "every container has its own livenessProbe", obj)


@check("kubernetes.resources.requests", kind=KIND, title="Containers request cpu and memory",
       severity=Severity.WARNING, items=["roadmap.p3.autoscaling"], section="8",
       remediation="Set resources.requests.cpu and .memory on every container; the HPA's utilisation is "
                   "measured against them.")
def resources_requests(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return _per_container(snapshot, target, _requests)


@check("kubernetes.resources.limits", kind=KIND, title="Containers have memory (and cpu) limits",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Set resources.limits.memory on every container (cpu limits optional).")
def resources_limits(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return _per_container(snapshot, target, _limits)


@check("kubernetes.probes.readiness", kind=KIND, title="Containers have a readiness probe",
       severity=Severity.DANGER, items=["principles.design_for_failure"], section="1.1",
       remediation="Add a readinessProbe so traffic and `kubectl rollout status` wait for ready pods.")
def probes_readiness(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return _per_container(snapshot, target, _readiness)


@check("kubernetes.probes.liveness", kind=KIND, title="Containers have a liveness probe distinct from readiness",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Add a cheap livenessProbe (process alive) separate from the readinessProbe "
                   "(dependencies ready).")
def probes_liveness(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return _per_container(snapshot, target, _liveness)
