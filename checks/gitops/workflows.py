"""Built-in gitops checks: deploys go through CI and wait for the rollout (5.1); dependencies are scanned (7.2).

Registered through the ``scaleready.checks`` entry point; pure over the snapshot taken by
``checks.gitops.collector``. The guide's workflow applies manifests and then runs
``kubectl rollout status``: without that wait a broken release "succeeds" in CI while the
pods crash-loop. Equivalent tools count (``helm --wait``, ``kubectl wait``, ``argocd app
wait``, and deployers that wait by themselves such as ``azure/k8s-deploy``, kapp, skaffold).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from checks.gitops.collector import collect
from scaleready.api import (
    Outcome,
    Severity,
    Snapshot,
    Target,
    check,
    errored,
    failed,
    passed,
    warned,
)

__all__ = ["collect"]

KIND = "gitops"
_SEG = r"[^|;&]*"  # stay within one command of a pipeline or list

APPLY = [re.compile(p) for p in (
    rf"\bkubectl\b{_SEG}\b(apply|replace)\b",
    rf"\bkubectl\b{_SEG}\bcreate\b{_SEG}\s-[fk]\b",
    rf"\bkubectl\b{_SEG}\bset\s+image\b",
    rf"\bhelm(file)?\b{_SEG}\b(upgrade|install|apply|sync)\b",
    rf"\bargocd\b{_SEG}\bapp\s+sync\b",
    rf"\bflux\b{_SEG}\breconcile\b",
    rf"\bkapp\b{_SEG}\bdeploy\b",
    rf"\bskaffold\b{_SEG}\b(run|deploy)\b",
)]
WAIT = [re.compile(p) for p in (
    rf"\bkubectl\b{_SEG}\brollout\s+status\b",
    rf"\bkubectl\b{_SEG}\bwait\b",
    rf"\bhelm(file)?\b{_SEG}\s--(wait|atomic)\b",
    rf"\bargocd\b{_SEG}\bapp\s+wait\b",
    rf"\bkapp\b{_SEG}\bdeploy\b",  # waits for resources by default
    rf"\bskaffold\b{_SEG}\b(run|deploy)\b",  # status-check is on by default
)]
WAITING_ACTIONS = ("azure/k8s-deploy",)  # deploy actions that verify the rollout themselves
SCANNERS = re.compile(
    r"\b(npm audit|yarn audit|pnpm audit|pip-audit|safety check|govulncheck|osv-scanner|trivy|grype|snyk"
    r"|dependency-check|bundle(r)?[- ]audit|cargo audit|dependency-review-action)\b", re.IGNORECASE,
)
OK_INTERVALS = {"daily", "weekly", "monthly", "cron"}


def _steps(job: dict[str, Any], path: str, scripts: dict[str, Any]) -> Iterator[tuple[str, int, str, str | None]]:
    """(file, line, command text, action) for every command or action of a job, in execution order.

    A command that runs a repository script (``./deploy.sh``) is followed by the script's own
    commands, located in the script file.
    """
    for step in job.get("steps") or []:
        uses = str(step.get("uses") or "")
        if uses:
            args = step.get("with") or {}
            extra = " ".join(str(args.get(k, "")) for k in ("command", "args") if isinstance(args, dict))
            text = f"kubectl {extra}" if "kubectl" in uses.lower() and extra.strip() else f"uses: {uses}"
            yield path, step["line"], text, uses.lower()
        for cmd in step.get("run") or []:
            yield path, cmd["line"], cmd["text"], None
            script = cmd.get("script")
            for inner in scripts.get(script) or [] if script else []:
                yield script, inner["line"], inner["text"], None


def _classify(text: str, action: str | None) -> tuple[bool, bool]:
    if action and any(action.startswith(a) for a in WAITING_ACTIONS):
        return True, True
    return any(p.search(text) for p in APPLY), any(p.search(text) for p in WAIT)


def _needs(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs")
    if isinstance(needs, str):
        return {needs}
    if isinstance(needs, list):
        return {n if isinstance(n, str) else str((n or {}).get("job", "")) for n in needs}
    return set()


Mark = tuple[int, str, int, str]  # (order, file, line, command)


def _file_outcomes(entry: dict[str, Any], scripts: dict[str, Any]) -> list[Outcome]:
    path = entry["path"]
    jobs = entry.get("jobs") or []
    found: dict[str, dict[str, list[Mark]]] = {}
    for job in jobs:
        marks: dict[str, list[Mark]] = {"apply": [], "wait": []}
        for order, (where, line, text, action) in enumerate(_steps(job, path, scripts)):
            applies, waits = _classify(text, action)
            if applies:
                marks["apply"].append((order, where, line, text))
            if waits:
                marks["wait"].append((order, where, line, text))
        found[job["name"]] = marks
    outcomes: list[Outcome] = []
    for job in jobs:
        applies = found[job["name"]]["apply"]
        if not applies:
            continue
        first_order, first_file, first_line, first_text = applies[0]
        own = [w for w in found[job["name"]]["wait"] if w[0] >= first_order]
        later = [w for other in jobs if job["name"] in _needs(other) for w in found[other["name"]]["wait"]]
        waits = own or later
        subject = f"{path}/{job['name']}"
        if waits:
            _, wait_file, line, text = waits[0]
            outcomes.append(passed(
                f"{path}: job {job['name']} applies manifests ({first_file}:{first_line}) and waits for the "
                f"rollout ({wait_file}:{line}: {text[:80]})",
                subject=subject, location=f"{wait_file}:{line}", apply=first_text, wait=text, ci=entry.get("ci")))
        else:
            outcomes.append(failed(
                f"{first_file}:{first_line}: job {job['name']} applies manifests but never waits for the rollout "
                f"(no `kubectl rollout status` after `{first_text[:80]}`)",
                subject=subject, location=f"{first_file}:{first_line}", apply=first_text,
                recommended="kubectl rollout status deployment/<name> after kubectl apply"))
    return outcomes


@check("gitops.deploy_workflow", kind=KIND, title="CI applies manifests and waits for the rollout",
       severity=Severity.WARNING, items=["deploy.gitops"], section="5.1",
       remediation="Deploy from CI as guide 5.1 shows: `kubectl apply -f k8s/base` then "
                   "`kubectl rollout status deployment/<name>` (or `helm upgrade --install --wait`).")
def deploy_workflow(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Workflows that apply manifests also wait for ``rollout status``; one outcome per deploying job."""
    section = snapshot.section("workflows")
    files = section.get("files") or []
    scripts = section.get("scripts") or {}
    if not files:
        patterns = ", ".join(snapshot.data.get("repository", {}).get("workflow_patterns") or [])
        yield failed(f"no CI workflow files found (looked for {patterns})")
        return
    deploying = 0
    for entry in files:
        error = entry.get("parse_error")
        if error:
            yield errored(f"{entry['path']}:{error['line']}: {error['message']}", subject=entry["path"],
                          location=f"{entry['path']}:{error['line']}")
            continue
        outcomes = _file_outcomes(entry, scripts)
        deploying += bool(outcomes)
        yield from outcomes
    if not deploying:
        checked = [f["path"] for f in files if not f.get("parse_error")]
        if checked:
            yield failed(f"none of {len(checked)} workflow file(s) applies Kubernetes manifests",
                         files=checked, recommended="a deploy workflow: kubectl apply + kubectl rollout status")


