"""The ``scaleready`` command line: run checks in CI, export reports, start the dashboard.

Exit codes are a contract for CI: 0 ok, 1 tool or config error, 3 a ``danger`` finding
failed (and is not waived), 4 the score is below ``--fail-under``, 5 a target could not be
collected (``--allow-collection-errors`` relaxes it): a gate must not pass on a system it
could not reach. A tool error is one line
on stderr, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from scaleready import __version__
from scaleready.cli_audit import project_option, resolve_project

EXIT_OK, EXIT_TOOL_ERROR, EXIT_DANGER, EXIT_BELOW_SCORE, EXIT_NOT_COLLECTED = 0, 1, 3, 4, 5
RUN_FORMATS = ["table", "json", "sarif", "junit", "markdown", "html", "pdf"]


class ToolError(click.ClickException):
    exit_code = EXIT_TOOL_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the tool's own exceptions into one readable line and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from scaleready.config import ConfigError
        from scaleready.framework import FrameworkError
        from scaleready.store import StoreError

        try:
            return fn(*args, **kwargs)
        except (ConfigError, FrameworkError, StoreError, ValueError, OSError) as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            raise ToolError(str(exc)) from None

    return wrapper


def _emit(text: str | bytes, output: str | None) -> None:
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        click.echo(f"wrote {path}", err=True)
    elif isinstance(text, bytes):
        raise ToolError("binary formats (pdf) need --output FILE")
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _render(run: Any, fmt: str, output: str | None, config_path: str | None = None) -> str | bytes:
    """Render with the options each format wants: colour only on a terminal; SARIF results
    anchored to the config file, so code scanning accepts findings that have no file of their own."""
    from scaleready import reports

    options: dict[str, Any] = {}
    if fmt == "table":
        options["color"] = output is None and sys.stdout.isatty()
    if fmt == "sarif" and (config_path or run.config_path):
        options["artifact"] = run.config_path or config_path
    return reports.render(run, fmt, **options)


def _is_store_failure(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from scaleready.store import StoreError

    return isinstance(exc, SQLAlchemyError | StoreError)


class _Cli(click.Group):
    """The command group; run as the ``scaleready`` program it ends through `exit_process`.

    Click ends a standalone run with ``sys.exit``; a collector thread abandoned by a timeout
    could then crash the interpreter's shutdown (SIGABRT) and replace the documented exit
    code. Only the real program (``args`` taken from ``sys.argv``) exits that way: a test's
    ``CliRunner`` passes its arguments and keeps the ordinary behaviour.
    """

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        if args is not None or kwargs.get("standalone_mode") is False:
            return super().main(args, *rest, **kwargs)
        from scaleready.engine import exit_process

        try:
            super().main(args, *rest, **kwargs)
            code: Any = EXIT_OK
        except SystemExit as exc:
            code = exc.code
        if code is None:
            code = EXIT_OK
        if not isinstance(code, int):
            click.echo(code, err=True)
            code = EXIT_TOOL_ERROR
        exit_process(code)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scaleready")
@click.option("--debug", is_flag=True, help="Show tracebacks for tool errors.")
def main(debug: bool) -> None:
    """scaleready: live evidence that a web product is ready to scale."""


@main.command()
# A plain string, not click.Path(dir_okay=False): a directory is a config error (exit 1), not usage (2).
@click.option("--config", "-c", "config_path", default="scaleready.yaml", show_default=True, help="Config file.")
@click.option("--environment", "-e", help="Only targets of this environment.")
@click.option("--format", "-f", "fmt", type=click.Choice(RUN_FORMATS), default="table", show_default=True)
@click.option("--output", "-o", help="Write the report to this file instead of stdout.")
@click.option("--fail-under", type=click.FloatRange(0, 100), help="Exit 4 when the overall score is lower.")
@click.option("--no-store", is_flag=True, help="Do not save the run in the store.")
@click.option("--allow-collection-errors", is_flag=True,
              help="Do not exit 5 when a target could not be collected (its findings still say error).")
@click.option("--shard", envvar="SCALEREADY_SHARD", metavar="I/N",
              help="Run only shard I of N (1-based) and merge it into the stored run named by --run-key.")
@click.option("--run-key", envvar="SCALEREADY_RUN_KEY", help="The name all shards of one run share (e.g. the Job).")
@click.option("--push", "pushgateway", envvar="SCALEREADY_PUSHGATEWAY", metavar="URL",
              help="Also push the run's readiness gauges to this Prometheus Pushgateway.")
@friendly_errors
def check(config_path: str, environment: str | None, fmt: str, output: str | None,
          fail_under: float | None, no_store: bool, allow_collection_errors: bool, shard: str | None,
          run_key: str | None, pushgateway: str | None) -> None:
    """Collect from every target, evaluate the checks, store the run and print it.

    A store that cannot be opened or written never loses the run: the report is still written,
    the run waits in the local spool (uploaded by the next check or `scaleready store flush`),
    one line says so and the exit code is 1. With ``--shard`` the shard's findings merge into the
    stored run its ``--run-key`` names; the shard that completes the run judges its score."""
    from scaleready.api import Severity, Status
    from scaleready.config import load_config, redacted_target_summary
    from scaleready.runner import execute
    from scaleready.spool import flush, spool_run, store_problem
    from scaleready.store import Store

    store, problem, path = None, None, None
    if shard:
        from scaleready.cli_team import run_shard

        if no_store:
            raise ToolError("--shard merges shards in the store: it cannot be combined with --no-store")
        # Danger and collection: this shard's own findings. Score: the merged run, once every shard is in.
        run, judged = run_shard(config_path, environment, shard, run_key,
                                lambda merged: _emit(_render(merged, fmt, output, config_path), output))
    else:
        config = load_config(config_path)
        if not no_store:
            try:
                store = Store()
                uploaded = flush(store)
                if uploaded.uploaded:
                    click.echo(f"uploaded {len(uploaded.uploaded)} spooled run(s) to the store", err=True)
            except Exception as exc:  # any store failure: the run goes on and is spooled below
                store, problem = None, store_problem(exc)
        try:
            run, snapshots = execute(config, store=store, environment=environment, save=False)
        except Exception as exc:
            if store is None or not _is_store_failure(exc):
                raise
            # the store died while its ticks and waivers were read: run without it, spool below
            store, problem = None, store_problem(exc)
            run, snapshots = execute(config, store=None, environment=environment, save=False)
        if not no_store:
            targets = redacted_target_summary(config.select(environment))
            if store is not None:
                try:
                    store.save_run(run, snapshots, str(config.path) if config.path else None, targets)
                except Exception as exc:
                    store, problem = None, store_problem(exc)
            if problem is not None:
                path = spool_run(run, snapshots, str(config.path) if config.path else None, targets)
        judged = run
        _emit(_render(run, fmt, output, config_path), output)
    if problem is not None:
        click.echo(f"error: the store is unavailable ({problem}); run {run.id} is kept in {path} and is uploaded "
                   "by the next check or `scaleready store flush`", err=True)
        sys.exit(EXIT_TOOL_ERROR)
    if pushgateway and judged is not None:  # a sharded run is pushed once, by the shard that completes it
        from scaleready.cli_team import push

        push(store.load_run(judged.id) if store is not None else judged, pushgateway)  # stored = pushed
    danger = [f for f in run.findings
              if f.status == Status.FAIL and f.severity == Severity.DANGER and not f.waived]
    if danger:
        click.echo(f"{len(danger)} danger finding(s) failed", err=True)
        sys.exit(EXIT_DANGER)
    uncollected = [s for s in run.snapshots if s.error]
    if uncollected and not allow_collection_errors:
        for snap in uncollected:
            click.echo(f"target {snap.target} could not be collected: {snap.error}", err=True)
        click.echo(f"{len(uncollected)} of {len(run.snapshots)} target(s) could not be collected "
                   "(--allow-collection-errors to not fail on that)", err=True)
        sys.exit(EXIT_NOT_COLLECTED)
    if fail_under is not None and judged is not None and judged.score.overall < fail_under:
        click.echo(f"score {judged.score.overall:.1f} is below --fail-under {fail_under:g}", err=True)
        sys.exit(EXIT_BELOW_SCORE)


@main.command()
@click.option("--run", "run_ref", default="latest", show_default=True, help="Run id, id prefix or 'latest'.")
@click.option("--milestone", help="Render a milestone's frozen scorecard (with its sign-offs) instead of a run.")
@click.option("--format", "-f", "fmt", type=click.Choice(RUN_FORMATS), default="json", show_default=True)
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@project_option
@friendly_errors
def report(run_ref: str, milestone: str | None, fmt: str, output: str | None, project: str | None,
           config_path: str) -> None:
    """Export a stored run or a milestone (audit report) in any output format."""
    from scaleready import milestones
    from scaleready.store import Store

    project = resolve_project(project, config_path)
    store = Store()
    if milestone:
        run = milestones.as_run(milestones.get(store, milestone, project=project))
    else:
        run = store.load_run(run_ref, project=project if run_ref == "latest" else None)
    _emit(_render(run, fmt, output), output)


@main.command()
@click.option("--limit", default=20, show_default=True)
@friendly_errors
def runs(limit: int) -> None:
    """List stored runs, newest first."""
    from scaleready.store import Store

    for r in Store().runs(limit):
        click.echo(f"{r.id}  {r.started_at:%Y-%m-%d %H:%M}  {r.framework_id:<16} "
                   f"score {r.overall:5.1f}  coverage {r.coverage:4.0%}  level {r.level}")


@main.command("checks")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@friendly_errors
def list_checks(fmt: str) -> None:
    """List every installed check and plugin."""
    from scaleready.catalogue import catalogue_json, catalogue_table

    click.echo(json.dumps(catalogue_json(), indent=2) if fmt == "json" else catalogue_table(), nl=fmt == "json")


@main.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--framework", "ref", help="A framework file (default: the built-in scaling guide).")
@friendly_errors
def framework(fmt: str, ref: str | None) -> None:
    """Print the framework's items (id, section, title, kind, checks)."""
    from scaleready.catalogue import framework_table
    from scaleready.runner import resolve_framework

    fw = resolve_framework(ref)
    click.echo(json.dumps(fw.to_json(), indent=2) if fmt == "json" else framework_table(fw), nl=fmt == "json")


