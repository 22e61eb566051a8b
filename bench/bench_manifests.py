"""Manifest-mode benchmark (issue 4): 5,000 objects in at most 5x the time of 500.

Run: ``python bench/bench_manifests.py``. Writes a generated repository of services (each a
Deployment, Service, HPA, PDB and Flagger Canary in one multi-document file, ten services per
namespace, a third of them deliberately wrong), then times the whole manifest path: load
and parse, normalize and redact, and evaluate every ``kubernetes.*`` check. Prints both
times (best of three) and the ratio; exits 1 when the ratio misses the target.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import checks.kubernetes as k8s
from scaleready.api import Check, Snapshot, Target

OBJECTS_PER_SERVICE = 5
TARGET_RATIO = 5.0

SERVICE = """\
# Source: svc/templates/{name}.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}, tier: backend}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, tier: backend}}
    spec:
      containers:
        - name: app
          image: registry.example.com/{name}:1.0.{i}
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: {secret_name}, value: "{secret_value}"}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
          livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: {util}}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}, namespace: {ns}}}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {{app: {name}}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: {name}, namespace: {ns}}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  analysis:
    interval: 1m
    threshold: 5
    metrics:
      - {{name: error-rate, thresholdRange: {{max: 1}}, interval: 1m}}
      - {{name: latency, thresholdRange: {{max: 500}}, interval: 30s}}
"""


def write_repo(folder: Path, objects: int) -> None:
    for i in range(objects // OBJECTS_PER_SERVICE):
        ns = f"team-{i // 10:03d}"
        wrong = i % 3 == 0
        text = SERVICE.format(
            name=f"svc-{i:05d}", ns=ns, i=i, replicas=1 if wrong else 3, util=85 if wrong else 65,
            secret_name="API_KEY" if wrong else "FEATURE_FLAGS", secret_value=f"k-{i:08d}-not-a-real-key",
        )
        path = folder / ns / f"svc-{i:05d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_once(folder: Path) -> tuple[float, int, int]:
    """Seconds for collect + evaluate, objects loaded, outcomes produced."""
    checks = [v for v in vars(k8s).values() if isinstance(v, Check)]
    target = Target("bench", "kubernetes", {"manifests": [str(folder)]})
    started = time.perf_counter()
    data = k8s.collect_kubernetes.fn(target)
    snapshot = Snapshot("bench", "kubernetes", data=data)
    outcomes = sum(len(c.evaluate(snapshot, target)) for c in checks)
    return time.perf_counter() - started, len(data["objects"]), outcomes


def measure(objects: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory(prefix="bench-manifests-") as tmp:
        folder = Path(tmp)
        write_repo(folder, objects)
        runs = [run_once(folder) for _ in range(3)]
    best = min(r[0] for r in runs)
    return best, runs[0][1], runs[0][2]


def main() -> int:
    measure(50)  # warm imports and caches so the small run is not charged for them
    small_t, small_n, small_out = measure(500)
    large_t, large_n, large_out = measure(5000)
    assert small_n == 500 and large_n == 5000, (small_n, large_n)
    ratio = large_t / small_t
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    print(f"manifests   500 objects: {small_t * 1000:8.1f} ms ({small_out} outcomes, "
          f"{small_t / small_n * 1e6:.0f} us/object)")
    print(f"manifests 5,000 objects: {large_t * 1000:8.1f} ms ({large_out} outcomes, "
          f"{large_t / large_n * 1e6:.0f} us/object)")
    print(f"ratio {ratio:.2f} (target <= {TARGET_RATIO:g}: 10x the objects in at most 5x the time) {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
