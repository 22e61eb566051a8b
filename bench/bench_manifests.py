"""Manifest-mode benchmark (issue 4): 5,000 objects in at most 5x the time of 500.

Run: ``python bench/bench_manifests.py``. Writes a generated repository of services (each a
Deployment, Service, HPA, PDB and Flagger Canary in one multi-document file, ten services per
namespace, a third of them deliberately wrong) at both sizes and measures two things:

1. **The target** — what a user waits for: ``scaleready check`` over the repository, end to end
   (interpreter start, plugin discovery, config, load and parse, every ``kubernetes.*`` check,
   scoring, storing the run in a throw-away SQLite store, the JSON report), best of three runs
   of the same command per size. Ratio 5,000 / 500 must be at most 5.
2. **The guard** — that nothing in the manifest path grows faster than the input: the in-process
   stages (load + parse, evaluate) per object at 5,000 must stay within 1.5x of their cost at
   500. Checks that look at each object are linear by nature; this catches a quadratic pass
   (a cross-object lookup done per object, a collector rescanning its heap), which would show
   as about 10x here, that the first figure could hide behind the fixed cost of a run. The
   slack above 1x is the memory hierarchy: ten times the objects no longer fit the CPU caches,
   and every check, the trivial ones too, costs 20-30 % more per object at 5,000 (measured
   with the garbage collector on and off alike).

Exits 1 when either misses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import checks.kubernetes as k8s
from checks.kubernetes.collector import collect_kubernetes
from scaleready.api import Check, Snapshot, Target

OBJECTS_PER_SERVICE = 5
TARGET_RATIO = 5.0
LINEARITY_LIMIT = 1.5
COMMAND = [sys.executable, "-c", "from scaleready.cli import main; main()"]

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


def stages_once(folder: Path) -> tuple[float, float, int, int]:
    """(load seconds, evaluate seconds, objects loaded, outcomes) in this process."""
    checks = [v for v in vars(k8s).values() if isinstance(v, Check)]
    target = Target("bench", "kubernetes", {"manifests": [str(folder)]})
    started = time.perf_counter()
    data = collect_kubernetes.fn(target)
    loaded = time.perf_counter()
    snapshot = Snapshot("bench", "kubernetes", data=data)
    outcomes = sum(len(c.evaluate(snapshot, target)) for c in checks)
    return loaded - started, time.perf_counter() - loaded, len(data["objects"]), outcomes


def command_once(folder: Path) -> tuple[float, int]:
    """Wall seconds of ``scaleready check`` over ``folder`` and the number of findings it reported."""
    config = folder / "scaleready.yaml"
    config.write_text("targets:\n  - name: repo\n    kind: kubernetes\n    manifests: [services]\n")
    report = folder / "report.json"
    env = {**os.environ, "SCALEREADY_DATABASE_URL": f"sqlite:///{folder / 'store.db'}"}
    started = time.perf_counter()
    done = subprocess.run([*COMMAND, "check", "-c", str(config), "-f", "json", "-o", str(report)],
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: danger findings failed, as a third of the services are built to
        raise SystemExit(f"scaleready check exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, len(json.loads(report.read_text())["findings"])


def measure(objects: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-manifests-") as tmp:
        folder = Path(tmp)
        write_repo(folder / "services", objects)
        stages = [stages_once(folder / "services") for _ in range(3)]
        commands = [command_once(folder) for _ in range(3)]
    load_s = min(s[0] for s in stages)
    eval_s = min(s[1] for s in stages)
    assert stages[0][2] == objects, (stages[0][2], objects)
    return {"objects": objects, "command_s": min(c[0] for c in commands), "findings": commands[0][1],
            "load_us": load_s / objects * 1e6, "eval_us": eval_s / objects * 1e6, "outcomes": stages[0][3]}


def main() -> int:
    measure(50)  # warm the page cache and imports so the small run is not charged for them
    small, large = measure(500), measure(5000)
    ratio = large["command_s"] / small["command_s"]
    for m in (small, large):
        print(f"{m['objects']:>5,} objects: scaleready check {m['command_s']:6.2f} s ({m['findings']:,} findings); "
              f"in-process load {m['load_us']:5.0f} us/object, evaluate {m['eval_us']:5.0f} us/object")
    growth = max(large["load_us"] / small["load_us"], large["eval_us"] / small["eval_us"])
    ok_ratio, ok_growth = ratio <= TARGET_RATIO, growth <= LINEARITY_LIMIT
    print(f"command ratio {ratio:.2f} (target <= {TARGET_RATIO:g}: 10x the objects in at most 5x the time) "
          f"{'OK' if ok_ratio else 'MISSED'}")
    print(f"per-object growth {growth:.2f} (limit {LINEARITY_LIMIT:g}: no stage grows faster than the input) "
          f"{'OK' if ok_growth else 'MISSED'}")
    return 0 if ok_ratio and ok_growth else 1


if __name__ == "__main__":
    sys.exit(main())
