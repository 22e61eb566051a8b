"""Live signals from a configured Prometheus, for the pages operations keep open (no Streamlit here).

The Live metrics page plots the guide's four 1.2 signals over a chosen time range against their
thresholds; the Playbooks page judges the section-10 triggers on the current values. Both use
the same PromQL as the checks (``checks.prometheus.queries`` / ``evidence``, with the target's
overrides), so a chart and a finding can never disagree about what "error rate" means.

Every failure is a readable reason in the result, never an exception: a page shows it and
carries on with the other signals.
"""

from __future__ import annotations

import math
import os
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import plotly.graph_objects as go

from checks.prometheus.collector import PrometheusOptions, public_url
from checks.prometheus.evidence import evidence_options, render_probe, templates
from checks.prometheus.queries import SIGNALS, Signal, render
from scaleready.config import ConfigError, load_config
from scaleready.playbooks import PLAYBOOKS, PlaybookState, evaluate

CONFIG_ENV = "SCALEREADY_CONFIG"
RANGES = {"15 minutes": 900, "1 hour": 3600, "6 hours": 21600, "24 hours": 86400, "7 days": 604800}
POINTS = 120


@dataclass
class Source:
    """A Prometheus to read: a configured target's options (secrets resolved in memory only)."""

    name: str
    options: PrometheusOptions

    @property
    def shown(self) -> str:
        return public_url(self.options.url)


@dataclass
class SignalSeries:
    """One signal over a time range: its points per series, the threshold, or why there are none."""

    signal: Signal
    query: str
    series: list[dict[str, Any]] = field(default_factory=list)
    current: float | None = None
    reason: str | None = None

    @property
    def breached(self) -> bool | None:
        return None if self.current is None else not self.signal.ok(self.current)


def sources(config_path: str | None = None) -> tuple[list[Source], str | None]:
    """The Prometheus targets of the config (``$SCALEREADY_CONFIG`` or ./scaleready.yaml), or why none."""
    path = config_path or os.environ.get(CONFIG_ENV) or "scaleready.yaml"
    if not Path(path).is_file():
        return [], f"no config file at {path} (set {CONFIG_ENV} or enter a Prometheus URL)"
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [], str(exc)
    found = []
    for configured in config.targets:
        target = configured.target
        if target.kind != "prometheus" or configured.secret_error:
            continue
        try:
            found.append(Source(target.name, PrometheusOptions.model_validate(dict(target.options))))
        except ValueError:
            continue
    return found, None if found else f"{path} has no prometheus target"


def source_for_url(url: str) -> Source:
    """An ad-hoc source typed into the page (no credentials)."""
    return Source(public_url(url), PrometheusOptions(url=url))


def _client(opts: PrometheusOptions, timeout: float) -> httpx.Client:
    headers = {"Accept": "application/json"}
    auth: httpx.Auth | None = None
    if opts.bearer_token:
        headers["Authorization"] = f"Bearer {opts.bearer_token}"
    elif opts.username is not None:
        auth = httpx.BasicAuth(opts.username, opts.password or "")
    verify: Any = opts.verify_tls
    if opts.verify_tls and opts.ca_file:
        verify = ssl.create_default_context(cafile=opts.ca_file)
    return httpx.Client(base_url=public_url(opts.url).rstrip("/"), headers=headers, auth=auth, verify=verify,
                        timeout=timeout)


def _get(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[Any, str | None]:
    try:
        response = client.get(path, params=params)
        body = response.json()
    except httpx.HTTPError as exc:
        return None, f"cannot reach Prometheus: {type(exc).__name__} {' '.join(str(exc).split())[:160]}"
    except ValueError:
        return None, f"{path} answered HTTP {response.status_code} without JSON"
    if not isinstance(body, dict) or body.get("status") != "success":
        return None, f"{path} failed: {body.get('error') if isinstance(body, dict) else 'unexpected answer'}"
    return body.get("data"), None


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def signal_series(source: Source, range_s: float, *, timeout: float = 10.0,
                  now: float | None = None) -> dict[str, SignalSeries]:
    """The four guide signals over ``range_s`` seconds up to now, with the target's query overrides."""
    opts = source.options
    end = now or time.time()
    step = max(range_s / POINTS, 1.0)
    out: dict[str, SignalSeries] = {}
    with _client(opts, timeout) as client:
        for key, sig in SIGNALS.items():
            query = render(opts.queries.get(key, sig.template), opts.window, opts.selector)
            entry = SignalSeries(sig, query)
            data, entry.reason = _get(client, "/api/v1/query_range",
                                      {"query": query, "start": end - range_s, "end": end, "step": step})
            for item in (data or {}).get("result") or []:
                points = [(float(t), _number(v)) for t, v in item.get("values") or []]
                entry.series.append({"labels": item.get("metric") or {}, "points": points})
            finite = [p[1] for s in entry.series for p in s["points"][-1:] if p[1] is not None]
            if finite:
                entry.current = max(finite) if sig.worst == "max" else min(finite)
            elif entry.reason is None:
                entry.reason = "no data in the range (metric missing or named differently?)"
            out[key] = entry
    return out


def figure(entry: SignalSeries) -> go.Figure:
    """The signal's series as lines with the guide's threshold as a dashed line."""
    sig = entry.signal
    scale, unit = (1000.0, "ms") if sig.unit == "seconds" else (100.0, "%")
    fig = go.Figure()
    for series in entry.series[:5]:
        label = ",".join(f"{k}={v}" for k, v in series["labels"].items() if k != "__name__") or sig.title
        points = series["points"]
        fig.add_scatter(x=[datetime.fromtimestamp(t, UTC) for t, _ in points],
                        y=[None if v is None else v * scale for _, v in points],
                        mode="lines+markers" if len(points) < 20 else "lines", name=label)
    word = "<" if sig.better == "below" else ">"
    fig.add_hline(y=sig.threshold * scale, line_dash="dash", line_color="#d62728",
                  annotation_text=f"guide: {word} {sig.threshold * scale:g} {unit}")
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title=unit, xaxis_title="UTC", showlegend=len(entry.series) > 1)
    return fig


def current_signals(source: Source, *, timeout: float = 10.0) -> tuple[dict[str, float | None], dict[str, str],
                                                                         dict[str, float]]:
    """Now-values of every playbook signal, the reason for each missing one, and the switches seen."""
    opts = source.options
    evidence = evidence_options(opts.evidence)
    chosen = templates(evidence)
    queries = {key: render(opts.queries.get(key, SIGNALS[key].template), opts.window, opts.selector)
               for key in ("db_cpu", "error_rate", "p99_latency")}
    queries.update({key: render_probe(chosen[key], evidence, opts.window)
                    for key in ("db_connections", "replication_lag", "switches")})
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    switches: dict[str, float] = {}
    with _client(opts, timeout) as client:
        for key, query in queries.items():
            data, reason = _get(client, "/api/v1/query", {"query": query})
            result = (data or {}).get("result") or []
            if key == "switches":
                switches = {str(r["metric"].get("switch")): _number(r["value"][1]) or 0.0 for r in result}
                continue
            numbers = [n for r in result if (n := _number((r.get("value") or [None, None])[1])) is not None]
            values[key] = max(numbers) if numbers else None
            if values[key] is None:
                reasons[key] = reason or "no data"
    return values, reasons, switches


def playbook_states(source: Source, *, timeout: float = 10.0) -> list[PlaybookState]:
    """Every playbook judged on the source's live signals right now."""
    values, reasons, switches = current_signals(source, timeout=timeout)
    return [evaluate(book, values, reasons, switches) for book in PLAYBOOKS.values()]
