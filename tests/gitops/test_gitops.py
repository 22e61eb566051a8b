"""gitops checks over real workflow and dependency-config files written into temporary repositories."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import checks.gitops
from scaleready.api import Finding, Status, Target
from scaleready.engine import collect_one, evaluate
from scaleready.plugins import Registry

pytestmark = pytest.mark.timeout(60)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "repo"


def registry() -> Registry:
    reg = Registry()
    reg.add_module(checks.gitops, "gitops", "test")
    return reg


def run(path: Path | str, **options: object) -> list[Finding]:
    target = Target("repo", "gitops", {"path": str(path), **options})
    reg = registry()
    return evaluate(collect_one(target, reg), target, reg)


def of(findings: list[Finding], check_id: str) -> list[Finding]:
    return [f for f in findings if f.check == check_id]


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


GUIDE_51 = """
jobs:
  deploy:
    steps:
      - uses: actions/checkout@v3
      - name: Kubernetes deploy
        run: |
          kubectl apply -f k8s/base
          kubectl rollout status deployment/product-service
        env:
          KUBECONFIG: ${{ secrets.KUBE_CONFIG }}
"""


def test_demo_repository_passes_both_checks():
    findings = run(DEMO)
    assert [f.status for f in findings] == [Status.PASS, Status.PASS]
    (deploy,) = of(findings, "gitops.deploy_workflow")
    assert deploy.location == ".github/workflows/deploy.yaml:22"
    assert deploy.items == ["deploy.gitops"] and deploy.section == "5.1"
    (deps,) = of(findings, "gitops.dependency_scanning")
    assert deps.items == ["security.audit.dependency_scanning"]


def test_the_guides_workflow_passes_with_exact_lines(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yaml", GUIDE_51)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.PASS
    assert finding.location == ".github/workflows/deploy.yaml:8"
    assert "applies manifests (.github/workflows/deploy.yaml:7)" in finding.message
    assert finding.subject == ".github/workflows/deploy.yaml/deploy"


def test_apply_without_rollout_status_fails_naming_file_and_line(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yml", """
        on: push
        jobs:
          deploy:
            runs-on: ubuntu-latest
            steps:
              - run: echo building
              - run: |
                  echo "deploying"

                  kustomize build k8s/overlays/prod | kubectl apply -f -
                  kubectl get pods
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL
    assert finding.location == ".github/workflows/deploy.yml:10"
    assert "never waits for the rollout" in finding.message


