"""``kubernetes.references``: HorizontalPodAutoscalers and PodDisruptionBudgets point at real workloads.

An HPA whose ``scaleTargetRef`` names a workload that is not in the checked set scales
nothing, and a PDB whose selector matches no pod protects nothing; both used to be skipped
silently, leaving a green HPA/PDB count that proved nothing. kube-linter documents the same
idea as ``dangling-horizontalpodautoscaler``; kube-score as ``horizontalpodautoscaler-has-target``
and ``poddisruptionbudget-has-policy`` / selector matching.

Live mode lists only some workload kinds (Deployment, StatefulSet, DaemonSet): an HPA aimed
at another kind (an Argo Rollout, a custom resource) is ``skip`` there, never a failure
the collector could not prove. A null PDB selector selects no pod (policy/v1); ``{}``
selects every pod of the namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import View, namespace_of, pod_labels, selector_matches, selector_problems
from checks.kubernetes.secrets import pod_spec_path
from scaleready.api import Outcome, Severity, Snapshot, Target, check, failed, passed, skipped

KIND = "kubernetes"
LIVE_LISTED = ("Deployment", "StatefulSet", "DaemonSet")


def _hpa_outcome(view: View, scaler: dict[str, Any], present: set[tuple[str, str, str]]) -> Outcome:
    ref = (scaler.get("spec") or {}).get("scaleTargetRef") or {}
    kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    what = f"{scaler['kind']} {scaler['metadata']['name']}"
    if not kind or not name:
        return view.outcome(failed, f"{what} has no scaleTargetRef kind and name: it scales nothing", scaler)
    if (namespace_of(scaler), kind, name) in present:
        return view.outcome(passed, f"{what} scales {kind}/{name}", scaler, target=f"{kind}/{name}")
    if view.mode == "live" and kind not in LIVE_LISTED:
        return view.outcome(skipped, f"{what} targets {kind}/{name}, a kind live mode does not list", scaler,
                            target=f"{kind}/{name}")
    return view.outcome(failed, f"{what} targets {kind}/{name}, which is not in the checked set: it scales "
                        "nothing (renamed or deleted workload?)", scaler, target=f"{kind}/{name}")


def _pdb_outcome(view: View, pdb: dict[str, Any], pods: dict[str, list[dict[str, Any]]]) -> Outcome:
    selector = (pdb.get("spec") or {}).get("selector")
    name = f"PodDisruptionBudget {pdb['metadata']['name']}"
    if selector is None:
        return view.outcome(failed, f"{name} has no selector: it selects no pod and protects nothing", pdb)
    problems = selector_problems(selector)
    if problems:
        return view.outcome(failed, f"{name} has an invalid selector: {'; '.join(problems)}", pdb)
    matched = [o for o in pods.get(namespace_of(pdb), []) if selector_matches(selector, pod_labels(o))]
    if matched:
        shown = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in matched[:5])
        return view.outcome(passed, f"{name} protects {shown}", pdb, matches=len(matched))
    return view.outcome(failed, f"{name} selects no pod of any workload in the checked set: it protects "
                        "nothing", pdb, selector=selector)


@check("kubernetes.references", kind=KIND, title="HPAs and PDBs point at workloads that exist",
       severity=Severity.WARNING, items=["principles.design_for_failure"], section="1.1",
       remediation="Point scaleTargetRef at the workload's current kind and name, and give the PDB a "
                   "selector that matches the workload's pod template labels; delete the leftover otherwise.")
def references(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Every HPA/ScaledObject targets a workload in the set; every PDB selects some pod in its namespace."""
    view = View(snapshot, target)
    blocked = view.blocked("HorizontalPodAutoscaler", "PodDisruptionBudget", *LIVE_LISTED)
    if blocked:
        yield from blocked
        return
    in_scope = [o for o in view.objects if view.in_scope(o)]
    present = {(namespace_of(o), str(o.get("kind")), o["metadata"].get("name", "")) for o in in_scope}
    pods: dict[str, list[dict[str, Any]]] = {}
    for obj in in_scope:
        if pod_spec_path(str(obj.get("kind", ""))) is not None:
            pods.setdefault(namespace_of(obj), []).append(obj)
    scalers = [o for o in view.of("HorizontalPodAutoscaler", "ScaledObject") if view.in_scope(o)]
    budgets = [o for o in view.of("PodDisruptionBudget") if view.in_scope(o)]
    for scaler in scalers:
        yield _hpa_outcome(view, scaler, present)
    for pdb in budgets:
        yield _pdb_outcome(view, pdb, pods)
    if not scalers and not budgets:
        yield skipped("no HorizontalPodAutoscaler or PodDisruptionBudget in scope")
