"""``kubernetes.spread``: replicas are spread across nodes or zones by constraints that really apply.

A topologySpreadConstraint or pod anti-affinity term only spreads a workload when its label
selector selects the workload's *own* pods: Kubernetes counts the pods the selector matches,
so a selector for another app (or none at all: a null selector matches no pod) constrains
nothing. Each constraint is therefore validated before it counts: a topologyKey, an integer
maxSkew >= 1, a known whenUnsatisfiable, a valid selector, and a match on the pod template's
labels. kube-score (``deployment-has-host-podantiaffinity``) and Polaris
(``topologySpreadConstraint``) judge the presence of these fields; this check also rejects
the ones that select other pods, which they accept — a stated difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.kubernetes.model import SCALABLE, View, as_int, selector_matches, selector_problems, template_labels
from checks.kubernetes.secrets import pod_spec
from scaleready.api import Outcome, Severity, Snapshot, Target, check, failed, passed, skipped, warned

KIND = "kubernetes"
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")


def _selector_issue(selector: Any, labels: dict[str, str]) -> str | None:
    if selector is None:
        return "has no labelSelector, so it counts no pods and spreads nothing"
    problems = selector_problems(selector)
    if problems:
        return "has an invalid labelSelector: " + "; ".join(problems)
    if not selector_matches(selector, labels):
        return "has a labelSelector that does not select the workload's own pods"
    return None


def constraint_issue(constraint: Any, labels: dict[str, str]) -> str | None:
    """Why one topologySpreadConstraint does not spread this workload, or None when it does."""
    if not isinstance(constraint, dict):
        return "is not a mapping"
    key = constraint.get("topologyKey")
    if not isinstance(key, str) or not key.strip():
        return "has no topologyKey"
    skew = as_int(constraint.get("maxSkew"), None)
    if skew is None or skew < 1:
        return f"has maxSkew {constraint.get('maxSkew')!r}; it must be an integer >= 1"
    if constraint.get("whenUnsatisfiable") not in WHEN_UNSATISFIABLE:
        return (f"has whenUnsatisfiable {constraint.get('whenUnsatisfiable')!r}; it must be "
                f"{' or '.join(WHEN_UNSATISFIABLE)}")
    return _selector_issue(constraint.get("labelSelector"), labels)


def _anti_terms(spec: dict[str, Any]) -> list[dict[str, Any]]:
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = [t for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [] if isinstance(t, dict)]
    terms += [t.get("podAffinityTerm") or {} for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution")
              or [] if isinstance(t, dict)]
    return terms


def term_issue(term: dict[str, Any], labels: dict[str, str]) -> str | None:
    """Why one pod anti-affinity term does not keep this workload's replicas apart, or None."""
    key = term.get("topologyKey")
    if not isinstance(key, str) or not key.strip():
        return "has no topologyKey"
    return _selector_issue(term.get("labelSelector"), labels)


def judge_spread(view: View, obj: dict[str, Any]) -> Outcome:
    spec = pod_spec(obj) or {}
    labels = template_labels(obj)
    constraints = spec.get("topologySpreadConstraints") or []
    terms = _anti_terms(spec)
    good, issues = [], []
    for index, constraint in enumerate(constraints):
        issue = constraint_issue(constraint, labels)
        if issue:
            issues.append(f"topologySpreadConstraints[{index}] {issue}")
        else:
            good.append(f"topologySpreadConstraints over {constraint['topologyKey']}")
    for index, term in enumerate(terms):
        issue = term_issue(term, labels)
        if issue:
            issues.append(f"podAntiAffinity term {index} {issue}")
        else:
            good.append(f"pod anti-affinity over {term['topologyKey']}")
    evidence = {"spreads": good, "problems": issues, "pod_labels": labels}
    if good and issues:
        return view.outcome(warned, f"{'; '.join(good)}, but {'; '.join(issues)}", obj, **evidence)
    if good:
        return view.outcome(passed, "; ".join(good), obj, **evidence)
    if issues:
        return view.outcome(failed, f"nothing spreads its replicas: {'; '.join(issues)}", obj, **evidence)
    return view.outcome(failed, "no topologySpreadConstraints or pod anti-affinity: all replicas may land "
                        "on one node or zone", obj, **evidence)


@check("kubernetes.spread", kind=KIND, title="Replicas are spread across nodes or zones",
       severity=Severity.WARNING, items=["principles.design_for_failure"], section="1.1",
       remediation="Add topologySpreadConstraints on topology.kubernetes.io/zone (maxSkew: 1, "
                   "whenUnsatisfiable: ScheduleAnyway) or pod anti-affinity on kubernetes.io/hostname, with a "
                   "labelSelector that selects the workload's own pod labels.")
def spread(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Each Deployment/StatefulSet has a valid spread constraint or anti-affinity term over its own pods."""
    view = View(snapshot, target)
    yield from view.blocked(*SCALABLE)
    workloads = view.workloads(SCALABLE)
    for obj in workloads:
        yield judge_spread(view, obj)
    if not workloads:
        yield skipped("no Deployment or StatefulSet in scope")
