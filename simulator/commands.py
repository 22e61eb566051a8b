"""The ``scaleready simulate`` and ``scaleready calibrate`` commands.

``simulate``: a scenario file in (optionally with a calibration laid over it), a readable summary
out (``--format json`` for machines; ``-o FILE`` writes the document and says what it wrote).
``calibrate``: drive a running reference service and write its service times as a calibration
file for ``simulate --calibration``.

Kept here, beside the simulator, so the CLI module only has to ``add_command(simulate)``. Each
mode of ``simulate`` is one small function returning (document, summary, passed), so another
mode (e.g. a capacity answer) is one more function and one more option.

Exit codes of ``simulate``: 0 the guide's targets are met (a sweep: some configuration meets
them), 1 bad input or engine failure (one line on stderr), 3 the targets are missed (a sweep:
no configuration in the grid meets them, or the trace engine does not confirm the
recommendation), so a CI gate can run a scenario.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from scaleready.yamlsource import YamlSyntaxError, read_source

from .model import Scenario, ScenarioError, load_scenario, parse_document

__all__ = ["EXIT_TARGETS_MISSED", "calibrate", "simulate"]

EXIT_TARGETS_MISSED = 3


def _parse_grid(items: tuple[str, ...]) -> dict[str, list[Any]] | None:
    from .sweep import parse_values

    if not items:
        return None
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parsed = parse_values(values)
        if not sep or not key or not parsed:
            raise click.BadParameter(f"{item!r}: expected PATH=V1,V2,...", param_hint="--grid")
        grid[key.strip()] = parsed
    return grid


def _calibrated(scenario: Path, calibration: Path | None) -> Scenario:
    """The scenario, with a calibration file's ``overrides`` laid over it when one is given."""
    sc = load_scenario(scenario)
    if calibration is None:
        return sc
    from .calibrate import apply_calibration

    try:
        doc = parse_document(read_source(calibration, "calibration file"), str(calibration))
    except YamlSyntaxError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        return apply_calibration(sc, doc)
    except ScenarioError as exc:
        raise ScenarioError(f"{calibration}: {exc}") from None


Answer = tuple[dict[str, Any], str, bool]
"""what a simulate mode returns: the JSON document, the readable summary, targets met"""


def _single(sc: Scenario, engine: str) -> Answer:
    from . import simulate as run
    from .summary import result_text

    res = run(sc, engine)
    return res.to_dict(), result_text(res), res.verdict.passed


def _both(sc: Scenario) -> Answer:
    from . import simulate as run
    from .summary import result_text

    results = {e: run(sc, e) for e in ("analytic", "trace")}
    text = "\n\n".join(result_text(r) for r in results.values())
    return ({e: r.to_dict() for e, r in results.items()}, text,
            all(r.verdict.passed for r in results.values()))


def _sweep(sc: Scenario, engine: str, grid: dict[str, list[Any]] | None, verify: bool) -> Answer:
    from . import sweep
    from .summary import sweep_text

    res = sweep(sc, grid=grid, engine="trace" if engine == "trace" else "analytic", verify=verify,
                progress=_terminal_progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        click.echo("", err=True)
    doc = res.to_dict()
    confirmed = res.verification is None or res.verification.verdict.passed
    return doc, sweep_text(doc), res.recommended is not None and confirmed


def _terminal_progress(done: int, total: int) -> None:
    """A sweep's progress on an interactive terminal (never in a pipe or a CI log)."""
    click.echo(f"\rsweeping: {done:,} of {total:,} configurations", err=True, nl=False)


@click.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["trace", "analytic", "both"]), default=None,
              help="trace-driven simulation, closed forms, or both side by side "
                   "[default: trace; analytic for --sweep]")
@click.option("--sweep", "do_sweep", is_flag=True,
              help="grid the scenario's knobs (default: Redis memory x replicas x instances) and recommend "
                   "the cheapest configuration meeting the targets")
@click.option("--grid", "grid_items", multiple=True, metavar="PATH=V1,V2",
              help="sweep axis, any scenario field, e.g. --grid l2.memory_bytes=1e9,4e9 (repeatable)")
@click.option("--verify", is_flag=True, help="with --sweep: confirm the recommendation with the trace engine")
@click.option("--calibration", type=click.Path(dir_okay=False, path_type=Path),
              help="service times from scaleready calibrate, laid over the scenario's")
