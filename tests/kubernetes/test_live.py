"""Live mode against tests/support/k8s_api_server.py, a local server speaking the Kubernetes API."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleready import engine
from scaleready.api import CollectError, Snapshot, Status, Target
from tests.kubernetes.helpers import DEMO, run, snapshot_of, table
from tests.support.k8s_api_server import FakeApiServer, crd, node

CRDS = [
    crd("flagger.app", "Canary", "canaries", ["v1beta1"]),
    crd("security.istio.io", "PeerAuthentication", "peerauthentications", ["v1", "v1beta1"]),
    crd("external-secrets.io", "ExternalSecret", "externalsecrets", ["v1beta1"]),
    crd("external-secrets.io", "ClusterSecretStore", "clustersecretstores", ["v1beta1"], namespaced=False),
    crd("opentelemetry.io", "OpenTelemetryCollector", "opentelemetrycollectors", ["v1beta1"]),
]
NODES = [node("n1", "eu-west-1a", "eu-west-1"), node("n2", "eu-west-1b", "eu-west-1")]


def demo_objects() -> list[dict[str, Any]]:
    """The sample app as a cluster would hold it (the Kustomization is a build file, not an object)."""
    objects = []
    for path in sorted(DEMO.rglob("*.yaml")):
        objects += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Kustomization"]
    return objects


def cluster(extra: list[dict[str, Any]] | None = None, drop: set[str] = frozenset(), **kw: Any) -> FakeApiServer:
    objects = [o for o in demo_objects() + CRDS + NODES + (extra or [])
               if o["kind"] not in drop and o["metadata"].get("name") not in drop]
    return FakeApiServer(objects, **kw)


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with cluster() as srv:
        yield srv


def live(srv: FakeApiServer, **options: Any):  # type: ignore[no-untyped-def]
    return snapshot_of({"kubeconfig": srv.write_kubeconfig(), **options}, name="live")


def test_live_and_manifest_modes_agree_on_the_sample_app(server: FakeApiServer) -> None:
    live_snap, live_target = live(server)
    files_snap, files_target = snapshot_of({"manifests": [str(DEMO)]})
    live_table, files_table = table(live_snap, live_target), table(files_snap, files_target)
    # Only regions differs: a cluster has nodes (two zones, one region), manifests have none.
    assert live_table.pop(("kubernetes.regions", None)) is Status.WARN
    assert files_table.pop(("kubernetes.regions", None)) is Status.SKIP
    assert live_table == files_table
    assert live_snap.data["source"]["mode"] == "live"
    assert live_snap.data["source"]["server"] == server.url
    assert live_snap.data["source"]["version"]["git_version"] == "v1.30.2"
    assert all(o.get("file") is None for o in live_snap.data["objects"])


def test_the_server_answers_like_a_kube_apiserver(server: FakeApiServer) -> None:
    ctx = ssl.create_default_context(cadata=server.ca_pem.decode())  # type: ignore[union-attr]

    def get(path: str) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    code, body = get("/apis/apps/v1/deployments?limit=2")
    assert code == 200 and body["kind"] == "DeploymentList" and body["apiVersion"] == "apps/v1"
    assert body["metadata"]["resourceVersion"] and body["metadata"]["remainingItemCount"] == 1
    assert "kind" not in body["items"][0] and body["items"][0]["metadata"]["uid"]
    code, body = get("/apis/flagger.app/v1beta1/namespaces/shop/canaries")
    assert code == 200 and body["items"][0]["kind"] == "Canary"
    code, body = get("/apis/chaos-mesh.org/v1alpha1/podchaos")
    assert code == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"


def test_forbidden_resource_is_an_error_naming_verb_and_resource() -> None:
    with cluster(forbidden={"poddisruptionbudgets.policy"}) as srv:
        snap, target = live(srv)
    message = "forbidden: cannot list poddisruptionbudgets.policy at cluster scope"
    [pdb] = run("kubernetes.pdb.present", snap, target)
    assert (pdb.status, pdb.message, pdb.subject) == (Status.ERROR, message, "poddisruptionbudgets.policy")
    assert pdb.evidence["verb"] == "list"
    [load] = run("kubernetes.load", snap, target)
    assert (load.status, load.message) == (Status.ERROR, message)
    # The rest still run.
    assert [o.status for o in run("kubernetes.replicas.min", snap, target)].count(Status.FAIL) == 1
    assert {o.status for o in run("kubernetes.hpa.present", snap, target)} == {Status.PASS, Status.FAIL}


def test_missing_crds_mean_not_installed_not_errors() -> None:
    with cluster(drop={"Canary", "canaries.flagger.app"}) as srv:
        snap, target = live(srv)
        paths = [p for _, p in srv.requests]
    assert snap.data["access_errors"] == []
    assert not any("flagger.app" in p for p in paths)  # discovery said the group is absent
    # external-secrets.io exists but has no SecretStore resource: a 404, read as "not installed".
    assert any(p.startswith("/apis/external-secrets.io/v1beta1/secretstores") for p in paths)
    assert "secretstores.external-secrets.io/v1beta1" not in snap.data["cluster"]["installed"]
    outcomes = run("kubernetes.canary", snap, target)
    assert {o.status for o in outcomes} == {Status.FAIL}
    assert all(o.message.endswith("(Flagger is not installed)") for o in outcomes)
    assert [o.status for o in run("kubernetes.load", snap, target)] == [Status.PASS]


def test_lists_are_paged_with_continue(server: FakeApiServer) -> None:
    snap, _ = live(server, page_size=1)
    deploy_calls = [p for _, p in server.requests if p.startswith("/apis/apps/v1/deployments")]
    assert len(deploy_calls) == 3 and sum("continue=" in p for p in deploy_calls) == 2
    names = sorted(o["metadata"]["name"] for o in snap.data["objects"] if o["kind"] == "Deployment")
    assert names == ["cart-service", "legacy-worker", "product-service"]


def test_namespace_filter_lists_inside_the_namespaces_only() -> None:
    forbidden = {"deployments.apps@cluster", "configmaps@cluster", "namespaces"}
    with cluster(forbidden=forbidden) as srv:
        snap, target = live(srv, namespaces=["shop"])
        paths = [p for _, p in srv.requests]
    assert any(p.startswith("/apis/apps/v1/namespaces/shop/deployments") for p in paths)
    assert not any(p.startswith("/apis/apps/v1/deployments") for p in paths)
    assert {o["kind"] for o in snap.data["objects"] if o["metadata"]["namespace"] not in (None, "shop")} == set()
    # Namespace objects could not be read (get forbidden): recorded, workloads still judged.
    assert [e["kind"] for e in snap.data["access_errors"]] == ["Namespace"]
    statuses = {o.subject: o.status for o in run("kubernetes.replicas.min", snap, target)}
    assert statuses["shop/Deployment/legacy-worker"] is Status.FAIL


def test_forbidden_in_one_namespace_only() -> None:
    extra = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}]
    with cluster(extra=extra, forbidden={"deployments.apps@payments"}) as srv:
        snap, target = live(srv, namespaces=["shop", "payments"])
    outcomes = run("kubernetes.replicas.min", snap, target)
    errors = [o for o in outcomes if o.status is Status.ERROR]
    assert [o.message for o in errors] == ["forbidden: cannot list deployments.apps in namespace payments"]
    assert len(outcomes) == 4  # the error plus the three shop deployments


def test_saturated_hpa_fails_the_buffer_in_live_mode() -> None:
    objects = demo_objects()
    for obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler" and obj["metadata"]["name"] == "product-service":
            obj["status"] = {"currentReplicas": 20, "desiredReplicas": 24, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 96}}}],
                "conditions": [{"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}]}
    with FakeApiServer(objects + CRDS + NODES) as srv:
        snap, target = live(srv)
    outcome = next(o for o in run("kubernetes.hpa.buffer", snap, target)
                   if o.subject == "shop/Deployment/product-service")
    assert outcome.status is Status.FAIL
    assert outcome.message.startswith("HPA saturated: 20 current / 24 desired replicas at maxReplicas 20")


def _pod(name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "labels": {"app": name}}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def test_bare_pods_are_judged_in_live_mode_and_controller_pods_are_not_kept() -> None:
    owned = _pod("product-service-7d9f-abcde", [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                 "name": "product-service-7d9f", "controller": True}])
    with cluster([_pod("debug-shell"), owned]) as srv:
        snap, target = live(srv)
    pods = [o for o in snap.data["objects"] if o["kind"] == "Pod"]
    assert [p["metadata"]["name"] for p in pods] == ["debug-shell"]
    replicas = {o.subject: o for o in run("kubernetes.replicas.min", snap, target)}
    assert replicas["shop/Pod/debug-shell"].status is Status.FAIL
    assert "bare Pod" in replicas["shop/Pod/debug-shell"].message
    readiness = {o.subject: o.status for o in run("kubernetes.probes.readiness", snap, target)}
    assert readiness["shop/Pod/debug-shell"] is Status.FAIL


def test_forbidden_to_list_pods_is_an_access_error_not_a_silent_pass() -> None:
    with cluster([_pod("debug-shell")], forbidden={"pods"}) as srv:
        snap, target = live(srv)
    assert any(e["resource"] == "pods" for e in snap.data["access_errors"])
    assert Status.ERROR in {o.status for o in run("kubernetes.load", snap, target)}


def test_live_snapshot_holds_no_secret_and_no_last_applied_copy() -> None:
    secret = "Zq8-live-db-password"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "billing", "namespace": "shop", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": {"DB_PASSWORD": secret}})}},
        "data": {"DB_PASSWORD": secret, "MODE": "batch"}}
    with cluster(extra=[cm]) as srv:
        snap, target = live(srv)
    assert secret not in json.dumps(snap.to_json())
    hits = [o for o in run("kubernetes.secrets.plaintext", snap, target) if o.subject == "shop/ConfigMap/billing"]
    assert len(hits) == 1 and hits[0].evidence["literals"][0]["key"] == "data.DB_PASSWORD"


def test_regions_from_node_labels() -> None:
    nodes = [node("a", "us-east-1a", "us-east-1"), node("b", "us-west-2a", "us-west-2"), node("c", None, None)]
    with FakeApiServer(demo_objects() + nodes) as srv:
        snap, target = live(srv)
    [outcome] = run("kubernetes.regions", snap, target)
    assert outcome.status is Status.PASS
    assert outcome.evidence["regions"] == ["us-east-1", "us-west-2"] and outcome.evidence["unlabelled"] == ["c"]
    with cluster(forbidden={"nodes"}) as srv:
        snap, target = live(srv)
    [outcome] = run("kubernetes.regions", snap, target)
    assert (outcome.status, outcome.message) == (Status.ERROR, "forbidden: cannot list nodes at cluster scope")


def test_bad_token_is_one_readable_error(server: FakeApiServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(str(tmp_path / "kc"), token="wrong")
    with pytest.raises(CollectError, match=r"rejected the credentials \(401 Unauthorized\)"):
        snapshot_of({"kubeconfig": path})


def test_unreachable_server_and_untrusted_certificate(server: FakeApiServer, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    doc = yaml.safe_load(Path(server.write_kubeconfig()).read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    (tmp_path / "closed").write_text(yaml.safe_dump(doc))
    with pytest.raises(CollectError, match=f"at https://127.0.0.1:{port}: connection refused"):
        snapshot_of({"kubeconfig": str(tmp_path / "closed")})
    doc = yaml.safe_load(Path(server.write_kubeconfig()).read_text())
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    (tmp_path / "noca").write_text(yaml.safe_dump(doc))
    with pytest.raises(CollectError, match="TLS certificate verification failed"):
        snapshot_of({"kubeconfig": str(tmp_path / "noca")})


def test_kubeconfig_problems(server: FakeApiServer, tmp_path: Path) -> None:
    with pytest.raises(CollectError, match=f"kubeconfig {tmp_path}/missing"):
        snapshot_of({"kubeconfig": str(tmp_path / "missing")})
    with pytest.raises(CollectError, match="prod"):
        snapshot_of({"kubeconfig": server.write_kubeconfig(), "context": "prod"})
    snap, _ = snapshot_of({"kubeconfig": server.write_kubeconfig(), "context": "fake-cluster"})
    assert snap.data["objects"]
    # No kubeconfig key: $KUBECONFIG (then ~/.kube/config), as kubectl does; "~" is expanded.
    home = tmp_path / "home"
    server.write_kubeconfig(str(tmp_path / "kc"))
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text((tmp_path / "kc").read_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("KUBECONFIG", str(tmp_path / "kc"))
        assert snapshot_of({"context": "fake-cluster"})[0].data["objects"]
        assert snapshot_of({"kubeconfig": "~/.kube/config"})[0].data["objects"]


def test_in_cluster_mode(server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    (tmp_path / "token").write_text(server.token)
    (tmp_path / "ca.crt").write_bytes(server.ca_pem or b"")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", server.url.rsplit(":", 1)[1])
    snap, _ = snapshot_of({"in_cluster": True})
    assert len([o for o in snap.data["objects"] if o["kind"] == "Deployment"]) == 3
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(CollectError, match="in-cluster config"):
        snapshot_of({"in_cluster": True})


def test_through_the_engine(server: FakeApiServer) -> None:
    target = Target("prod", "kubernetes", {"kubeconfig": server.write_kubeconfig()}, timeout=20)
    snap = engine.collect_one(target)
    assert snap.error is None and snap.duration_ms > 0
    findings = engine.evaluate(snap, target)
    mtls = [f for f in findings if f.check == "kubernetes.mtls"]
    assert [f.status for f in mtls] == [Status.PASS]
    token = base64.b64encode(server.token.encode()).decode()
    assert server.token not in json.dumps(snap.to_json()) and token not in json.dumps(snap.to_json())


def test_a_broken_or_slow_resource_does_not_sink_the_others() -> None:
    from checks.kubernetes.collector import collect_kubernetes

    with cluster(broken={"poddisruptionbudgets.policy"}, slow={"networkpolicies.networking.k8s.io": 2.5}) as srv:
        target = Target("live", "kubernetes", {"kubeconfig": srv.write_kubeconfig()}, timeout=1)
        data = collect_kubernetes.fn(target)
    assert sorted(e["message"] for e in data["access_errors"]) == [
        "cannot list networkpolicies.networking.k8s.io at cluster scope: timed out",
        "cannot list poddisruptionbudgets.policy at cluster scope: HTTP 500 Internal Server Error",
    ]
    snap = Snapshot("live", "kubernetes", data=data)
    [pdb] = run("kubernetes.pdb.present", snap, target)
    assert pdb.status is Status.ERROR
    assert {o.status for o in run("kubernetes.hpa.present", snap, target)} == {Status.PASS, Status.FAIL}


def test_a_list_too_long_to_page_through_is_recorded_not_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    from checks.kubernetes import live as _k8s_live

    monkeypatch.setattr(_k8s_live, "MAX_PAGES", 2)
    with cluster() as srv:
        snap, target = live(srv, page_size=1)
    errors = {e["kind"]: e["message"] for e in snap.data["access_errors"]}
    assert errors["Deployment"] == ("cannot list deployments.apps at cluster scope: more than 2 pages of 1; "
                                    "not read to the end")
    assert Status.ERROR in {o.status for o in run("kubernetes.replicas.min", snap, target)}


def test_chaos_experiments_of_any_chaos_mesh_kind_are_found() -> None:
    chaos_crds = [crd("chaos-mesh.org", kind, kind.lower(), ["v1alpha1"]) for kind in ("PodChaos", "StressChaos")]
    stress = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos",
              "metadata": {"name": "cpu-burn", "namespace": "shop"},
              "spec": {"mode": "one", "stressors": {"cpu": {"workers": 1}}}}
    with cluster(extra=[*chaos_crds, stress]) as srv:
        snap, target = live(srv)
    [outcome] = run("kubernetes.chaos", snap, target)
    assert (outcome.status, outcome.evidence["experiments"]) == (Status.PASS, ["shop/StressChaos/cpu-burn"])
    with cluster(extra=chaos_crds) as srv:
        snap, target = live(srv)
    [outcome] = run("kubernetes.chaos", snap, target)
    assert outcome.status is Status.WARN and "chaos-mesh.org" in outcome.message
