"""The demo run behind the dashboard's first start: real checks over the bundled sample app.

It needs no external service: the Kubernetes manifests and the repository under
``data/demo/`` are checked as they are, so a new user sees real findings, right and wrong,
before pointing scaleready at their own systems.
"""

from __future__ import annotations

from scaleready.config import Config, parse_config
from scaleready.paths import data_dir
from scaleready.plugins import default_registry
from scaleready.results import RunResult
from scaleready.runner import execute
from scaleready.store import Store


def demo_config() -> Config:
    """The demo targets that are installed and whose sample data is present."""
    demo = data_dir() / "demo"
    registry = default_registry()
    blocks = []
    if "kubernetes" in registry.collectors and (demo / "k8s").is_dir():
        blocks.append(f"  - name: sample-app-manifests\n    kind: kubernetes\n    manifests: ['{demo / 'k8s'}']\n")
    if "gitops" in registry.collectors and (demo / "repo").is_dir():
        blocks.append(f"  - name: sample-app-repo\n    kind: gitops\n    path: '{demo / 'repo'}'\n")
    text = "targets:\n" + "".join(blocks) if blocks else "targets: []\n"
    return parse_config(text, demo / "scaleready.yaml", registry)


def run_demo(store: Store) -> RunResult:
    run, _ = execute(demo_config(), store=store, environment=None)
    store.audit("dashboard", "demo.run", run.id, {"targets": len(run.snapshots)})
    return run
