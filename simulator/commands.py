"""The ``scaleready simulate`` and ``scaleready calibrate`` commands.

``simulate``: a scenario file in (optionally with a calibration laid over it), JSON out.
``calibrate``: drive a running reference service and write its service times as a calibration
file for ``simulate --calibration``.

Kept here, beside the simulator, so the CLI module only has to ``add_command(simulate)``.
Exit codes: 0 answered (whatever the verdict), 1 bad input or engine failure (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from .model import Scenario, ScenarioError, load_scenario

__all__ = ["calibrate", "simulate"]


def _parse_grid(items: tuple[str, ...]) -> dict[str, list[Any]] | None:
    if not items:
        return None
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise click.BadParameter(f"{item!r}: expected PATH=V1,V2,...", param_hint="--grid")
        parsed = []
        for raw in values.split(","):
            try:
                parsed.append(json.loads(raw))
            except json.JSONDecodeError:
                parsed.append(raw)
        grid[key.strip()] = parsed
    return grid


def _calibrated(scenario: Path, calibration: Path | None) -> Scenario:
    """The scenario, with a calibration file's ``overrides`` laid over it when one is given."""
    sc = load_scenario(scenario)
    if calibration is None:
        return sc
    from .calibrate import apply_calibration

    try:
        doc = yaml.safe_load(calibration.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{calibration}: cannot read calibration: {str(exc).splitlines()[0]}") from None
    try:
        return apply_calibration(sc, doc)
    except ScenarioError as exc:
        raise ScenarioError(f"{calibration}: {exc}") from None


@click.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["trace", "analytic", "both"]), default=None,
              help="trace-driven simulation, closed forms, or both side by side "
                   "[default: trace; analytic for --sweep]")
@click.option("--sweep", "do_sweep", is_flag=True, help="grid TTLs x replicas x instances and recommend the cheapest")
@click.option("--grid", "grid_items", multiple=True, metavar="PATH=V1,V2",
              help="sweep axis, e.g. --grid db.replicas=0,1,2 (repeatable; default grid otherwise)")
@click.option("--verify", is_flag=True, help="with --sweep: confirm the recommendation with the trace engine")
@click.option("--calibration", type=click.Path(dir_okay=False, path_type=Path),
              help="service times from scaleready calibrate, laid over the scenario's")
@click.option("--capacity", "with_capacity", is_flag=True,
              help="add the request rate (and users) at which P99 crosses the scenario's target, with an interval")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write JSON here")
def simulate(scenario: Path, engine: str | None, do_sweep: bool, grid_items: tuple[str, ...], verify: bool,
             calibration: Path | None, with_capacity: bool, output: Path | None) -> None:
    """What-if: hit ratios, DB load, latency and staleness for a cache/replica SCENARIO (YAML/JSON)."""
    from . import simulate as run
    from . import sweep

    try:
        sc = _calibrated(scenario, calibration)
        if do_sweep:
            eng = "trace" if engine == "trace" else "analytic"
            doc: dict[str, Any] = sweep(sc, grid=_parse_grid(grid_items), engine=eng, verify=verify).to_dict()
        elif engine is None or engine == "trace":
            doc = run(sc, "trace").to_dict()
        elif engine == "both":
            doc = {"analytic": run(sc, "analytic").to_dict(), "trace": run(sc, "trace").to_dict()}
        else:
            doc = run(sc, "analytic").to_dict()
        if with_capacity:  # simulator/capacity.py: the knee model's crossing of targets.p99_ms
            from .capacity import scenario_capacity

            doc["capacity"] = scenario_capacity(sc)
    except (ScenarioError, ValueError, MemoryError) as exc:
        click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    _write(json.dumps(doc, indent=2), output)


def _write(text: str, output: Path | None) -> None:
    if output:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(1)
    else:
        click.echo(text)


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
    _write(yaml.safe_dump(cal.to_dict(), sort_keys=False).rstrip("\n"), output)


if __name__ == "__main__":  # pragma: no cover - `python -m simulator.commands`
    simulate()
