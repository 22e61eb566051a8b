"""A read-only view over a Kubernetes snapshot, shared by every ``kubernetes.*`` check.

The collector (live or manifests) leaves one shape: ``objects`` (normalized objects),
``cluster`` (nodes, CRDs, API groups), ``access_errors`` (403s, live) and ``load_errors``
(broken documents, manifests). `View` indexes that once per check call so the checks stay
linear in the number of objects, and builds outcomes that name their object as
``namespace/Kind/name`` with ``file:line`` and a pointer into the snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from checks.kubernetes.secrets import pod_spec
from scaleready.api import Outcome, Snapshot, Target, errored

DEFAULT_EXCLUDED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
SCALABLE = ("Deployment", "StatefulSet")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
CLUSTER_SCOPED = {
    "Namespace", "Node", "CustomResourceDefinition", "ClusterSecretStore", "ClusterRole",
    "ClusterRoleBinding", "PriorityClass", "StorageClass", "PersistentVolume", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass",
}


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def namespace_of(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("namespace") or "default"


def subject_of(obj: dict[str, Any]) -> str:
    kind, name = obj.get("kind", ""), obj["metadata"].get("name", "")
    if kind in CLUSTER_SCOPED:
        return f"{kind}/{name}"
    return f"{namespace_of(obj)}/{kind}/{name}"


def location_of(obj: dict[str, Any]) -> str | None:
    if obj.get("file"):
        return f"{obj['file']}:{obj.get('line') or 1}"
    return None


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """Kubernetes LabelSelector semantics: None selects nothing, ``{}`` selects everything."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_problems(selector: Any) -> list[str]:
    """Why a LabelSelector is invalid (the API server would reject it), or [] when it is valid."""
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return ["the selector is not a mapping"]
    problems = []
    labels = selector.get("matchLabels")
    if labels is not None and not isinstance(labels, dict):
        problems.append("matchLabels is not a mapping")
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict) or not expr.get("key"):
            problems.append("a matchExpressions entry has no key")
            continue
        op, values = expr.get("operator"), expr.get("values") or []
        if op not in _OPERATORS:
            problems.append(f"matchExpressions operator {op!r} is not one of {', '.join(_OPERATORS)}")
        elif op in ("In", "NotIn") and not values:
            problems.append(f"matchExpressions {op} on {expr['key']!r} has no values")
        elif op in ("Exists", "DoesNotExist") and values:
            problems.append(f"matchExpressions {op} on {expr['key']!r} must not have values")
    return problems


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels of the pods an object runs: a bare Pod's own, a controller's template labels."""
    if obj.get("kind") == "Pod":
        return dict(obj["metadata"].get("labels") or {})
    return template_labels(obj)


def is_bare_pod(obj: dict[str, Any]) -> bool:
    """A Pod no controller owns: nothing recreates it when it or its node dies."""
    return obj.get("kind") == "Pod" and not obj["metadata"].get("owners")


class View:
    """Indexed access to one snapshot for one check evaluation."""

    def __init__(self, snapshot: Snapshot, target: Target) -> None:
        self.objects: list[dict[str, Any]] = snapshot.section("objects")
        self.cluster: dict[str, Any] = snapshot.data.get("cluster") or {}
        self.mode: str = (snapshot.data.get("source") or {}).get("mode", "manifests")
        self.access_errors: dict[str, dict[str, Any]] = {
            e["kind"]: e for e in snapshot.data.get("access_errors") or [] if isinstance(e, dict)
        }
        excluded = target.option("exclude_namespaces")
        self.excluded = set(DEFAULT_EXCLUDED_NAMESPACES if excluded is None else excluded)
        self._by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._pointer: dict[int, str] = {}
        for index, obj in enumerate(self.objects):
            self._by_kind[obj.get("kind", "")].append(obj)
            self._pointer[id(obj)] = f"/objects/{index}"

    # -- lookups ---------------------------------------------------------------------------
    def of(self, *kinds: str, group: str | None = None) -> list[dict[str, Any]]:
        found = [o for kind in kinds for o in self._by_kind.get(kind, ())]
        if group is not None:
            found = [o for o in found if group_of(o.get("apiVersion", "")) == group]
        return found

    def in_scope(self, obj: dict[str, Any]) -> bool:
        return namespace_of(obj) not in self.excluded

    def workloads(self, kinds: Iterable[str] = WORKLOADS) -> list[dict[str, Any]]:
        return [o for o in self.of(*kinds) if self.in_scope(o)]

    def bare_pods(self) -> list[dict[str, Any]]:
        """Standalone Pods in scope (live mode does not list Pods; manifests hold them)."""
        return [o for o in self.of("Pod") if self.in_scope(o) and is_bare_pod(o)]

    def group_installed(self, group: str) -> bool:
        """A CRD group is installed (live: discovery/CRDs) or used (manifests: objects)."""
        if group in (self.cluster.get("api_groups") or []):
            return True
        if any(str(name).endswith("." + group) for name in self.cluster.get("crds") or []):
            return True
        if any(o["spec"].get("group") == group for o in self.of("CustomResourceDefinition")
               if isinstance(o.get("spec"), dict)):
            return True
        return any(group_of(o.get("apiVersion", "")) == group for o in self.objects)

    def namespaces(self) -> list[str]:
        """Application namespaces in scope: those holding workloads, plus listed ones."""
        names = {namespace_of(o) for o in self.of(*WORKLOADS)}
        return sorted(n for n in names if n not in self.excluded)

    # -- outcomes --------------------------------------------------------------------------
    def blocked(self, *kinds: str) -> list[Outcome]:
        """Error outcomes for each needed kind the collector was forbidden to list."""
        outs = []
        for kind in kinds:
            err = self.access_errors.get(kind)
            if err:
                outs.append(errored(err["message"], subject=err.get("resource"), verb=err.get("verb"),
                                    resource=err.get("resource"), scope=err.get("scope")))
        return outs

    def outcome(self, make: Callable[..., Outcome], message: str, obj: dict[str, Any] | None,
                **evidence: Any) -> Outcome:
        if obj is None:
            return make(message, **evidence)
        if obj.get("source"):  # Helm-rendered: name the template the object came from
            evidence.setdefault("template", obj["source"])
        return make(message, subject=subject_of(obj), location=location_of(obj),
                    pointer=self._pointer.get(id(obj)), **evidence)


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj) or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def template_labels(obj: dict[str, Any]) -> dict[str, str]:
    template = (obj.get("spec") or {}).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def template_annotations(obj: dict[str, Any]) -> dict[str, str]:
    template = (obj.get("spec") or {}).get("template") or {}
    notes = (template.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {}


def images(objs: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    for obj in objs:
        for container in containers(obj):
            yield obj, str(container.get("image") or "")


def as_int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default