@main.command()
@click.argument("item_id")
@click.option("--state", type=click.Choice(["done", "not_done", "not_applicable"]), required=True)
@click.option("--by", "actor", required=True, help="Who is ticking it.")
@click.option("--note", default="", help="Why: evidence, ticket, link.")
@click.option("--framework", "ref", help="A framework file (default: the built-in scaling guide).")
@project_option
@friendly_errors
def tick(item_id: str, state: str, actor: str, note: str, ref: str | None, project: str | None,
         config_path: str) -> None:
    """Record a manual tick on a framework item of a project (kept in the audit log)."""
    from scaleready.runner import resolve_framework
    from scaleready.store import Store

    fw = resolve_framework(ref)
    if not fw.has_item(item_id):
        raise ToolError(f"framework '{fw.id}' has no item '{item_id}'")
    project = resolve_project(project, config_path)
    Store().set_item_state(fw.id, item_id, state, actor, note, project=project)
    click.echo(f"{item_id}: {state} (by {actor}, project {project})")


@main.command()
@click.option("--no-service", is_flag=True, help="Do not start the reference service (sample files only).")
@click.option("--postgres", "postgres_admin", metavar="DSN",
              help="Run the service on this PostgreSQL (a throw-away database is created and dropped) and check it.")
@click.option("--redis", "redis_url", metavar="URL",
              help="Run the service on this Redis database (use an unused db number: its rs:* keys are removed "
                   "afterwards) and check it.")
