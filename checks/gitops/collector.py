"""Reads a repository's CI workflows and dependency-update config into a snapshot (guide 5.1 and 7.2).

The checks need to say *which line* applies manifests without waiting for the rollout, so
workflow YAML is composed into nodes (keeping PyYAML's marks) and every shell command is
recorded with its file and 1-based line: GitHub Actions ``run:`` blocks and ``uses:``
actions, GitLab CI ``script`` lists. Dependabot and Renovate configs are read the same
way. Only files are read; nothing is executed. A broken file is recorded with its line so
the rest of the repository is still evaluated.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from scaleready.api import CollectError, ConfigPath, Target, TargetOptions, collector

DEFAULT_WORKFLOWS = (
    ".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", ".gitlab-ci.yaml",
    ".gitlab/ci/**/*.yml", ".gitlab/ci/**/*.yaml",
)
DEPENDABOT = (".github/dependabot.yml", ".github/dependabot.yaml")
RENOVATE = ("renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json", ".renovaterc.json5",
            ".github/renovate.json", ".github/renovate.json5", ".gitlab/renovate.json", ".gitlab/renovate.json5")
GITLAB_RESERVED = {"stages", "variables", "include", "default", "workflow", "image", "services", "cache",
                   "before_script", "after_script", "types", "pages:deploy"}
GITLAB_SCRIPTS = ("before_script", "script", "after_script")
MAX_FILES = 200
MAX_BYTES = 2_000_000


class GitOpsOptions(TargetOptions):
    """Keys of a ``gitops`` target: a repository checkout and, optionally, where its workflows live."""

    path: ConfigPath
    workflows: list[str] = Field(default_factory=lambda: list(DEFAULT_WORKFLOWS))


def _map(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _plain(node: yaml.Node | None) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return {str(getattr(k, "value", "")): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def commands(node: yaml.Node | None) -> list[dict[str, Any]]:
    """Shell lines of a ``run:``/``script:`` value with their 1-based file lines.

    A literal block (``|``) keeps one command per line; other styles are one command at
    the line where their text starts. Backslash continuations are joined onto the first line.
    """
    if isinstance(node, yaml.SequenceNode):
        return [c for item in node.value for c in commands(item)]
    if not isinstance(node, yaml.ScalarNode):
        return []
    if node.style == "|":
        first = _line(node) + 1  # a literal block's text starts on the line after `run: |`
        return [{"line": first + c["line"] - 1, "text": c["text"]} for c in script_lines(node.value)]
    text = " ".join(node.value.split())
    start = _line(node) + (1 if node.style == ">" else 0)
    return [{"line": start, "text": text}] if text else []


def _github_jobs(root: yaml.Node) -> tuple[list[dict[str, Any]], Any]:
    top = _map(root)
    jobs = []
    for name_node, job in (top["jobs"].value if isinstance(top.get("jobs"), yaml.MappingNode) else []):
        jmap = _map(job)
        steps = []
        step_nodes = jmap.get("steps")
        for step in step_nodes.value if isinstance(step_nodes, yaml.SequenceNode) else []:
            smap = _map(step)
            steps.append({
                "name": _plain(smap.get("name")),
                "line": _line(step),
                "uses": _plain(smap.get("uses")),
                "with": _plain(smap.get("with")) if isinstance(smap.get("with"), yaml.MappingNode) else None,
                "run": commands(smap.get("run")),
            })
        jobs.append({"name": str(name_node.value), "line": _line(name_node), "needs": _plain(jmap.get("needs")),
                     "steps": steps})
    trigger = next((v for k, v in top.items() if k in ("on", "true", "True")), None)
    return jobs, _plain(trigger)


def _gitlab_jobs(root: yaml.Node) -> list[dict[str, Any]]:
    jobs = []
    for name_node, job in root.value if isinstance(root, yaml.MappingNode) else []:
        name = str(getattr(name_node, "value", ""))
        jmap = _map(job)
        if name in GITLAB_RESERVED or not any(k in jmap for k in (*GITLAB_SCRIPTS, "trigger", "extends")):
            continue
        steps = [{"name": key, "line": _line(jmap[key]), "uses": None, "with": None, "run": commands(jmap[key])}
                 for key in GITLAB_SCRIPTS if key in jmap]
        jobs.append({"name": name, "line": _line(name_node), "needs": _plain(jmap.get("needs")),
                     "steps": steps, "stage": _plain(jmap.get("stage"))})
    return jobs


def _yaml_error(exc: yaml.YAMLError) -> dict[str, Any]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return {"line": mark.line + 1 if mark is not None else 1, "message": f"invalid YAML: {problem}"}


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_BYTES:
        raise OSError(f"larger than {MAX_BYTES // 1_000_000} MB")
    return path.read_text(encoding="utf-8")


def read_workflow(root: Path, rel: str) -> dict[str, Any]:
    """One workflow file: its CI system, jobs, steps and commands with lines, or its parse error."""
    entry: dict[str, Any] = {"path": rel, "ci": None, "jobs": [], "on": None, "parse_error": None}
    try:
        docs = [d for d in yaml.compose_all(_read(root / rel), Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        entry["parse_error"] = _yaml_error(exc)
        return entry
    except (OSError, UnicodeDecodeError) as exc:
        entry["parse_error"] = {"line": 1, "message": f"cannot read: {exc}"}
        return entry
    for doc in docs:
        # GitHub Actions nests jobs under `jobs:`; GitLab CI puts them at the top level.
        ci = "github" if isinstance(_map(doc).get("jobs"), yaml.MappingNode) else "gitlab"
        entry["ci"] = entry["ci"] or ci
        if ci == "github":
            jobs, trigger = _github_jobs(doc)
            entry["jobs"].extend(jobs)
            entry["on"] = entry["on"] or trigger
        else:
            entry["jobs"].extend(_gitlab_jobs(doc))
    return entry


def read_dependabot(root: Path, rel: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": rel, "parse_error": None, "version": None, "updates": []}
    try:
        node = yaml.compose(_read(root / rel), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        entry["parse_error"] = _yaml_error(exc)
        return entry
    except (OSError, UnicodeDecodeError) as exc:
        entry["parse_error"] = {"line": 1, "message": f"cannot read: {exc}"}
        return entry
    top = _map(node)
    entry["version"] = _plain(top.get("version"))
    updates = top.get("updates")
    for item in updates.value if isinstance(updates, yaml.SequenceNode) else []:
        imap = _map(item)
        schedule = _plain(imap.get("schedule")) if isinstance(imap.get("schedule"), yaml.MappingNode) else {}
        entry["updates"].append({
            "line": _line(item),
            "ecosystem": _plain(imap.get("package-ecosystem")),
            "directory": _plain(imap.get("directory")) or _plain(imap.get("directories")),
            "interval": (schedule or {}).get("interval"),
        })
    return entry


def read_renovate(root: Path, rel: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": rel, "parse_error": None, "parsed": False, "extends": None, "schedule": None}
    try:
        text = _read(root / rel)
    except (OSError, UnicodeDecodeError) as exc:
        entry["parse_error"] = {"line": 1, "message": f"cannot read: {exc}"}
        return entry
    if rel == "package.json":
        doc = json.loads(text).get("renovate")
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if rel.endswith("json5") or rel.endswith(".renovaterc"):
                return {**entry, "json5": True}  # JSON5 allows comments/trailing commas; presence counts
            entry["parse_error"] = {"line": exc.lineno, "message": f"invalid JSON: {exc.msg}"}
            return entry
    if isinstance(doc, dict):
        entry.update(parsed=True, extends=doc.get("extends"), schedule=doc.get("schedule"),
                     enabled=doc.get("enabled", True))
    return entry


def script_lines(text: str) -> list[dict[str, Any]]:
    """Commands of a shell script with their lines; backslash continuations joined."""
    out: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if pending is not None:
            pending["text"] += " " + line.rstrip("\\").strip()
            if not line.endswith("\\"):
                out.append(pending)
                pending = None
            continue
        if not line or line.startswith("#"):
            continue
        entry = {"line": number, "text": line.rstrip("\\").strip()}
        if line.endswith("\\"):
            pending = entry
        else:
            out.append(entry)
    if pending is not None:
        out.append(pending)
    return out


_SHELLS = {"bash", "sh", "zsh", "source", ".", "exec"}


def script_reference(command: str) -> str | None:
    """The repository script a CI command runs (``./deploy.sh``, ``bash scripts/deploy``), if any."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    while words and ("=" in words[0] and not words[0].startswith(("./", "/"))):
        words = words[1:]  # leading VAR=value assignments
    if words and words[0] in _SHELLS:
        words = [w for w in words[1:] if not w.startswith("-")]
    if not words:
        return None
    first = words[0]
    if first.endswith(".sh") or first.startswith("./"):
        return first
    return None


