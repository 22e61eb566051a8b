"""The ``scaleready`` command line: run checks in CI, export reports, start the dashboard.

Exit codes are a contract for CI: 0 ok, 1 tool or config error, 3 a ``danger`` finding
failed (and is not waived), 4 the score is below ``--fail-under``. A tool error is one line
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

EXIT_OK, EXIT_TOOL_ERROR, EXIT_DANGER, EXIT_BELOW_SCORE = 0, 1, 3, 4
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
    if fmt == "sarif" and config_path:
        options["artifact"] = config_path
    return reports.render(run, fmt, **options)


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
@friendly_errors
def check(config_path: str, environment: str | None, fmt: str, output: str | None,
          fail_under: float | None, no_store: bool) -> None:
    """Collect from every target, evaluate the checks, store the run and print it."""
    from scaleready.api import Severity, Status
    from scaleready.config import load_config
    from scaleready.runner import execute
    from scaleready.store import Store

    config = load_config(config_path)
    store = None if no_store else Store()
    run, _ = execute(config, store=store, environment=environment)
    _emit(_render(run, fmt, output, config_path), output)
    danger = [f for f in run.findings
              if f.status == Status.FAIL and f.severity == Severity.DANGER and not f.waived]
    if danger:
        click.echo(f"{len(danger)} danger finding(s) failed", err=True)
        sys.exit(EXIT_DANGER)
    if fail_under is not None and run.score.overall < fail_under:
        click.echo(f"score {run.score.overall:.1f} is below --fail-under {fail_under:g}", err=True)
        sys.exit(EXIT_BELOW_SCORE)


@main.command()
@click.option("--run", "run_ref", default="latest", show_default=True, help="Run id, id prefix or 'latest'.")
@click.option("--format", "-f", "fmt", type=click.Choice(RUN_FORMATS), default="json", show_default=True)
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@friendly_errors
def report(run_ref: str, fmt: str, output: str | None) -> None:
    """Export a stored run (audit report) in any output format."""
    from scaleready.store import Store

    run = Store().load_run(run_ref)
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
@friendly_errors
def tick(item_id: str, state: str, actor: str, note: str, ref: str | None) -> None:
    """Record a manual tick on a framework item (kept in the audit log)."""
    from scaleready.runner import resolve_framework
    from scaleready.store import Store

    fw = resolve_framework(ref)
    if not fw.has_item(item_id):
        raise ToolError(f"framework '{fw.id}' has no item '{item_id}'")
    Store().set_item_state(fw.id, item_id, state, actor, note)
    click.echo(f"{item_id}: {state} (by {actor})")


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
def dashboard(port: int, host: str) -> None:
    """Start the Streamlit dashboard (SQLite store by default, no external service)."""
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    click.echo(f"scaleready dashboard on http://{host}:{port}", err=True)
    # Become Streamlit (exec, not a child): a supervisor's or a test's SIGTERM to this process then
    # stops the server; with a child process it was orphaned and kept serving.
    sys.stderr.flush()
    os.execve(sys.executable, cmd, {**os.environ, "PYTHONPATH": str(app.parent.parent)})


def _add_optional_commands() -> None:
    """Commands owned by the reference service and simulator packages, when present."""
    import importlib

    for module, names in (("refservice.commands", ("refservice", "loadgen", "seed")),
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
