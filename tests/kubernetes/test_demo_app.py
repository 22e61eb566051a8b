"""The sample app under data/demo/k8s: every check's verdict on every object, exactly."""

from __future__ import annotations

import json
import os

import pytest

from scaleready import engine
from scaleready.api import Status, Target
from tests.kubernetes.helpers import DEMO, snapshot_of, table

P, W, F, S = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP
PRODUCT = "shop/Deployment/product-service"
CART = "shop/Deployment/cart-service"
LEGACY = "shop/Deployment/legacy-worker"

PER_WORKLOAD = {
    #                                 product  cart  legacy
    "kubernetes.replicas.min":        (P, P, F),
    "kubernetes.hpa.present":         (P, P, F),
    "kubernetes.pdb.present":         (P, F, F),
    "kubernetes.resources.requests":  (P, P, F),
    "kubernetes.resources.limits":    (P, W, F),
    "kubernetes.probes.readiness":    (P, P, F),
    "kubernetes.probes.liveness":     (P, W, F),
    "kubernetes.spread":              (P, F, F),
    "kubernetes.canary":              (P, F, F),
}

EXPECTED = {
    **{(check, subject): status for check, row in PER_WORKLOAD.items()
       for subject, status in zip((PRODUCT, CART, LEGACY), row, strict=True)},
    ("kubernetes.hpa.buffer", PRODUCT): P,
    ("kubernetes.hpa.buffer", CART): F,
    ("kubernetes.load", None): P,
    ("kubernetes.mtls", "istio-system/PeerAuthentication/default"): P,
    ("kubernetes.network_policy.default_deny", "shop/NetworkPolicy/default-deny-ingress"): P,
    ("kubernetes.secrets.plaintext", "shop/ConfigMap/cart-config"): F,
    ("kubernetes.secrets.plaintext", LEGACY): F,
    ("kubernetes.secrets.external", None): P,
    ("kubernetes.tracing", None): P,
    ("kubernetes.chaos", None): F,
    ("kubernetes.regions", None): S,
    ("kubernetes.cost.spot_batch", None): S,  # the sample app has no Job or CronJob
    ("kubernetes.references", "shop/HorizontalPodAutoscaler/cart-service"): P,
    ("kubernetes.references", "shop/HorizontalPodAutoscaler/product-service"): P,
    ("kubernetes.references", "shop/PodDisruptionBudget/cart-service"): P,
    ("kubernetes.references", "shop/PodDisruptionBudget/product-service"): P,
}


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return snapshot_of({"manifests": [str(DEMO)]}, name="demo")


def test_every_verdict_on_the_sample_app(demo) -> None:  # type: ignore[no-untyped-def]
    assert table(*demo) == EXPECTED


def test_findings_carry_file_and_line(demo) -> None:  # type: ignore[no-untyped-def]
    snap, target = demo
    findings = engine.evaluate(snap, target)
    # Paths under the working directory are shown relative to it (as SARIF viewers want).
    shown = os.path.relpath(DEMO) if str(DEMO).startswith(os.getcwd() + os.sep) else str(DEMO)
    legacy = [f for f in findings if f.subject == LEGACY]
    assert legacy and all(f.location == f"{shown}/legacy-worker/deployment.yaml:1" for f in legacy)
    [cart_buffer] = [f for f in findings if f.check == "kubernetes.hpa.buffer" and f.subject == CART]
    assert cart_buffer.location == f"{shown}/cart-service/all.yaml:15"
    assert cart_buffer.evidence["targets"] == {"cpu": 85}
    assert cart_buffer.evidence["template"] == "cart/templates/deployment.yaml"  # Helm's "# Source:"
    assert cart_buffer.items == ["cost.autoscaling_buffer", "roadmap.p3.autoscaling"]
    pointer = cart_buffer.evidence["pointer"]
    index = int(pointer.rsplit("/", 1)[1])
    assert snap.data["objects"][index]["metadata"]["name"] == "cart-service"


def test_no_secret_value_reaches_the_snapshot(demo) -> None:  # type: ignore[no-untyped-def]
    snap, _ = demo
    text = json.dumps(snap.to_json())
    for secret in ("Sup3rS3cretCart", "pk_test_51Hx9fakeDemoKeyForScaleready"):
        assert secret not in text
    cart = next(o for o in snap.data["objects"] if o["metadata"]["name"] == "cart-config")
    assert cart["data"]["LOG_LEVEL"] == "info"
    assert cart["data"]["DATABASE_URL"]["fingerprint"].startswith("sha256:")


def test_through_the_engine_and_the_entry_point() -> None:
    target = Target("demo", "kubernetes", {"manifests": [str(DEMO)]})
    snap = engine.collect_one(target)
    assert snap.error is None
    findings = engine.evaluate(snap, target)
    ids = {f.check for f in findings}
    assert {"kubernetes.canary", "kubernetes.mtls", "kubernetes.regions", "kubernetes.spread"} <= ids
    assert not [f for f in findings if f.status is Status.ERROR]


def test_check_items_agree_with_the_framework() -> None:
    """A check's items and the framework's item -> checks mapping say the same thing, both ways."""
    from scaleready.framework import load_framework
    from tests.kubernetes.helpers import CHECKS

    framework = load_framework()
    from_framework = {(item.id, c) for item in framework.items for c in item.checks if c.startswith("kubernetes.")}
    from_checks = {(i, check.id) for check in CHECKS.values() for i in check.items}
    assert from_checks == from_framework


def test_thresholds_match_the_framework_params() -> None:
    from checks.kubernetes import cluster as _k8s_cluster
    from checks.kubernetes import workloads as _k8s_workload
    from checks.kubernetes.cluster import duration_seconds
    from scaleready.framework import load_framework

    params = {item.id: item.params for item in load_framework().items}
    canary = params["deploy.canary"]
    assert canary["error_rate"] == _k8s_cluster.CANARY_MAX_ERROR_RATE
    assert canary["latency_ms"] == _k8s_cluster.CANARY_MAX_LATENCY_MS
    assert canary["threshold"] == _k8s_cluster.CANARY_MAX_THRESHOLD
    assert duration_seconds(canary["interval"]) == _k8s_cluster.CANARY_MAX_INTERVAL_S
    buffer = params["cost.autoscaling_buffer"]
    assert buffer["max_target_utilization_percent"] == _k8s_workload.BUFFER_MAX_UTILISATION
    assert buffer["buffer_percent"] == 100 - _k8s_workload.BUFFER_MAX_UTILISATION