def read_scripts(root: Path, workflows: list[dict[str, Any]]) -> dict[str, Any]:
    """Scripts inside the repository that workflow commands run, read as commands with lines."""
    scripts: dict[str, Any] = {}
    base = root.resolve()
    for wf in workflows:
        for job in wf.get("jobs") or []:
            for step in job.get("steps") or []:
                for cmd in step.get("run") or []:
                    ref = script_reference(cmd["text"])
                    if ref is None:
                        continue
                    path = (base / ref).resolve()
                    if not path.is_relative_to(base) or not path.is_file():
                        continue  # never read outside the checkout
                    rel = str(path.relative_to(base))
                    cmd["script"] = rel
                    if rel not in scripts and len(scripts) < MAX_FILES:
                        try:
                            scripts[rel] = script_lines(_read(path))
                        except (OSError, UnicodeDecodeError):
                            scripts[rel] = []
    return scripts


def _matches(root: Path, patterns: list[str]) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        for hit in sorted(glob.glob(str(root / pattern), recursive=True)):
            rel = os.path.relpath(hit, root)
            if os.path.isfile(hit) and rel not in found:
                found.append(rel)
    return found[:MAX_FILES]


def _has_renovate_in_package_json(root: Path) -> bool:
    try:
        return "renovate" in json.loads(_read(root / "package.json"))
    except (OSError, ValueError, UnicodeDecodeError, TypeError, AttributeError):
        return False


@collector("gitops", options=GitOpsOptions)
def collect(target: Target) -> dict[str, Any]:
    """Workflow files (GitHub Actions, GitLab CI) and Dependabot/Renovate config of a repository checkout."""
    try:
        opts = GitOpsOptions.model_validate(dict(target.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid gitops target option '{where}': {first.get('msg')}") from None
    root = Path(opts.path).expanduser()
    if not root.is_dir():
        raise CollectError(f"repository path {opts.path!r} does not exist or is not a directory")
    workflows = [read_workflow(root, rel) for rel in _matches(root, opts.workflows)]
    dependabot = [read_dependabot(root, rel) for rel in DEPENDABOT if (root / rel).is_file()]
    renovate = [read_renovate(root, rel) for rel in RENOVATE if (root / rel).is_file()]
    if _has_renovate_in_package_json(root):
        renovate.append(read_renovate(root, "package.json"))
    scripts = read_scripts(root, workflows)
    return {
        "repository": {"path": str(root), "workflow_patterns": list(opts.workflows)},
        "workflows": {"files": workflows, "scripts": scripts},
        "dependencies": {"dependabot": dependabot, "renovate": renovate},
    }
