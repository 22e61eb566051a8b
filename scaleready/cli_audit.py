"""CLI commands of the audit trail: verify the log, waivers, milestones and sign-off, the spool.

Kept apart from `scaleready.cli` (which registers them) so the audit commands have one home.
Every command acts on one *project*: ``--project``, else ``SCALEREADY_PROJECT``, else the
``project:`` key of the config file, else ``default``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from scaleready.projects import PROJECT_ENV, resolve_project

__all__ = ["project_option", "register", "resolve_project"]

def project_option(fn: Any) -> Any:
    fn = click.option("--config", "-c", "config_path", default="scaleready.yaml", show_default=True,
                      type=click.Path(dir_okay=False), help="Config file whose project: key names the project.")(fn)
    return click.option("--project", "-p", help=f"Project (default: ${PROJECT_ENV}, the config's project:, "
                                                "or 'default').")(fn)


def _store() -> Any:
    from scaleready.store import Store

    return Store()


def register(main: click.Group, friendly_errors: Any, tool_error: type[click.ClickException]) -> None:
    """Add the audit commands to the ``scaleready`` group."""

    @main.group()
    def audit() -> None:
        """The hash-chained audit log."""

    @audit.command("verify")
    @friendly_errors
    def audit_verify() -> None:
        """Check every event's hash and link; exit 1 naming the first bad event."""
        verdict = _store().verify_audit()
        click.echo(verdict.line(), err=not verdict.ok)
        if not verdict.ok:
            sys.exit(1)

    @audit.command("log")
    @click.option("--limit", default=50, show_default=True)
    @project_option
    @friendly_errors
    def audit_log(limit: int, project: str | None, config_path: str) -> None:
        """The newest events of a project."""
        for e in _store().audit_log(limit, project=resolve_project(project, config_path)):
            click.echo(f"{e.seq:>6} {e.at:%Y-%m-%d %H:%M:%S} {e.actor:<16} {e.action:<18} {e.subject} "
                       f"{e.details_json}  {(e.hash or '')[:12]}")

    @main.command()
    @click.argument("check_id")
    @click.option("--target", "-t", default="*", show_default=True, help="Target name (glob).")
    @click.option("--subject", "-s", default="*", show_default=True, help="Subject (glob).")
    @click.option("--reason", "-r", required=True, help="Why the risk is accepted.")
    @click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Last day the waiver applies (YYYY-MM-DD).")
    @click.option("--by", "actor", required=True, help="Who grants it.")
    @project_option
    @friendly_errors
    def waive(check_id: str, target: str, subject: str, reason: str, expires: datetime | None, actor: str,
              project: str | None, config_path: str) -> None:
        """Waive a check's fail/warn findings (audited); it stops applying after --expires."""
        project = resolve_project(project, config_path)
        if expires is not None and expires.date() < datetime.now(UTC).date():
            raise tool_error(f"--expires {expires:%Y-%m-%d} is in the past")
        wid = _store().add_waiver(check_id, reason, actor, target, subject,
                                  expires.replace(tzinfo=UTC) if expires else None, project=project)
        until = f" until {expires:%Y-%m-%d}" if expires else " (no expiry)"
        click.echo(f"waiver {wid}: {check_id} on {target}/{subject}{until} (project {project}, by {actor})")

    @main.command("waivers")
    @click.option("--all", "include_revoked", is_flag=True, help="Include revoked waivers.")
    @click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @project_option
    @friendly_errors
    def list_waivers(include_revoked: bool, fmt: str, project: str | None, config_path: str) -> None:
        """List the project's waivers with their state (active, expired, revoked)."""
        from scaleready.waivers import waiver_rows

        rows = waiver_rows(_store(), resolve_project(project, config_path), include_revoked)
        if fmt == "json":
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("no waivers")
        for w in rows:
            click.echo(f"{w['id']:>4}  {w['state']:<8} {w['check']:<32} {w['target']}/{w['subject']}  "
                       f"expires {w['expires'] or 'never'}  by {w['by']}: {w['reason']}")

    @main.command()
    @click.argument("waiver_id", type=int)
    @click.option("--by", "actor", required=True, help="Who revokes it.")
    @project_option
    @friendly_errors
    def unwaive(waiver_id: int, actor: str, project: str | None, config_path: str) -> None:
        """Revoke a waiver (audited)."""
        _store().revoke_waiver(waiver_id, actor, project=resolve_project(project, config_path))
        click.echo(f"waiver {waiver_id} revoked by {actor}")

    @main.group()
    def milestone() -> None:
        """Frozen scorecards with sign-off."""

    @milestone.command("create")
    @click.argument("name")
    @click.option("--by", "actor", required=True)
    @click.option("--note", default="")
    @click.option("--run", "run_ref", default="latest", show_default=True, help="Run id, prefix or 'latest'.")
    @project_option
    @friendly_errors
    def milestone_create(name: str, actor: str, note: str, run_ref: str, project: str | None,
                         config_path: str) -> None:
        """Freeze the project's latest run (scores, findings, ticks, waivers, snapshot hashes)."""
        from scaleready import milestones

        m = milestones.create(_store(), name, actor, note, project=resolve_project(project, config_path),
                              run_ref=run_ref)
        click.echo(f"milestone {m.name}: run {m.run_id}, score {m.document['score']['overall']}, sha256 {m.sha256}")

    @milestone.command("list")
    @project_option
    @friendly_errors
    def milestone_list(project: str | None, config_path: str) -> None:
        """The project's milestones, oldest first."""
        from scaleready import milestones

        found = milestones.list_all(_store(), project=resolve_project(project, config_path))
        if not found:
            click.echo("no milestones")
        for m in found:
            s = m.summary()
            signed = ", ".join(x["by"] for x in m.signatures) or "not signed"
            click.echo(f"{m.name:<20} {m.created_at:%Y-%m-%d %H:%M}  score {s['overall']:5.1f}  "
                       f"level {s['level']}  by {m.actor}  signed: {signed}")

    @milestone.command("show")
    @click.argument("name")
    @project_option
    @friendly_errors
    def milestone_show(name: str, project: str | None, config_path: str) -> None:
        """A milestone's summary and sign-offs as JSON."""
        from scaleready import milestones

        m = milestones.get(_store(), name, project=resolve_project(project, config_path))
        click.echo(json.dumps(m.summary(), indent=2))

    @milestone.command("diff")
    @click.argument("a")
    @click.argument("b")
    @project_option
    @friendly_errors
    def milestone_diff(a: str, b: str, project: str | None, config_path: str) -> None:
        """What changed between two milestones (JSON)."""
        from scaleready import milestones

        store, project = _store(), resolve_project(project, config_path)
        click.echo(json.dumps(milestones.diff(milestones.get(store, a, project=project),
                                              milestones.get(store, b, project=project)), indent=2))

    @milestone.command("sign")
    @click.argument("name")
    @click.option("--by", "actor", required=True)
    @click.option("--note", default="")
    @project_option
    @friendly_errors
    def milestone_sign(name: str, actor: str, note: str, project: str | None, config_path: str) -> None:
        """Sign off a milestone (an audit event)."""
        from scaleready import milestones

        m = milestones.sign(_store(), name, actor, note, project=resolve_project(project, config_path))
        click.echo(f"milestone {name} signed by {actor} (event {m.signatures[-1]['event_hash'][:12]})")

    @main.group("store")
    def store_group() -> None:
        """The store and its local spool."""

    @store_group.command("flush")
    @friendly_errors
    def store_flush() -> None:
        """Upload runs kept in the local spool while the store was unavailable."""
        from scaleready.spool import flush, spool_dir

        result = flush(_store())
        click.echo(f"uploaded {len(result.uploaded)} spooled run(s)"
                   + (f", {len(result.already_stored)} already stored" if result.already_stored else ""))
        for path, why in result.failed:
            click.echo(f"error: {path}: {why}", err=True)
        if result.failed:
            click.echo(f"{len(result.failed)} run(s) stay in {spool_dir()}", err=True)
            sys.exit(1)
