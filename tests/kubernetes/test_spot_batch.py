"""Spot capacity for batch work, judged on real manifests read by the manifests collector."""

from __future__ import annotations

from pathlib import Path

import yaml

import checks.kubernetes
from scaleready.api import Status
from scaleready.engine import evaluate
from scaleready.plugins import Registry
from tests.kubernetes.helpers import snapshot_of, write
from tests.support.k8s_api_server import FakeApiServer

BATCH = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly-report, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      backoffLimit: 4
      template:
        spec:
          restartPolicy: OnFailure
          nodeSelector: {karpenter.sh/capacity-type: spot}
          containers: [{name: report, image: "shop/report:1.4"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: reindex, namespace: shop}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      tolerations:
        - {key: kubernetes.azure.com/scalesetpriority, operator: Equal, value: spot, effect: NoSchedule}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: kubernetes.azure.com/scalesetpriority, operator: In, values: [spot]}
      containers: [{name: reindex, image: "shop/search:2.0"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: import-catalogue, namespace: shop}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: import, image: "shop/import:0.9"}]
"""


def _findings(snapshot, target):
    reg = Registry()
    reg.add_module(checks.kubernetes, "kubernetes", "test")
    return {f.subject: f for f in evaluate(snapshot, target, reg) if f.check == "kubernetes.cost.spot_batch"}


def test_batch_workloads_on_spot(tmp_path: Path) -> None:
    write(tmp_path, "batch.yaml", BATCH)
    snapshot, target = snapshot_of({"manifests": [str(tmp_path)]})
    found = _findings(snapshot, target)
    assert found["shop/CronJob/nightly-report"].status is Status.PASS
    assert "karpenter.sh/capacity-type" in found["shop/CronJob/nightly-report"].message
    reindex = found["shop/Job/reindex"]
    assert reindex.status is Status.WARN and "backoffLimit is 0" in reindex.message
    assert "toleration" in reindex.message and "required node affinity" in reindex.message
    assert found["shop/Job/import-catalogue"].status is Status.FAIL
    third = [n for n, line in enumerate(BATCH.splitlines(), 1) if line.startswith("apiVersion")][2]
    assert found["shop/Job/import-catalogue"].location.endswith(f"batch.yaml:{third}")


def test_no_batch_skips(tmp_path: Path) -> None:
    write(tmp_path, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    snapshot, target = snapshot_of({"manifests": [str(tmp_path)]})
    (only,) = _findings(snapshot, target).values()
    assert only.status is Status.SKIP


def test_live_cluster_batch_is_judged_and_a_cronjobs_runs_are_not_judged_twice() -> None:
    objects = [d for d in yaml.safe_load_all(BATCH) if d]
    run_of_cronjob = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "nightly-report-29110", "namespace": "shop",
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly-report"}]},
        "spec": {"template": {"spec": {"containers": [{"name": "report", "image": "shop/report:1.4"}]}}}}
    with FakeApiServer([*objects, run_of_cronjob]) as srv:
        snapshot, target = snapshot_of({"kubeconfig": srv.write_kubeconfig()}, name="live")
    found = _findings(snapshot, target)
    assert found["shop/CronJob/nightly-report"].status is Status.PASS
    assert found["shop/Job/reindex"].status is Status.WARN
    assert found["shop/Job/import-catalogue"].status is Status.FAIL
    assert not any("nightly-report-29110" in (s or "") for s in found)
