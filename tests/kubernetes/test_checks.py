"""Each kubernetes.* check on hand-written objects: the edges of every rule."""

from __future__ import annotations

from typing import Any

import pytest

from checks.kubernetes.secrets import secret_reason
from scaleready import engine
from scaleready.api import Snapshot, Status, Target
from tests.kubernetes.helpers import objects_snapshot, run

P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR
GOOD_PROBE = {"httpGet": {"path": "/ready", "port": 8080}}


def deployment(name: str = "web", ns: str = "shop", replicas: int | None = 3, kind: str = "Deployment",
               **pod: Any) -> dict[str, Any]:
    container = {"name": "app", "image": pod.pop("image", "example/web:1"), **pod.pop("container", {})}
    spec: dict[str, Any] = {"template": {"metadata": {"labels": {"app": name}, **pod.pop("template_meta", {})},
                                         "spec": {"containers": [container], **pod}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}


def hpa(target: str = "web", ns: str = "shop", api: str = "autoscaling/v2", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": "HorizontalPodAutoscaler", "metadata": {"name": target, "namespace": ns},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "maxReplicas": 10, **spec}}


def cpu(percent: int) -> list[dict[str, Any]]:
    return [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": percent}}}]


def obj(api: str, kind: str, name: str, ns: str | None = "shop", **body: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}, **body}


def statuses(check: str, objects: list[dict[str, Any]], **sections: Any) -> list[Status]:
    snap, target = objects_snapshot(objects, **sections)
    return [o.status for o in run(check, snap, target)]


# -- secret detection ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "value", "secret"), [
    ("DB_PASSWORD", "hunter2hunter2", True),
    ("api-key", "abcd1234", True),
    ("DATABASE_URL", "postgresql://app:pw123@db/app", True),
    ("SOMETHING", "AKIAABCDEFGHIJKLMNOP", True),
    ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIB...", True),
    ("TOKEN_TTL", "3600", False),
    ("PASSWORD_MIN_LENGTH", "12", False),
    ("DB_PASSWORD_FILE", "/run/secrets/db", False),
    ("DB_PASSWORD", "${DB_PASSWORD}", False),
    ("JWT_SECRET", "", False),
    ("SECRET_ENABLED", "true", False),
    ("AZURE_STORAGE_KEY", "q9Zk3pX1Lm0", True),
    ("AZURE_OPENAI_KEY", "3f1c9e0a7b2d4c6e8f0a1b2c3d4e5f60", True),
    ("OCI_KEY_CONTENT", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", True),
    ("STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdefghijklmnopqrstuvwxyz0123==", True),
    ("MAPS_KEY", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", True),
    ("AZURE_STORAGE_KEY", "changeme", False),
    ("API_KEY", "xxxxx", False),
    ("ADMIN_PASSWORD", "replace-me", False),
    ("OPENAI_KEY", "your-key-here", False),
    ("CACHE_KEY", "products:v1", False),
    ("PUBLIC_KEY", "ssh-ed25519 AAAAC3Nza", False),
    ("KEY_ID", "ocid1.key.oc1..aaaa", False),
    ("DATABASE_URL", "postgresql://db:5432/app", False),
    ("LOG_LEVEL", "debug", False),
    ("entrypoint.sh", "#!/bin/sh\nTOKEN=$VAULT_TOKEN\nexec app\n", False),
    ("application.properties", "server.port=8080\nspring.datasource.password=s3cr3t-pw\n", True),
    ("config.yaml", "db:\n  host: db\n  password: \"hunter22\"\n", True),
    (".env", "export API_KEY=abcd-1234-efgh\nDEBUG=false\n", True),
    ("application.properties", "spring.datasource.password=${DB_PASSWORD}\ntoken.ttl=3600\n", False),
    ("config.yaml", "# password: hunter22\nauth:\n  token_endpoint: https://idp/token\n", False),
])
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert (secret_reason(name, value) is not None) is secret


# -- replicas / hpa --------------------------------------------------------------------------------
def test_replicas() -> None:
    assert statuses("kubernetes.replicas.min", [deployment(replicas=1)]) == [F]
    assert statuses("kubernetes.replicas.min", [deployment(replicas=None)]) == [F]  # defaults to 1
    assert statuses("kubernetes.replicas.min", [deployment(replicas=0)]) == [S]
    assert statuses("kubernetes.replicas.min", [deployment(replicas=1), hpa(minReplicas=2)]) == [P]
    assert statuses("kubernetes.replicas.min", [deployment(replicas=5), hpa()]) == [F]  # HPA min defaults to 1
    assert statuses("kubernetes.replicas.min", [deployment(kind="StatefulSet", replicas=3)]) == [P]
    assert statuses("kubernetes.replicas.min", [deployment(kind="DaemonSet")]) == [S]  # not a replica count


def test_system_namespaces_are_excluded_unless_configured() -> None:
    objects = [deployment("coredns", ns="kube-system", replicas=1)]
    assert statuses("kubernetes.replicas.min", objects) == [S]
    snap, _ = objects_snapshot(objects)
    target = Target("t", "kubernetes", {"exclude_namespaces": []})
    assert [o.status for o in run("kubernetes.replicas.min", snap, target)] == [F]


def test_hpa_present() -> None:
    assert statuses("kubernetes.hpa.present", [deployment(), hpa()]) == [P]
    assert statuses("kubernetes.hpa.present", [deployment(), hpa(ns="other")]) == [F]
    keda = obj("keda.sh/v1alpha1", "ScaledObject", "web", spec={"scaleTargetRef": {"name": "web"}})
    assert statuses("kubernetes.hpa.present", [deployment(), keda]) == [P]


@pytest.mark.parametrize(("scaler", "expected"), [
    (hpa(minReplicas=2, metrics=cpu(70)), P),
    (hpa(minReplicas=2, metrics=cpu(71)), F),
    (hpa(minReplicas=2), F),  # no metrics: Kubernetes uses 80 % CPU
    (hpa(api="autoscaling/v1", minReplicas=2), F),  # v1 default is 80 % too
    (hpa(api="autoscaling/v1", minReplicas=2, targetCPUUtilizationPercentage=60), P),
    (hpa(minReplicas=2, metrics=[{"type": "Pods", "pods": {"metric": {"name": "rps"},
                                                           "target": {"type": "AverageValue"}}}]), W),
    (hpa(minReplicas=10, metrics=cpu(60)), W),  # min == max: cannot scale
    (obj("keda.sh/v1alpha1", "ScaledObject", "web", spec={"scaleTargetRef": {"name": "web"}}), S),
])
def test_hpa_buffer(scaler: dict[str, Any], expected: Status) -> None:
    assert statuses("kubernetes.hpa.buffer", [deployment(), scaler]) == [expected]


def test_hpa_buffer_saturation_and_nothing_to_judge() -> None:
    hot = hpa(minReplicas=2, metrics=cpu(60))
    hot["status"] = {"currentReplicas": 10, "desiredReplicas": 10}
    assert statuses("kubernetes.hpa.buffer", [deployment(), hot]) == [F]
    cool = hpa(minReplicas=2, metrics=cpu(60))
    cool["status"] = {"currentReplicas": 4, "desiredReplicas": 4}
    assert statuses("kubernetes.hpa.buffer", [deployment(), cool]) == [P]
    assert statuses("kubernetes.hpa.buffer", [deployment()]) == [S]


# -- pdb -------------------------------------------------------------------------------------------
def pdb(ns: str = "shop", selector: Any = None, **spec: Any) -> dict[str, Any]:
    sel = {"matchLabels": {"app": "web"}} if selector is None else selector
    return obj("policy/v1", "PodDisruptionBudget", "web", ns, spec={"selector": sel, **spec})


@pytest.mark.parametrize(("budget", "expected"), [
    (pdb(maxUnavailable=1), P),
    (pdb(maxUnavailable="25%"), P),
    (pdb(minAvailable=2), P),
    (pdb(maxUnavailable=0), F),
    (pdb(maxUnavailable="0%"), F),
    (pdb(minAvailable=3), F),
    (pdb(minAvailable="100%"), F),
    (pdb(ns="other", maxUnavailable=1), F),
    (pdb(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
         maxUnavailable=1), P),
    (pdb(selector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]},
         maxUnavailable=1), F),
    (pdb(selector={}, maxUnavailable=1), P),  # empty selector: every pod in the namespace
])
def test_pdb(budget: dict[str, Any], expected: Status) -> None:
    assert statuses("kubernetes.pdb.present", [deployment(replicas=3), budget]) == [expected]