def test_commands_inside_repository_scripts_are_followed(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yml", """
        jobs:
          deploy:
            steps:
              - run: |
                  echo start
                  bash -e scripts/deploy.sh production
    """)
    write(tmp_path, "scripts/deploy.sh", """
        #!/usr/bin/env bash
        set -euo pipefail
        kubectl apply \\
          -k "k8s/overlays/$1"
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL
    assert finding.location == "scripts/deploy.sh:3"
    with (tmp_path / "scripts" / "deploy.sh").open("a") as script:
        script.write("kubectl rollout status deployment/web -n production\n")
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.PASS and finding.location == "scripts/deploy.sh:5"


def test_scripts_outside_the_repository_are_never_read(tmp_path: Path):
    repo = tmp_path / "repo"
    write(tmp_path, "outside.sh", "kubectl apply -f x\nkubectl rollout status deployment/x\n")
    write(repo, ".github/workflows/deploy.yml", """
        jobs:
          deploy:
            steps:
              - run: ../outside.sh
    """)
    (finding,) = of(run(repo), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL and "applies Kubernetes manifests" in finding.message


def test_rollout_status_before_apply_does_not_count(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yml", """
        jobs:
          deploy:
            steps:
              - run: kubectl rollout status deployment/web
              - run: kubectl apply -f k8s/
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL and finding.location == ".github/workflows/deploy.yml:5"


def test_wait_in_a_later_job_that_needs_the_deploy_counts(tmp_path: Path):
    write(tmp_path, ".github/workflows/cd.yaml", """
        jobs:
          deploy:
            steps:
              - run: >-
                  kubectl apply
                  -k k8s/prod
          verify:
            needs: [deploy]
            steps:
              - run: |
                  kubectl -n prod rollout status \\
                    deployment/web --timeout=300s
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.PASS
    assert finding.location == ".github/workflows/cd.yaml:11"
    assert finding.evidence["wait"] == "kubectl -n prod rollout status deployment/web --timeout=300s"


@pytest.mark.parametrize(("command", "status"), [
    ("helm upgrade --install web charts/web --wait", Status.PASS),
    ("helm upgrade --install web charts/web --atomic --timeout 5m", Status.PASS),
    ("helm upgrade --install web charts/web", Status.FAIL),
    ("kubectl set image deployment/web web=registry/web:${GITHUB_SHA}", Status.FAIL),
    ("kapp deploy -a web -f k8s/ -y", Status.PASS),
])
def test_other_deploy_tools(tmp_path: Path, command: str, status: Status):
    write(tmp_path, ".github/workflows/deploy.yml", f"""
        jobs:
          deploy:
            steps:
              - run: {command}
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is status


def test_azure_deploy_action_waits_by_itself(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yml", """
        jobs:
          deploy:
            steps:
              - uses: Azure/k8s-deploy@v5
                with:
                  manifests: k8s/
    """)
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.PASS


def test_gitlab_ci_scripts_are_read_with_lines(tmp_path: Path):
    write(tmp_path, ".gitlab-ci.yml", """
        stages: [test, deploy]
        variables:
          KUBE_NAMESPACE: prod
        unit:
          stage: test
          script:
            - go test ./...
        deploy-prod:
          stage: deploy
          script:
            - kubectl apply -f k8s/base
            - kubectl rollout status deployment/product-service
        deploy-staging:
          stage: deploy
          script:
            - kubectl apply -f k8s/staging
    """)
    findings = of(run(tmp_path), "gitops.deploy_workflow")
    by_subject = {f.subject: f for f in findings}
    assert by_subject[".gitlab-ci.yml/deploy-prod"].status is Status.PASS
    assert by_subject[".gitlab-ci.yml/deploy-prod"].location == ".gitlab-ci.yml:12"
    assert by_subject[".gitlab-ci.yml/deploy-staging"].status is Status.FAIL
    assert by_subject[".gitlab-ci.yml/deploy-staging"].location == ".gitlab-ci.yml:16"


def test_broken_workflow_is_an_error_with_its_line_and_the_rest_still_runs(tmp_path: Path):
    write(tmp_path, ".github/workflows/deploy.yaml", GUIDE_51)
    write(tmp_path, ".github/workflows/broken.yml", """
        jobs:
          build:
            steps:
              - run: make
               name: misindented
    """)
    findings = of(run(tmp_path), "gitops.deploy_workflow")
    statuses = {f.subject: f.status for f in findings}
    assert statuses[".github/workflows/deploy.yaml/deploy"] is Status.PASS
    (broken,) = [f for f in findings if f.status is Status.ERROR]
    assert broken.location == ".github/workflows/broken.yml:5"
    assert "invalid YAML" in broken.message


def test_no_workflows_or_no_deploy_fails(tmp_path: Path):
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL and "no CI workflow files" in finding.message
    write(tmp_path, ".github/workflows/ci.yml", "jobs:\n  test:\n    steps:\n      - run: pytest\n")
    (finding,) = of(run(tmp_path), "gitops.deploy_workflow")
    assert finding.status is Status.FAIL and "applies Kubernetes manifests" in finding.message


def test_custom_workflow_globs(tmp_path: Path):
    write(tmp_path, "ci/pipelines/deploy.yml", GUIDE_51)
    assert of(run(tmp_path), "gitops.deploy_workflow")[0].status is Status.FAIL
    (finding,) = of(run(tmp_path, workflows=["ci/**/*.yml"]), "gitops.deploy_workflow")
    assert finding.status is Status.PASS and finding.location == "ci/pipelines/deploy.yml:8"


def test_missing_repository_is_a_readable_error(tmp_path: Path):
    findings = run(tmp_path / "nope")
    assert findings and all(f.status is Status.ERROR for f in findings)
    assert all("does not exist" in f.message for f in findings)


DEPENDABOT = """
version: 2
updates:
  - package-ecosystem: pip
    directory: /
    schedule:
      interval: {interval}
"""


@pytest.mark.parametrize(("interval", "status"), [
    ("weekly", Status.PASS), ("monthly", Status.PASS), ("quarterly", Status.WARN),
])
def test_dependabot_interval(tmp_path: Path, interval: str, status: Status):
    write(tmp_path, ".github/dependabot.yml", DEPENDABOT.format(interval=interval))
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is status
    if status is Status.WARN:
        assert finding.location == ".github/dependabot.yml:3"


def test_dependabot_mistakes_fail_with_lines(tmp_path: Path):
    write(tmp_path, ".github/dependabot.yml", "version: 1\nupdates: []\n")
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.FAIL and "version: 2" in finding.message
    write(tmp_path, ".github/dependabot.yml", "version: 2\nupdates:\n  - package-ecosystem: npm\n    directory: /\n")
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.FAIL and finding.location == ".github/dependabot.yml:3"
    write(tmp_path, ".github/dependabot.yml", "version: 2\nupdates:\n  - package-ecosystem: [npm\n")
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.FAIL and "invalid YAML" in finding.message
    assert finding.location.startswith(".github/dependabot.yml:")


def test_renovate_configs(tmp_path: Path):
    (tmp_path / "renovate.json").write_text(json.dumps({"extends": ["config:recommended"]}))
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.PASS and finding.evidence["extends"] == ["config:recommended"]
    (tmp_path / "renovate.json").write_text('{\n  "extends": [\n    "config:base",\n  ]\n}\n')
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.FAIL and finding.location == "renovate.json:4"
    (tmp_path / "renovate.json").unlink()
    (tmp_path / "package.json").write_text(json.dumps({"name": "web", "renovate": {"extends": ["config:base"]}}))
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.PASS and finding.subject == "package.json"


def test_scanner_in_ci_without_update_bot_warns_and_nothing_fails(tmp_path: Path):
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.FAIL
    write(tmp_path, ".github/workflows/audit.yml", """
        on:
          schedule: [{cron: "0 3 1 * *"}]
        jobs:
          audit:
            steps:
              - run: govulncheck ./...
    """)
    (finding,) = of(run(tmp_path), "gitops.dependency_scanning")
    assert finding.status is Status.WARN and finding.location == ".github/workflows/audit.yml:6"
