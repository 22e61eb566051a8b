"""The one object shape both Kubernetes collector modes produce, and the resources they read.

Live mode (API server) and manifest mode (YAML files) both pass every object through
`normalize`, so the checks see the same thing either way: apiVersion, kind, a trimmed
metadata, the body (spec, data, ...) with secret-looking literals redacted, and for
manifests the ``file``/``line`` it came from. `RESOURCES` is the table live mode lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checks.kubernetes.secrets import redact_object

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Bodies we drop: status is live noise (except the HPA's, which says whether it is saturated).
_KEEP_STATUS = {"HorizontalPodAutoscaler"}
_DROP_KEYS = {"apiVersion", "kind", "metadata", "status"}


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def _crd_summary(spec: Any) -> dict[str, Any]:
    """A CRD's schema can be megabytes; the checks only need which kind of which group."""
    if not isinstance(spec, dict):
        return {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    versions = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict)]
    return {
        "group": spec.get("group"),
        "names": {"kind": names.get("kind"), "plural": names.get("plural")},
        "scope": spec.get("scope"),
        "versions": versions,
    }


def normalize(
    raw: dict[str, Any],
    *,
    file: str | None = None,
    line: int | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The snapshot form of one object. ``raw`` is freshly parsed and may be reused in place."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    annotations = _str_map(meta.get("annotations"))
    annotations.pop(LAST_APPLIED, None)  # holds the whole object again, secrets included
    kind = str(raw.get("kind") or "")
    obj: dict[str, Any] = {
        "apiVersion": str(raw.get("apiVersion") or ""),
        "kind": kind,
        "metadata": {
            "name": str(meta.get("name") or meta.get("generateName") or ""),
            "namespace": meta.get("namespace") if isinstance(meta.get("namespace"), str) else None,
            "labels": _str_map(meta.get("labels")),
            "annotations": annotations,
        },
    }
    owners = meta.get("ownerReferences")
    if isinstance(owners, list) and owners:  # a controller's Pod; a bare Pod has none
        obj["metadata"]["owners"] = [f"{o.get('kind')}/{o.get('name')}" for o in owners if isinstance(o, dict)]
    for key, value in raw.items():
        if key not in _DROP_KEYS:
            obj[key] = value
    if kind == "CustomResourceDefinition":
        obj["spec"] = _crd_summary(raw.get("spec"))
    if kind in _KEEP_STATUS and isinstance(raw.get("status"), dict):
        obj["status"] = raw["status"]
    redact_object(obj)
    if file is not None:
        obj["file"] = file
        obj["line"] = line
    if source:
        obj["source"] = source
    return obj


def node_fact(raw: dict[str, Any]) -> dict[str, Any]:
    """A node reduced to what `kubernetes.regions` needs: its zone and region labels."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    labels = _str_map(meta.get("labels"))
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone")
    region = labels.get("topology.kubernetes.io/region") or labels.get(
        "failure-domain.beta.kubernetes.io/region"
    )
    return {"name": str(meta.get("name") or ""), "zone": zone, "region": region}


@dataclass(frozen=True)
class Resource:
    """One listable resource: where it lives in the API and whether it is namespaced."""

    kind: str
    group: str  # "" for the core group
    versions: tuple[str, ...]  # tried in order; the first the server serves wins
    plural: str
    namespaced: bool = True
    custom: bool = False  # a CRD-based resource, read through CustomObjectsApi

    @property
    def qualified(self) -> str:
        """``plural.group`` as RBAC messages name it (``poddisruptionbudgets.policy``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


# Built-in resources, read through the typed client APIs.
BUILTIN: tuple[Resource, ...] = (
    Resource("Deployment", "apps", ("v1",), "deployments"),
    Resource("StatefulSet", "apps", ("v1",), "statefulsets"),
    Resource("DaemonSet", "apps", ("v1",), "daemonsets"),
    Resource("HorizontalPodAutoscaler", "autoscaling", ("v2", "v1"), "horizontalpodautoscalers"),
    Resource("PodDisruptionBudget", "policy", ("v1",), "poddisruptionbudgets"),
    Resource("Service", "", ("v1",), "services"),
    Resource("ConfigMap", "", ("v1",), "configmaps"),
    Resource("NetworkPolicy", "networking.k8s.io", ("v1",), "networkpolicies"),
    Resource("CronJob", "batch", ("v1",), "cronjobs"),
)

# CRD-based resources: a 404 (group or resource absent) means "not installed".
CUSTOM: tuple[Resource, ...] = (
    Resource("Canary", "flagger.app", ("v1beta1",), "canaries", custom=True),
    Resource("PeerAuthentication", "security.istio.io", ("v1", "v1beta1"), "peerauthentications",
             custom=True),
    Resource("Server", "policy.linkerd.io", ("v1beta3", "v1beta2", "v1beta1"), "servers", custom=True),
    Resource("AuthorizationPolicy", "policy.linkerd.io", ("v1alpha1",), "authorizationpolicies",
             custom=True),
    Resource("MeshTLSAuthentication", "policy.linkerd.io", ("v1alpha1",), "meshtlsauthentications",
             custom=True),
    Resource("ExternalSecret", "external-secrets.io", ("v1", "v1beta1"), "externalsecrets", custom=True),
    Resource("SecretStore", "external-secrets.io", ("v1", "v1beta1"), "secretstores", custom=True),
    Resource("ClusterSecretStore", "external-secrets.io", ("v1", "v1beta1"), "clustersecretstores",
             namespaced=False, custom=True),
    Resource("SealedSecret", "bitnami.com", ("v1alpha1",), "sealedsecrets", custom=True),
    Resource("SecretProviderClass", "secrets-store.csi.x-k8s.io", ("v1", "v1alpha1"),
             "secretproviderclasses", custom=True),
    Resource("OpenTelemetryCollector", "opentelemetry.io", ("v1beta1", "v1alpha1"),
             "opentelemetrycollectors", custom=True),
    Resource("Instrumentation", "opentelemetry.io", ("v1alpha1",), "instrumentations", custom=True),
    *(Resource(kind, "chaos-mesh.org", ("v1alpha1",), kind.lower(), custom=True)
      for kind in ("PodChaos", "NetworkChaos", "StressChaos", "IOChaos", "TimeChaos", "HTTPChaos", "DNSChaos")),
    Resource("Schedule", "chaos-mesh.org", ("v1alpha1",), "schedules", custom=True),
    Resource("Workflow", "chaos-mesh.org", ("v1alpha1",), "workflows", custom=True),
    Resource("ChaosEngine", "litmuschaos.io", ("v1alpha1",), "chaosengines", custom=True),
    Resource("ChaosSchedule", "litmuschaos.io", ("v1alpha1",), "chaosschedules", custom=True),
)

NAMESPACE = Resource("Namespace", "", ("v1",), "namespaces", namespaced=False)
NODE = Resource("Node", "", ("v1",), "nodes", namespaced=False)
# Listed in live mode only to find bare Pods (no ownerReferences); a controller's Pods are dropped at once.
POD = Resource("Pod", "", ("v1",), "pods")
# Listed in live mode to judge batch work; a CronJob's Jobs (owned) are judged through the CronJob.
JOB = Resource("Job", "batch", ("v1",), "jobs")
CRD = Resource("CustomResourceDefinition", "apiextensions.k8s.io", ("v1",), "customresourcedefinitions",
               namespaced=False)


# -- shape validation (manifest mode) --------------------------------------------------------------
# The checks read these paths; a manifest that puts a string where a mapping belongs is reported
# as a load error at its file and line instead of breaking every check that touches it.
Path = tuple[str, ...]
_POD_RULES: tuple[tuple[Path, type], ...] = (
    ((), dict), (("containers",), list), (("containers", "*"), dict),
    (("containers", "*", "env"), list), (("containers", "*", "env", "*"), dict),
    (("containers", "*", "resources"), dict), (("containers", "*", "resources", "requests"), dict),
    (("containers", "*", "resources", "limits"), dict), (("containers", "*", "readinessProbe"), dict),
    (("containers", "*", "livenessProbe"), dict), (("initContainers",), list), (("initContainers", "*"), dict),
    (("topologySpreadConstraints",), list), (("topologySpreadConstraints", "*"), dict),
    (("affinity",), dict), (("volumes",), list), (("volumes", "*"), dict), (("volumes", "*", "csi"), dict),
)
_KIND_RULES: dict[str, tuple[tuple[Path, type], ...]] = {
    "HorizontalPodAutoscaler": ((("spec", "scaleTargetRef"), dict), (("spec", "metrics"), list),
                                (("spec", "metrics", "*"), dict), (("status",), dict)),
    "ScaledObject": ((("spec", "scaleTargetRef"), dict),),
    "PodDisruptionBudget": ((("spec", "selector"), dict), (("spec", "selector", "matchLabels"), dict),
                            (("spec", "selector", "matchExpressions"), list),
                            (("spec", "selector", "matchExpressions", "*"), dict)),
    "Canary": ((("spec", "targetRef"), dict), (("spec", "analysis"), dict),
               (("spec", "analysis", "metrics"), list), (("spec", "analysis", "metrics", "*"), dict)),
    "NetworkPolicy": ((("spec", "podSelector"), dict), (("spec", "policyTypes"), list),
                      (("spec", "ingress"), list)),
    "PeerAuthentication": ((("spec", "mtls"), dict), (("spec", "selector"), dict),
                           (("spec", "portLevelMtls"), dict)),
    "AuthorizationPolicy": ((("spec", "requiredAuthenticationRefs"), list),
                            (("spec", "requiredAuthenticationRefs", "*"), dict)),
    "ConfigMap": ((("data",), dict),),
    "Secret": ((("data",), dict), (("stringData",), dict)),
}
_TYPE_NAMES = {dict: "a mapping", list: "a list"}


def _walk(node: Any, path: Path, expected: type, where: str) -> str | None:
    if not path:
        return None if node is None or isinstance(node, expected) else f"{where} must be {_TYPE_NAMES[expected]}"
    key, rest = path[0], path[1:]
    if key == "*":
        for i, item in enumerate(node if isinstance(node, list) else []):
            problem = _walk(item, rest, expected, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None  # the rule for the parent reports it
    return _walk(node.get(key), rest, expected, f"{where}.{key}" if where else key)


def shape_problem(raw: dict[str, Any]) -> str | None:
    """Why an object's structure would mislead the checks (``spec.template must be a mapping``)."""
    from checks.kubernetes.secrets import pod_spec_path

    kind = str(raw.get("kind") or "")
    rules: list[tuple[Path, type]] = [(("metadata",), dict), (("spec",), dict)]
    pod_path = pod_spec_path(kind)
    if pod_path is not None:
        for depth in range(1, len(pod_path)):
            rules.append((pod_path[:depth], dict))
        template = pod_path[:-1]
        rules += [((*template, "metadata"), dict), ((*template, "metadata", "labels"), dict),
                  ((*template, "metadata", "annotations"), dict)]
        rules += [((*pod_path, *sub), typ) for sub, typ in _POD_RULES]
    rules += list(_KIND_RULES.get(kind, ()))
    for path, expected in rules:
        problem = _walk(raw, path, expected, "")
        if problem:
            return problem
    return None
