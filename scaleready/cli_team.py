"""CLI commands for running scaleready for a team: sharded checks, shard status, the metrics exporter.

Registered from `scaleready.cli` with one line, so the team features stay out of the core CLI
module. ``check --shard`` itself is an option of ``check``; its work is `run_shard` here.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

import click

EXIT_INCOMPLETE = 5  # `scaleready shards`: the run is missing shards


def _actor() -> str:
    """Who stored a shard: the Job's pod name in a cluster, else the local user."""
    try:
        return os.environ.get("SCALEREADY_ACTOR") or os.environ.get("HOSTNAME") or getpass.getuser()
    except OSError:
        return "scaleready"


def run_shard(config_path: str, environment: str | None, shard_spec: str, run_key: str | None,
              emit: Callable[[Any], None]) -> tuple[Any, Any]:
    """One shard of a sharded run: returns (this shard's findings as a run, the merged run when this
    shard completed it, else None). Emits the merged run as stored so far; its shard state on stderr."""
    from scaleready.config import load_config
    from scaleready.shards import Shard, execute_shard
    from scaleready.store import Store

    shard = Shard.parse(shard_spec)
    if not run_key:
        raise ValueError("--shard needs --run-key (or SCALEREADY_RUN_KEY): the name all shards of one run share, "
                         "e.g. the Kubernetes Job name")
    config = load_config(config_path)
    store = Store()
    outcome = execute_shard(config, shard, run_key, store, environment=environment, actor=_actor())
    click.echo(f"shard {shard}: {len(outcome.shard_run.findings)} finding(s) stored; "
               f"{outcome.status.describe()}", err=True)
    merged = store.load_run(outcome.status.run_id)
    emit(merged)
    if not outcome.status.complete:
        click.echo("the merged score (--fail-under) is judged by the shard that completes the run", err=True)
        return outcome.shard_run, None
    return outcome.shard_run, merged


def dashboard_access(host: str, config_path: str | None, secrets_file: str | None,
                     allow_unauthenticated: bool) -> tuple[dict[str, str], list[str]]:
    """Decide how the dashboard may be served; refuse (ValueError, one line) rather than serve open.

    Returns the environment the app reads (its config path, the explicit permission to be open)
    and extra Streamlit arguments (the secrets file)."""
    from pathlib import Path

    from scaleready.access import check_oidc_secrets, default_secrets_files, is_loopback
    from scaleready.config import load_config

    path = config_path or ("scaleready.yaml" if Path("scaleready.yaml").is_file() else None)
    access = load_config(path).access if path else None
    env: dict[str, str] = {"SCALEREADY_CONFIG": str(Path(path).resolve())} if path else {}
    args: list[str] = []
    if secrets_file:
        if not Path(secrets_file).is_file():
            raise ValueError(f"--secrets {secrets_file}: no such file")
        args += ["--secrets.files", str(Path(secrets_file).resolve())]
    if access is not None and access.oidc:
        files = [Path(secrets_file)] if secrets_file else default_secrets_files()
        secrets = check_oidc_secrets(files, access.provider)
        if not secrets.ok:
            raise ValueError(f"auth.oidc is on in {path}, but sign-in cannot work: missing "
                             + "; ".join(secrets.missing))
        click.echo("sign-in: OpenID Connect (st.login); roles from " + str(path), err=True)
        return env, args
    if is_loopback(host):
        click.echo(f"no identity provider configured: serving on {host} (this machine) only; "
                   "everyone who can open it is an editor", err=True)
        return env, args
    if not allow_unauthenticated:
        raise ValueError(f"refusing to serve the dashboard without sign-in on {host}: anyone reaching it could "
                         "tick and waive. Configure `auth: {oidc: true}` and `roles` (see deploy/README.md), "
                         "bind to 127.0.0.1, or pass --allow-unauthenticated")
    click.echo(f"WARNING: serving without sign-in on {host} (--allow-unauthenticated): everyone who can reach "
               "it is an editor", err=True)
    return {**env, "SCALEREADY_ALLOW_UNAUTHENTICATED": "1"}, args


def push(run: Any, gateway: str) -> None:
    """``check --push``: the run's gauges to a Pushgateway, labelled with ``SCALEREADY_PROJECT``
    (default ``default``). A gateway that cannot be reached is a tool error (exit 1); the run is
    stored and its report written already."""
    from scaleready.exporter import push_run

    project = os.environ.get("SCALEREADY_PROJECT") or "default"
    try:
        push_run(run, gateway, project)
    except OSError as exc:
        raise ValueError(f"push to {gateway} failed: {getattr(exc, 'reason', exc)}") from None
    click.echo(f"pushed readiness gauges of run {run.id[:8]} to {gateway} (project {project})", err=True)


@click.command("shards")
@click.option("--run", "run_ref", default="latest", show_default=True, help="Run id, id prefix or 'latest'.")
def shards(run_ref: str) -> None:
    """Say whether a sharded run is complete; exit 5 (and name the unknown targets) when not."""
    from scaleready.shard_store import shard_status
    from scaleready.store import Store, StoreError

    try:
        status = shard_status(Store(), run_ref)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if status is None:
        click.echo("this run was not sharded: it is complete by construction")
        return
    click.echo(status.describe())
    if not status.complete:
        sys.exit(EXIT_INCOMPLETE)


@click.command("exporter")
@click.option("--port", default=9717, show_default=True, help="Port of /metrics.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--project", default="default", show_default=True, help="The `project` label.")
@click.option("--environment", "-e", help="Only this environment's newest run.")
def exporter(port: int, host: str, project: str, environment: str | None) -> None:
    """Serve readiness (score, coverage, level, per-check status) as Prometheus gauges on /metrics."""
    from prometheus_client import CollectorRegistry, start_http_server

    from scaleready.exporter import ReadinessCollector
    from scaleready.store import Store, StoreError

    try:
        store = Store()
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadinessCollector(store, project, environment))
    server, thread = start_http_server(port, addr=host, registry=registry)
    click.echo(f"scaleready exporter on http://{host}:{server.server_port}/metrics (store {store.safe_url})",
               err=True)
    thread.join()