@click.option("--no-local", is_flag=True,
              help="Do not start a local PostgreSQL, Redis, exporters and Prometheus even where installed.")
@click.option("--delete", "delete_runs", is_flag=True, help="Delete every stored demo run instead.")
@friendly_errors
def demo(no_service: bool, postgres_admin: str | None, redis_url: str | None, no_local: bool,
         delete_runs: bool) -> None:
    """Run the demo: the sample app's files and a live reference service, stored as environment 'demo'.

    Where their binaries are installed, the demo also starts (and afterwards stops and removes) a
    throw-away PostgreSQL, a Redis, exporters and a Prometheus, and checks them; the output names
    what it skipped."""
    from scaleready.demo import DemoBackends, delete_demo_runs, items_with_evidence, run_demo_detailed
    from scaleready.store import Store

    store = Store()
    if delete_runs:
        click.echo(f"deleted {delete_demo_runs(store, actor='cli')} demo run(s)")
        return
    outcome = run_demo_detailed(store, with_service=not no_service,
                                backends=DemoBackends(postgres_admin, redis_url), actor="cli", local=not no_local)
    run = outcome.run
    proven, total = items_with_evidence(run)
    click.echo(f"demo run {run.id[:8]}: score {run.score.overall:.1f}, coverage {run.score.coverage:.0%} "
               f"({proven}/{total} items with live evidence), level {run.score.level}")
    for snap in run.snapshots:
        click.echo(f"  {snap.target} ({snap.kind}): {'error: ' + snap.error if snap.error else 'collected'}")
    for part, reason in outcome.skipped.items():
        click.echo(f"  skipped {part}: {reason}")


