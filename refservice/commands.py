"""Click commands for the CLI: ``refservice`` (serve), ``loadgen`` and ``seed``.

The lead's ``scaleready/cli.py`` adds them with ``main.add_command(...)``. Each builds the same
objects the Python API exposes (`Settings` + `create_app`, `LoadSpec` + `run`), so the CLI and
the tests exercise one code path.
"""

from __future__ import annotations

import asyncio
import json
import sys

import click

from refservice.settings import FEATURES, Settings


@click.command("refservice")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--database-url", default="sqlite:///:memory:", show_default=True,
              help="sqlite:///file.db or postgresql://user@host/db")
@click.option("--replica-url", "replica_urls", multiple=True, help="a PostgreSQL read replica (repeatable)")
@click.option("--redis-url", default=None, help="redis://host:6379/0 (default: in-process L2 and broker)")
@click.option("--kafka-bootstrap", default=None, help="publish outbox events to Kafka (needs aiokafka)")
@click.option("--seed", "seed_n", default=1000, show_default=True, type=int, help="products to load on start")
@click.option("--warm", "warm_products", default=0, show_default=True, type=int,
              help="warm L2 with products 1..N and the first listing pages on start (guide 9.1)")
@click.option("--rate-limit", default="1000/minute", show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="switch the per-IP rate limit off (benchmarks)")
@click.option("--trust-forwarded-for", is_flag=True, help="rate-limit by X-Forwarded-For (behind a proxy)")
@click.option("--payment-failure-rate", default=0.0, show_default=True, type=float)
@click.option("--payment-latency-ms", default=0.0, show_default=True, type=float)
@click.option("--read-only", is_flag=True, help="start in read-only mode (guide 10.1)")
@click.option("--serve-stale", is_flag=True, help="start serving from cache only (guide 10.2)")
@click.option("--disable-feature", "disabled", multiple=True, type=click.Choice(FEATURES))
@click.option("--no-access-log", is_flag=True)
def serve_command(host: str, port: int, database_url: str, replica_urls: tuple[str, ...], redis_url: str | None,
                  kafka_bootstrap: str | None, seed_n: int, warm_products: int, rate_limit: str, no_rate_limit: bool,
                  trust_forwarded_for: bool, payment_failure_rate: float, payment_latency_ms: float,
                  read_only: bool, serve_stale: bool, disabled: tuple[str, ...], no_access_log: bool) -> None:
    """Serve the reference service (tiered cache, replicas, breaker, outbox, metrics)."""
    import uvicorn
    from pydantic import ValidationError

    from refservice.app import create_app, server_options

    try:
        settings = Settings(database_url=database_url, replica_urls=list(replica_urls), redis_url=redis_url,
                            kafka_bootstrap=kafka_bootstrap, rate_limit=rate_limit,
                            rate_limit_enabled=not no_rate_limit,
                            trust_forwarded_for=trust_forwarded_for, payment_failure_rate=payment_failure_rate,
                            payment_latency_ms=payment_latency_ms, read_only=read_only, serve_stale=serve_stale,
                            disabled_features=list(disabled), access_log=not no_access_log,
                            warm_products=warm_products)
        app = create_app(settings, seed=seed_n)
    except (ValidationError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc).splitlines()[0] if not isinstance(exc, ValidationError)
                                   else "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                  for e in exc.errors())) from exc
    # uvicorn's own messages (startup, errors) as JSON lines too, through the service's handler
    import logging

    handler = logging.getLogger("refservice").handlers[0]
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, **server_options(settings))


@click.command("loadgen")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--rate", default=100.0, show_default=True, type=float, help="requests per second")
@click.option("--duration", "duration_s", default=10.0, show_default=True, type=float, help="seconds")
@click.option("--distribution", default="constant", show_default=True, type=click.Choice(["constant", "poisson"]))
@click.option("--mix", default="get_product=90,list_products=10", show_default=True,
              help="endpoint=weight,... (get_product, list_products, search, recommendations, update_product, "
                   "checkout, or /path)")
@click.option("--write-ratio", default=None, type=float, help="share of writes (rescales the mix)")
@click.option("--keys", "n_keys", default=1000, show_default=True, type=int, help="product ids 1..N")
@click.option("--zipf", "zipf_exponent", default=1.0, show_default=True, type=float, help="Zipf exponent")
@click.option("--connections", default=64, show_default=True, type=int)
@click.option("--max-connections", default=0, show_default=True, type=int,
              help="open more connections on demand, up to this many, when all are busy (0: a fixed pool)")
@click.option("--timeout", "timeout_s", default=10.0, show_default=True, type=float)
@click.option("--transport", default="raw", show_default=True, type=click.Choice(["raw", "httpx"]))
@click.option("--username", default="demo", show_default=True)
@click.option("--password", default="demo", show_default=True)
@click.option("--client-ips", default=0, show_default=True, type=int,
              help="spread requests over N simulated client addresses (X-Forwarded-For)")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="write the JSON result here (default: stdout)")
def loadgen_command(output: str | None, **fields: object) -> None:
    """Open-loop load test: schedule fixed in advance, latency from the intended send time."""
    from refservice.loadgen import LoadSpec, run

    try:
        result = run(LoadSpec(**fields))  # type: ignore[arg-type]
    except (ValueError, RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    text = json.dumps(result, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
    lat = result["latency_ms"]
    click.echo(f"target {result['rate']:.0f} req/s, achieved {result['achieved_rate']:.1f} req/s "
               f"({result['rate_error_pct']:+.2f} %), P50 {lat['p50']:.2f} ms, P99 {lat['p99']:.2f} ms, "
               f"errors {result['errors']}", err=True)


@click.command("refservice-seed")
@click.option("--database-url", required=True, help="sqlite:///file.db or postgresql://user@host/db")
@click.option("--count", "-n", default=1000, show_default=True, type=int)
def seed_command(database_url: str, count: int) -> None:
    """Create the reference service's schema and load N products."""
    from refservice.db import make_node, redact
    from refservice.metrics import Metrics
    from refservice.schema import create_schema, ensure_users, seed_products

    async def go() -> int:
        settings = Settings(database_url=database_url)
        node = make_node(database_url, Metrics(), "primary", "primary")
        try:
            await create_schema(node)
            await ensure_users(node, settings.admin_password, settings.demo_password)
            return await seed_products(node, count)
        finally:
            await node.close()

    try:
        made = asyncio.run(go())
    except Exception as exc:
        raise click.ClickException(f"seeding {redact(database_url)} failed: {exc}") from exc
    click.echo(f"loaded {made} new products into {redact(database_url)}", file=sys.stderr)


commands = [serve_command, loadgen_command, seed_command]

# the names scaleready/cli.py looks up
refservice = serve_command
loadgen = loadgen_command
seed = seed_command