# -- resources, probes, spread --------------------------------------------------------------------
def test_resources() -> None:
    full = {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
    assert statuses("kubernetes.resources.requests", [deployment(container=full)]) == [P]
    assert statuses("kubernetes.resources.limits", [deployment(container=full)]) == [P]
    half = {"resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}}
    assert statuses("kubernetes.resources.requests", [deployment(container=half)]) == [F]
    assert statuses("kubernetes.resources.limits", [deployment(container=half)]) == [W]
    assert statuses("kubernetes.resources.limits", [deployment(kind="DaemonSet")]) == [F]


def test_probes() -> None:
    distinct = {"readinessProbe": GOOD_PROBE, "livenessProbe": {"tcpSocket": {"port": 8080}}}
    same = {"readinessProbe": GOOD_PROBE, "livenessProbe": dict(GOOD_PROBE)}
    assert statuses("kubernetes.probes.readiness", [deployment(container=distinct)]) == [P]
    assert statuses("kubernetes.probes.liveness", [deployment(container=distinct)]) == [P]
    assert statuses("kubernetes.probes.liveness", [deployment(container=same)]) == [W]
    assert statuses("kubernetes.probes.liveness", [deployment(container={"readinessProbe": GOOD_PROBE})]) == [F]
    assert statuses("kubernetes.probes.readiness", [deployment()]) == [F]
    # Judged on DaemonSets too, and on a per-container basis.
    web = deployment(kind="DaemonSet", container=distinct)
    web["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    snap, target = objects_snapshot([web])
    [outcome] = run("kubernetes.probes.readiness", snap, target)
    assert outcome.status is F and outcome.evidence["missing"] == ["sidecar"]


def test_spread() -> None:
    own = {"matchLabels": {"app": "web"}}
    anti = {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": own}}]}}}
    assert statuses("kubernetes.spread", [deployment(**anti)]) == [P]
    tsc = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                          "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": own}]}
    assert statuses("kubernetes.spread", [deployment(**tsc)]) == [P]
    assert statuses("kubernetes.spread", [deployment()]) == [F]


@pytest.mark.parametrize(("constraint", "why"), [
    ({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
      "labelSelector": {"matchLabels": {"app": "other"}}}, "does not select the workload's own pods"),
    ({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}, "no labelSelector"),
    ({"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}},
     "no topologyKey"),
    ({"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
      "labelSelector": {"matchLabels": {"app": "web"}}}, "maxSkew 0"),
    ({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Sometimes",
      "labelSelector": {"matchLabels": {"app": "web"}}}, "whenUnsatisfiable 'Sometimes'"),
    ({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
      "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}, "has no values"),
])
def test_spread_constraints_that_do_not_apply_fail_with_the_reason(constraint: dict[str, Any], why: str) -> None:
    snap, target = objects_snapshot([deployment(topologySpreadConstraints=[constraint])])
    [outcome] = run("kubernetes.spread", snap, target)
    assert outcome.status is F and why in outcome.message
    assert "None" not in outcome.message


def test_spread_anti_affinity_for_other_pods_does_not_count_and_mixed_warns() -> None:
    other = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "db"}}}]}}}
    assert statuses("kubernetes.spread", [deployment(**other)]) == [F]
    good = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}
    assert statuses("kubernetes.spread", [deployment(topologySpreadConstraints=[good], **other)]) == [W]