@main.command()
@click.option("--path", default="scaleready.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@friendly_errors
def init(path: str, force: bool) -> None:
    """Write a commented starter scaleready.yaml."""
    from scaleready.config import starter_config

    target = Path(path)
    if target.exists() and not force:
        raise ToolError(f"{target} already exists (use --force to overwrite)")
    target.write_text(starter_config())
    click.echo(f"wrote {target}; edit its targets, then run `scaleready check`")


@main.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              help="Config with the auth/roles sections (default: ./scaleready.yaml when present).")
@click.option("--secrets", "secrets_file", type=click.Path(dir_okay=False),
              help="Streamlit secrets.toml with the identity provider's [auth] settings.")
@click.option("--allow-unauthenticated", is_flag=True,
              help="Serve without sign-in on a non-loopback address (everyone reaching it is an editor).")
@friendly_errors
def dashboard(port: int, host: str, config_path: str | None, secrets_file: str | None,
              allow_unauthenticated: bool) -> None:
    """Start the Streamlit dashboard (SQLite store by default, no external service)."""
    from scaleready.cli_team import dashboard_access

    env_extra, streamlit_args = dashboard_access(host, config_path, secrets_file, allow_unauthenticated)
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    # dashboard.server is `streamlit` with the app's navigation as the only router (see its docstring)
    cmd = [sys.executable, "-m", "dashboard.server", "run", str(app), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal", *streamlit_args]
    click.echo(f"scaleready dashboard on http://{host}:{port}", err=True)
    # Become Streamlit (exec, not a child): a supervisor's or a test's SIGTERM to this process then
    # stops the server; with a child process it was orphaned and kept serving.
    sys.stderr.flush()
    os.execve(sys.executable, cmd, {**os.environ, **env_extra, "PYTHONPATH": str(app.parent.parent)})


def _add_optional_commands() -> None:
    """Commands owned by the reference service and simulator packages, when present."""
    import importlib

    for module, names in (("scaleready.cli_team", ("shards", "exporter")),
                          ("refservice.commands", ("refservice", "loadgen", "seed")),
                          ("simulator.commands", ("simulate", "calibrate"))):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name in names:
            command = getattr(mod, name, None)
            if isinstance(command, click.Command):
                main.add_command(command, name)


_add_optional_commands()


def _add_audit_commands() -> None:
    """audit verify/log, waive, waivers, unwaive, milestone *, store flush (scaleready.cli_audit)."""
    from scaleready import cli_audit

    cli_audit.register(main, friendly_errors, ToolError)


_add_audit_commands()
