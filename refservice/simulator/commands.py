"""The ``scaleready simulate`` command: a scenario file in, JSON out (stdout or --output).

Kept here, beside the simulator, so the CLI module only has to ``add_command(simulate)``.
Exit codes: 0 answered (whatever the verdict), 1 bad input or engine failure (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .model import ScenarioError, load_scenario

__all__ = ["simulate"]


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


@click.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["trace", "analytic", "both"]), default=None,
              help="trace-driven simulation, closed forms, or both side by side "
                   "[default: trace; analytic for --sweep]")
@click.option("--sweep", "do_sweep", is_flag=True, help="grid TTLs x replicas x instances and recommend the cheapest")
@click.option("--grid", "grid_items", multiple=True, metavar="PATH=V1,V2",
              help="sweep axis, e.g. --grid db.replicas=0,1,2 (repeatable; default grid otherwise)")
@click.option("--verify", is_flag=True, help="with --sweep: confirm the recommendation with the trace engine")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write JSON here")
def simulate(scenario: Path, engine: str | None, do_sweep: bool, grid_items: tuple[str, ...], verify: bool,
             output: Path | None) -> None:
    """What-if: hit ratios, DB load, latency and staleness for a cache/replica SCENARIO (YAML/JSON)."""
    from . import simulate as run
    from . import sweep

    try:
        sc = load_scenario(scenario)
        if do_sweep:
            eng = "trace" if engine == "trace" else "analytic"
            doc: dict[str, Any] = sweep(sc, grid=_parse_grid(grid_items), engine=eng, verify=verify).to_dict()
        elif engine is None or engine == "trace":
            doc = run(sc, "trace").to_dict()
        elif engine == "both":
            doc = {"analytic": run(sc, "analytic").to_dict(), "trace": run(sc, "trace").to_dict()}
        else:
            doc = run(sc, "analytic").to_dict()
    except (ScenarioError, ValueError, MemoryError) as exc:
        click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    text = json.dumps(doc, indent=2)
    if output:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(1)
    else:
        click.echo(text)


if __name__ == "__main__":  # pragma: no cover - `python -m refservice.simulator.commands`
    simulate()