@click.option("--capacity", "with_capacity", is_flag=True,
              help="add the request rate (and users) at which P99 crosses the scenario's target, with an interval")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="readable summary or the JSON document [default: text; json when writing --output]")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="write the document here (JSON unless --format text) and print what was written")
def simulate(scenario: Path, engine: str | None, do_sweep: bool, grid_items: tuple[str, ...], verify: bool,
             calibration: Path | None, with_capacity: bool, fmt: str | None, output: Path | None) -> None:
    """What-if: hit ratios, DB load, latency and staleness for a cache/replica SCENARIO (YAML/JSON).

    Exits 0 when the guide's targets are met, 3 when they are missed, 1 on bad input.
    """
    try:
        sc = _calibrated(scenario, calibration)
        if do_sweep:
            doc, text, passed = _sweep(sc, engine or "analytic", _parse_grid(grid_items), verify)
        elif engine == "both":
            doc, text, passed = _both(sc)
        else:
            doc, text, passed = _single(sc, engine or "trace")
        if with_capacity:  # simulator/capacity.py: the knee model's crossing of targets.p99_ms
            from .capacity import scenario_capacity

            cap = scenario_capacity(sc)
            doc["capacity"] = cap
            text += (f"\ncapacity: P99 reaches {sc.targets.p99_ms:g} ms at {cap['rate']:,.0f} req/s "
                     f"(interval {cap['rate_low']:,.0f} – {cap['rate_high']:,.0f}; about {cap['users']:,.0f} users, "
                     f"{cap['headroom']:.1f}x today's traffic)\n{cap['validation']}")
    except (ScenarioError, ValueError, MemoryError) as exc:
        click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    fmt = fmt or ("json" if output else "text")
    rendered = json.dumps(doc, indent=2) if fmt == "json" else text
    if output:
        _write(rendered, output)
        what = (f"the sweep ({len(doc['rows'])} configurations)" if do_sweep
                else "both engines' results" if engine == "both" else "the result")
        click.echo(text)
        click.echo(f"wrote {what} as {fmt.upper() if fmt == 'json' else 'text'} to {output}")
    else:
        click.echo(rendered)
    sys.exit(0 if passed else EXIT_TARGETS_MISSED)


def _write(text: str, output: Path) -> None:
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)


@click.command("calibrate")
@click.argument("url")
@click.option("--rate", default=200.0, show_default=True, help="requests per second of the calibration run")
@click.option("--duration", default=20.0, show_default=True, help="seconds of the calibration run")
@click.option("--keys", default=1000, show_default=True, help="products the service holds (its --seed)")
@click.option("--write-ratio", default=0.02, show_default=True, help="share of PUT writes (0 for none)")
@click.option("--l1-ttl", default=5.0, show_default=True, help="the service's L1 TTL, seconds")
@click.option("--product-ttl", default=3600.0, show_default=True, help="the service's product L2 TTL, seconds")
@click.option("--redis-url", help="time the Redis round trip directly (else the scenario keeps its own)")
@click.option("--database-url", help="time a primary-key read directly, read-only (else the scenario keeps its own)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write YAML here")
def calibrate(url: str, rate: float, duration: float, keys: int, write_ratio: float, l1_ttl: float,
              product_ttl: float, redis_url: str | None, database_url: str | None, output: Path | None) -> None:
    """Measure a running reference service at URL and write its service times for simulate --calibration.

    Sends real traffic, writes included: point it at the reference service (started with
    --no-rate-limit), never at production.
    """
    import httpx

    from .calibrate import calibrate_service

    try:
        cal = calibrate_service(url, rate=rate, duration_s=duration, keys=keys, write_ratio=write_ratio,
                                l1_ttl_s=l1_ttl, product_ttl_s=product_ttl, redis_url=redis_url,
                                database_url=database_url)
    except (httpx.HTTPError, OSError, ValueError, RuntimeError) as exc:
        click.echo(f"error: calibration against {url} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                   err=True)
        sys.exit(1)
    if not cal.fit_reproduces:
        click.echo(f"warning: the fitted model gives P99 {cal.fit_p99_ms:.1f} ms for the calibration run's "
                   f"{cal.cal_p99_ms:.1f} ms (more than 1.5x apart: a stall the CPU-time spread cannot explain?); "
                   "rerun the calibration on a quieter host before trusting simulated tails", err=True)
    text = yaml.safe_dump(cal.to_dict(), sort_keys=False).rstrip("\n")
    if output:
        _write(text, output)
    else:
        click.echo(text)


if __name__ == "__main__":  # pragma: no cover - `python -m simulator.commands`
    simulate()