# -- bare pods and dangling references -------------------------------------------------------------
def pod(name: str = "debug", ns: str = "shop", owners: list | None = None, **container: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": {"app": name}}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "example/x:1", **container}]}}


def test_bare_pods_are_judged_and_owned_pods_are_left_to_their_controller() -> None:
    snap, target = objects_snapshot([pod(), pod("web-abc", owners=[{"kind": "ReplicaSet", "name": "web-1"}])])
    [outcome] = run("kubernetes.replicas.min", snap, target)
    assert outcome.status is F and outcome.subject == "shop/Pod/debug" and "bare Pod" in outcome.message
    [probe] = run("kubernetes.probes.readiness", snap, target)
    assert probe.status is F and probe.subject == "shop/Pod/debug"
    ready = pod(readinessProbe=GOOD_PROBE, resources={"requests": {"cpu": "100m", "memory": "64Mi"}})
    assert statuses("kubernetes.probes.readiness", [ready]) == [P]
    assert statuses("kubernetes.resources.requests", [ready]) == [P]


def test_hpa_and_pdb_pointing_at_nothing_are_flagged() -> None:
    pdb = obj("policy/v1", "PodDisruptionBudget", "web", spec={"maxUnavailable": 1,
                                                               "selector": {"matchLabels": {"app": "web"}}})
    stale_pdb = obj("policy/v1", "PodDisruptionBudget", "old", spec={"maxUnavailable": 1,
                                                                     "selector": {"matchLabels": {"app": "gone"}}})
    no_selector = obj("policy/v1", "PodDisruptionBudget", "none", spec={"maxUnavailable": 1})
    snap, target = objects_snapshot([deployment(), hpa("web"), hpa("renamed"), pdb, stale_pdb, no_selector])
    got = {o.subject: (o.status, o.message) for o in run("kubernetes.references", snap, target)}
    assert got["shop/HorizontalPodAutoscaler/web"][0] is P
    assert got["shop/HorizontalPodAutoscaler/renamed"][0] is F
    assert "Deployment/renamed, which is not in the checked set" in got["shop/HorizontalPodAutoscaler/renamed"][1]
    assert got["shop/PodDisruptionBudget/web"][0] is P
    assert got["shop/PodDisruptionBudget/old"][0] is F
    assert "no selector" in got["shop/PodDisruptionBudget/none"][1]
    assert statuses("kubernetes.references", [deployment()]) == [S]


def test_live_mode_does_not_fail_an_hpa_on_a_kind_it_cannot_list() -> None:
    rollout = hpa("web")
    rollout["spec"]["scaleTargetRef"] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web"}
    assert statuses("kubernetes.references", [rollout], source={"mode": "live"}) == [S]
    assert statuses("kubernetes.references", [rollout]) == [F]  # manifests hold every kind they use


# -- canary ----------------------------------------------------------------------------------------
def canary(ns: str = "shop", **analysis: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    if analysis:
        spec["analysis"] = analysis
    return obj("flagger.app/v1beta1", "Canary", "web", ns, spec=spec)


GUIDE_METRICS = [{"name": "error-rate", "threshold": 1, "interval": "1m"},
                 {"name": "latency", "threshold": 500, "interval": "30s"}]


@pytest.mark.parametrize(("analysis", "expected"), [
    ({"interval": "1m", "threshold": 5, "metrics": GUIDE_METRICS}, P),  # the guide's literal template
    ({"interval": "30s", "threshold": 3, "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 99.5}},
        {"name": "request-duration", "thresholdRange": {"max": 300}}]}, P),
    ({"interval": "1m", "threshold": 5, "metrics": [
        {"name": "request-success-rate", "thresholdRange": {"min": 98}},
        {"name": "latency", "threshold": 500}]}, F),  # allows 2 % errors
    ({"interval": "2m", "threshold": 5, "metrics": GUIDE_METRICS}, F),
    ({"interval": "1m", "threshold": 10, "metrics": GUIDE_METRICS}, F),
    ({"interval": "1m", "threshold": 5, "metrics": GUIDE_METRICS[:1]}, F),  # no latency metric
    ({"threshold": 5, "metrics": GUIDE_METRICS}, F),  # no interval
    ({}, F),
])
def test_canary(analysis: dict[str, Any], expected: Status) -> None:
    assert statuses("kubernetes.canary", [deployment(), canary(**analysis)]) == [expected]


def test_canary_must_be_in_the_same_namespace() -> None:
    good = canary(ns="other", interval="1m", threshold=5, metrics=GUIDE_METRICS)
    snap, target = objects_snapshot([deployment(), good])
    [outcome] = run("kubernetes.canary", snap, target)
    assert outcome.status is F and outcome.message == "no Flagger Canary for this Deployment"


# -- mtls ------------------------------------------------------------------------------------------
def peer(mode: str, ns: str = "istio-system", selector: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return obj("security.istio.io/v1", "PeerAuthentication", f"pa-{ns}-{mode.lower()}", ns, spec=spec)


def namespace(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}}


@pytest.mark.parametrize(("objects", "expected"), [
    ([peer("STRICT")], P),
    ([peer("STRICT"), peer("PERMISSIVE", ns="shop", selector={"app": "legacy"})], W),
    ([peer("PERMISSIVE")], F),
    ([peer("STRICT", ns="shop")], P),  # namespace-wide STRICT in every application namespace
    ([peer("STRICT", ns="other")], F),
    ([namespace("linkerd"), namespace("shop", **{"config.linkerd.io/default-inbound-policy": "all-authenticated"})],
     P),
    ([namespace("linkerd"), obj("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "web", spec={
        "requiredAuthenticationRefs": [{"kind": "MeshTLSAuthentication", "name": "mesh"}]})], P),
    ([namespace("linkerd")], W),
    ([peer("STRICT"), {**namespace("shop"), "metadata": {"name": "shop", "labels": {}}}], W),  # not injected
    ([peer("STRICT"), {**namespace("shop"), "metadata": {"name": "shop", "labels": {"istio.io/rev": "1-22"}}}],
     P),
    ([peer("STRICT"), {**namespace("shop"), "metadata": {"name": "shop", "labels": {
        "istio.io/dataplane-mode": "ambient"}}}], P),
    ([namespace("linkerd"), obj("v1", "ConfigMap", "linkerd-config", "linkerd", data={
        "values": "proxy:\n  defaultInboundPolicy: all-authenticated\n"})], P),
    ([namespace("linkerd"), obj("v1", "ConfigMap", "linkerd-config", "linkerd", data={
        "values": "proxy:\n  defaultInboundPolicy: all-unauthenticated\n"})], W),
    ([namespace("linkerd"), deployment("api", template_meta={"annotations": {
        "config.linkerd.io/default-inbound-policy": "all-authenticated"}})], P),
    ([peer("STRICT"), {**peer("STRICT", ns="shop"), "spec": {"mtls": {"mode": "STRICT"},
                                                             "portLevelMtls": {"8080": {"mode": "DISABLE"}}}}], W),
    ([obj("security.istio.io/v1", "AuthorizationPolicy", "web", spec={"requiredAuthenticationRefs": [
        {"kind": "MeshTLSAuthentication"}]})], F),  # Istio's AuthorizationPolicy is not Linkerd's
    ([], F),
])
def test_mtls(objects: list[dict[str, Any]], expected: Status) -> None:
    assert statuses("kubernetes.mtls", [deployment(), *objects]) == [expected]


