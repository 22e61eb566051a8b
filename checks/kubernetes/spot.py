"""Spot capacity for batch work (guide 9.1): Jobs and CronJobs scheduled onto spot/preemptible nodes.

A batch pod is on spot capacity when its node selector or node affinity asks for a spot label
of one of the big clouds or Karpenter, or when it tolerates a spot taint (AKS taints its spot
pools, so a toleration is what lets pods land there). Interruptions are survivable only with
retries, so a spot Job with ``backoffLimit: 0`` warns.

Judged on manifests and on live clusters alike: the live collector lists CronJobs and the Jobs no
CronJob owns (a CronJob's runs are judged through the CronJob).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import View, as_int
from checks.kubernetes.secrets import pod_spec
from scaleready.api import Outcome, Severity, Snapshot, Target, check, failed, passed, skipped, warned

KIND = "kubernetes"
BATCH = ("Job", "CronJob")
SPOT_LABELS = {
    "cloud.google.com/gke-spot": {"true"},
    "cloud.google.com/gke-preemptible": {"true"},
    "eks.amazonaws.com/capacitytype": {"spot"},
    "karpenter.sh/capacity-type": {"spot"},
    "kubernetes.azure.com/scalesetpriority": {"spot"},
    "node.kubernetes.io/lifecycle": {"spot", "preemptible"},
    "node-lifecycle": {"spot"},
}


def _is_spot(key: Any, values: Any) -> bool:
    wanted = SPOT_LABELS.get(str(key).lower())
    if wanted is None:
        return False
    if values is None:  # Exists
        return True
    values = values if isinstance(values, list) else [values]
    return any(str(v).lower() in wanted for v in values)


def spot_reasons(spec: dict[str, Any]) -> list[str]:
    """How a pod spec asks for spot nodes: selector, affinity terms, tolerations."""
    reasons = []
    selector = spec.get("nodeSelector") if isinstance(spec.get("nodeSelector"), dict) else {}
    reasons += [f"nodeSelector {k}={v}" for k, v in selector.items() if _is_spot(k, v)]
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}) if isinstance(spec.get("affinity"), dict) \
        else {}
    required = (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    preferred = [p.get("preference") or {} for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
                 or [] if isinstance(p, dict)]
    for how, terms in (("required", required), ("preferred", preferred)):
        for term in terms:
            for expr in (term or {}).get("matchExpressions") or []:
                if isinstance(expr, dict) and expr.get("operator") in ("In", "Exists") and \
                        _is_spot(expr.get("key"), expr.get("values") if expr.get("operator") == "In" else None):
                    reasons.append(f"{how} node affinity {expr.get('key')}")
    for tol in spec.get("tolerations") or []:
        if isinstance(tol, dict) and _is_spot(tol.get("key"), tol.get("value")):
            reasons.append(f"toleration {tol.get('key')}")
    return reasons


def _backoff_limit(obj: dict[str, Any]) -> int:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return as_int(spec.get("backoffLimit"), 6) if isinstance(spec, dict) else 6


@check("kubernetes.cost.spot_batch", kind=KIND, title="Batch workloads run on spot capacity",
       severity=Severity.INFO, items=["cost.spot_batch"], section="9.1",
       remediation="Schedule Jobs/CronJobs onto a spot/preemptible node pool (nodeSelector or node affinity on "
                   "karpenter.sh/capacity-type=spot, cloud.google.com/gke-spot, eks.amazonaws.com/capacityType="
                   "SPOT, plus the pool's toleration) and keep retries (backoffLimit > 0) for interruptions.")
def spot_batch(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Each Job/CronJob in scope asks for spot nodes and retries on interruption."""
    view = View(snapshot, target)
    batch = view.workloads(BATCH)
    if not batch:
        yield skipped("no Job or CronJob in scope: no batch workload to put on spot capacity")
        return
    for obj in batch:
        reasons = spot_reasons(pod_spec(obj) or {})
        retries = _backoff_limit(obj)
        if not reasons:
            yield view.outcome(failed, "batch workload runs on regular (on-demand) capacity", obj)
        elif retries <= 0:
            yield view.outcome(warned, f"on spot ({'; '.join(reasons)}) but backoffLimit is {retries}: an "
                               "interruption fails the job", obj, spot=reasons, backoff_limit=retries)
        else:
            yield view.outcome(passed, f"runs on spot capacity ({'; '.join(reasons)}), backoffLimit {retries}",
                               obj, spot=reasons, backoff_limit=retries)