def _dependabot(entry: dict[str, Any]) -> Iterator[Outcome]:
    path = entry["path"]
    error = entry.get("parse_error")
    if error:
        yield failed(f"{path}:{error['line']}: {error['message']}", subject=path,
                     location=f"{path}:{error['line']}")
        return
    if str(entry.get("version")) != "2":
        yield failed(f"{path}: 'version: 2' is required (found {entry.get('version')!r})", subject=path,
                     location=f"{path}:1")
        return
    updates = entry.get("updates") or []
    if not updates:
        yield failed(f"{path}: no 'updates' entries, so Dependabot checks nothing", subject=path,
                     location=f"{path}:1")
        return
    good = []
    for update in updates:
        where = f"{path}:{update['line']}"
        subject = f"{path}/{update.get('ecosystem')}:{update.get('directory')}"
        interval = str(update.get("interval") or "")
        if not update.get("ecosystem") or not interval:
            yield failed(f"{where}: an update entry lacks package-ecosystem or schedule.interval",
                         subject=subject, location=where)
        elif interval not in OK_INTERVALS:
            yield warned(f"{where}: {update['ecosystem']} is checked {interval}, less often than monthly "
                         "(guide 7.2)", subject=subject, location=where, observed=interval, recommended="monthly")
        else:
            good.append(f"{update['ecosystem']} ({interval})")
    if good:
        yield passed(f"Dependabot updates {', '.join(good)}", subject=path, location=path, ecosystems=good)


@check("gitops.dependency_scanning", kind=KIND, title="Dependency scanning (Dependabot/Renovate) is configured",
       severity=Severity.WARNING, items=["security.audit.dependency_scanning"], section="7.2",
       remediation="Add .github/dependabot.yml (version: 2, one `updates` entry per package ecosystem, "
                   "schedule.interval monthly or more often) or a renovate.json.")
def dependency_scanning(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Dependabot or Renovate is configured so dependencies are checked at least monthly (guide 7.2)."""
    deps = snapshot.section("dependencies")
    dependabot = deps.get("dependabot") or []
    renovate = deps.get("renovate") or []
    for entry in dependabot:
        yield from _dependabot(entry)
    for entry in renovate:
        path = entry["path"]
        error = entry.get("parse_error")
        if error:
            yield failed(f"{path}:{error['line']}: {error['message']}", subject=path,
                         location=f"{path}:{error['line']}")
        elif entry.get("enabled") is False:
            yield failed(f"{path}: Renovate is disabled (\"enabled\": false)", subject=path, location=path)
        else:
            yield passed(f"Renovate is configured in {path}", subject=path, location=path,
                         extends=entry.get("extends"), schedule=entry.get("schedule"))
    if dependabot or renovate:
        return
    scanners = []
    workflows = snapshot.data.get("workflows") or {}
    for wf in workflows.get("files") or []:
        for job in wf.get("jobs") or []:
            for where, line, text, action in _steps(job, wf["path"], workflows.get("scripts") or {}):
                match = SCANNERS.search(action or text)
                if match:
                    scanners.append({"location": f"{where}:{line}", "tool": match.group(1)})
    if scanners:
        first = scanners[0]
        yield warned(f"no Dependabot or Renovate config; CI runs {first['tool']} ({first['location']}) but "
                     "nothing proposes the updates", location=first["location"], scanners=scanners[:10])
        return
    yield failed("no Dependabot (.github/dependabot.yml) or Renovate (renovate.json) configuration found",
                 recommended="monthly dependency scanning (guide 7.2)")