def test_mtls_workloads_may_opt_in_one_by_one() -> None:
    shop = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    opted = deployment(template_meta={"labels": {"app": "web", "sidecar.istio.io/inject": "true"}})
    assert statuses("kubernetes.mtls", [opted, shop, peer("STRICT")]) == [P]
    snap, target = objects_snapshot([opted, deployment("batch"), shop, peer("STRICT")])
    [outcome] = run("kubernetes.mtls", snap, target)
    assert outcome.status is W and outcome.evidence["not_meshed"] == ["shop"]


def test_mtls_forbidden_without_other_evidence_is_an_error() -> None:
    denied = [{"kind": "PeerAuthentication", "resource": "peerauthentications.security.istio.io", "verb": "list",
               "scope": "at cluster scope", "message": "forbidden: cannot list peerauthentications.security.istio.io"
               " at cluster scope"}]
    assert statuses("kubernetes.mtls", [deployment()], access_errors=denied) == [E]


# -- network policy --------------------------------------------------------------------------------
def netpol(**spec: Any) -> dict[str, Any]:
    return obj("networking.k8s.io/v1", "NetworkPolicy", "np", spec=spec)


@pytest.mark.parametrize(("policy", "expected"), [
    (netpol(podSelector={}, policyTypes=["Ingress"]), P),
    (netpol(podSelector={}), P),  # policyTypes defaults to Ingress
    (netpol(podSelector={}, policyTypes=["Ingress", "Egress"]), P),
    (netpol(podSelector={}, policyTypes=["Egress"]), F),
    (netpol(podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Ingress"]), F),
    (netpol(podSelector={}, policyTypes=["Ingress"], ingress=[{}]), F),  # allows everything
])
def test_default_deny(policy: dict[str, Any], expected: Status) -> None:
    assert statuses("kubernetes.network_policy.default_deny", [deployment(), policy]) == [expected]


def test_default_deny_per_namespace() -> None:
    objects = [deployment(), deployment("api", ns="api"), netpol(podSelector={})]
    snap, target = objects_snapshot(objects)
    got = {o.subject: o.status for o in run("kubernetes.network_policy.default_deny", snap, target)}
    assert got == {"shop/NetworkPolicy/np": P, "Namespace/api": F}
    assert statuses("kubernetes.network_policy.default_deny", []) == [S]


# -- secrets ---------------------------------------------------------------------------------------
def test_plaintext_secrets() -> None:
    secret = obj("v1", "Secret", "db", data={"password": "aHVudGVyMg=="}, type="Opaque")
    snap, target = objects_snapshot([secret, deployment()])
    [outcome] = run("kubernetes.secrets.plaintext", snap, target)
    assert outcome.status is F and outcome.evidence["keys"] == ["data.password"]
    assert "aHVudGVyMg==" not in str(snap.to_json())
    clean = obj("v1", "ConfigMap", "cfg", data={"DB_PASSWORD": "${DB_PASSWORD}", "TOKEN_TTL": "60"})
    ref = deployment(container={"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                                               "key": "pw"}}}]})
    assert statuses("kubernetes.secrets.plaintext", [clean, ref]) == [P]


@pytest.mark.parametrize(("objects", "cluster", "expected"), [
    ([obj("bitnami.com/v1alpha1", "SealedSecret", "db", spec={"encryptedData": {"pw": "AgB..."}})], {}, P),
    ([deployment(template_meta={"annotations": {"vault.hashicorp.com/agent-inject": "true"}})], {}, P),
    ([deployment(volumes=[{"name": "s", "csi": {"driver": "secrets-store.csi.k8s.io"}}])], {}, P),
    ([deployment()], {"crds": ["externalsecrets.external-secrets.io"]}, W),
    ([deployment()], {}, F),
])
def test_external_secrets(objects: list[dict[str, Any]], cluster: dict[str, Any], expected: Status) -> None:
    assert statuses("kubernetes.secrets.external", objects, cluster=cluster) == [expected]


# -- tracing, chaos, regions -----------------------------------------------------------------------
def test_tracing() -> None:
    assert statuses("kubernetes.tracing", [deployment("jaeger", image="jaegertracing/all-in-one:1.57")]) == [P]
    exporting = deployment(container={"env": [{"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://x:4317"}]})
    assert statuses("kubernetes.tracing", [exporting]) == [W]
    assert statuses("kubernetes.tracing", [deployment()]) == [F]


def test_chaos() -> None:
    experiment = obj("chaos-mesh.org/v1alpha1", "PodChaos", "kill-one", spec={"action": "pod-kill"})
    assert statuses("kubernetes.chaos", [experiment]) == [P]
    assert statuses("kubernetes.chaos", [], cluster={"crds": ["chaosengines.litmuschaos.io"]}) == [W]
    operator = deployment("chaos-controller-manager", ns="chaos-mesh", image="ghcr.io/chaos-mesh/chaos-mesh:v2.6")
    assert statuses("kubernetes.chaos", [operator]) == [W]
    assert statuses("kubernetes.chaos", [deployment()]) == [F]


def test_regions() -> None:
    one_zone = [{"name": "a", "zone": "z1", "region": "r1"}, {"name": "b", "zone": "z1", "region": "r1"}]
    assert statuses("kubernetes.regions", [], source={"mode": "live"}, cluster={"nodes": one_zone}) == [F]
    assert statuses("kubernetes.regions", [], source={"mode": "live"}, cluster={"nodes": []}) == [E]
    assert statuses("kubernetes.regions", []) == [S]


# -- engine integration ----------------------------------------------------------------------------
def test_missing_evidence_and_failed_collection_become_error_findings() -> None:
    target = Target("t", "kubernetes", {"manifests": ["x"]})
    findings = engine.evaluate(Snapshot("t", "kubernetes", data={}), target)
    assert findings and {f.status for f in findings} == {E}
    failed = Snapshot("t", "kubernetes", error="cannot reach the Kubernetes API server at https://x: timed out")
    assert {f.status for f in engine.evaluate(failed, target)} == {E}


def test_large_configmap_values_are_scanned_in_full_but_not_stored() -> None:
    dashboard = '{"panels": [' + ",".join(['{"title": "p"}'] * 8000) + "]}"
    leaky = "x: 1\n" * 20000 + "db_password: s3cr3t-value\n"
    cm = obj("v1", "ConfigMap", "big", data={"dashboard.json": dashboard, "app.yaml": leaky, "small": "ok"})
    snap, target = objects_snapshot([cm])
    stored = snap.data["objects"][0]["data"]
    assert stored["small"] == "ok"
    assert stored["dashboard.json"]["__omitted__"] and stored["dashboard.json"]["length"] == len(dashboard)
    assert stored["app.yaml"]["__redacted__"] and "db_password" in stored["app.yaml"]["reason"]
    assert [o.status for o in run("kubernetes.secrets.plaintext", snap, target)] == [F]
