"""Reads a Prometheus server (HTTP API) and a repository's rule files into a snapshot.

All requests go out at once over one async httpx client: the four guide 1.2 signals (an
instant value plus a short range for plotting), the guide 6.1 essential series, the loaded
rules and the scrape targets. Each part that fails is recorded per section, so one bad
override query or an unreachable server never hides the rest (rule files are still linted
when the server is down). Secrets (bearer token, basic-auth password, userinfo in the URL)
are used for the requests only and never written into the snapshot or a message.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import ssl
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, ValidationError, field_validator

from checks.prometheus.evidence import EvidenceOptions, collect_evidence
from checks.prometheus.queries import ESSENTIALS, SIGNALS, parse_duration, render
from checks.prometheus.results import instant_values, number
from checks.prometheus.rulefiles import parse_promtool, parse_rule_file
from scaleready.api import CollectError, ConfigPath, Snapshot, Target, TargetOptions, collector
from scaleready.faults import describe_failure, server_text

MAX_SERIES = 5
LIVE_SECTIONS = ("server", "slo", "rules", "targets", "essential", "evidence")
MAX_RULE_FILES = 200


class PrometheusOptions(TargetOptions):
    """Keys of a ``prometheus`` target."""

    url: str
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    window: str = "5m"
    selector: str = Field("", description="label matchers added to the API signals, e.g. job=\"web\"")
    queries: dict[str, str] = Field(default_factory=dict)
    essential: dict[str, list[str]] = Field(default_factory=dict)
    series_range: str = "1h"
    series_points: int = Field(30, ge=2, le=500)
    rule_files: list[ConfigPath] = Field(default_factory=list)
    promtool: str = "promtool"
    evidence: EvidenceOptions = Field(default_factory=EvidenceOptions)

    @field_validator("window", "series_range")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("queries")
    @classmethod
    def _known_signals(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; known: {sorted(SIGNALS)}")
        return value

    @field_validator("essential")
    @classmethod
    def _known_essentials(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(ESSENTIALS))
        if unknown:
            raise ValueError(f"unknown essential signal(s) {unknown}; known: {sorted(ESSENTIALS)}")
        return value


def public_url(url: str) -> str:
    """The URL without userinfo, query or fragment: safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ApiError(Exception):
    """One failed API call, already phrased for a finding."""


class Api:
    """The few Prometheus HTTP API calls the checks need."""

    def __init__(self, client: httpx.AsyncClient, shown: str) -> None:
        self.client = client
        self.shown = shown

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = await self.client.get(path, params=params)
        except httpx.TimeoutException:
            raise ApiError(f"Prometheus at {self.shown} timed out") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Prometheus at {self.shown}: {_why(exc)}") from None
        if response.status_code in (401, 403):
            raise ApiError(f"Prometheus at {self.shown} refused the credentials (HTTP {response.status_code})")
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                f"{self.shown}{path} answered HTTP {response.status_code} without JSON; is this Prometheus?"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            shown = server_text(error) if error else "unexpected answer"
            raise ApiError(f"{path} failed (HTTP {response.status_code}): {shown}")
        return body.get("data")

    async def instant(self, query: str) -> Any:
        return await self.get("/api/v1/query", {"query": query})

    async def range(self, query: str, start: float, end: float, step: float) -> Any:
        return await self.get("/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step})


def _why(exc: BaseException) -> str:
    return describe_failure(exc, "HTTP")


async def _signal(api: Api, key: str, opts: PrometheusOptions) -> dict[str, Any]:
    sig = SIGNALS[key]
    template = opts.queries.get(key, sig.template)
    query = render(template, opts.window, opts.selector)
    entry: dict[str, Any] = {
        "query": query, "window": opts.window, "unit": sig.unit, "threshold": sig.threshold,
        "overridden": key in opts.queries, "value": None, "values": [], "series": [], "reason": None,
    }
    end = time.time()
    span = parse_duration(opts.series_range)
    step = max(span / opts.series_points, 1.0)
    try:
        now, history = await asyncio.gather(
            api.instant(query), api.range(query, end - span, end, step)
        )
    except ApiError as exc:
        entry["reason"] = str(exc)
        return entry
    values = instant_values(now)
    finite = [v for v in values if v["value"] is not None]
    entry["values"] = values[:20]
    if finite:
        pick = max if sig.worst == "max" else min
        worst = pick(finite, key=lambda v: v["value"])
        entry["value"], entry["labels"] = worst["value"], worst["labels"]
    elif values:
        entry["reason"] = "the query returned NaN (no traffic in the window?)"
    else:
        entry["reason"] = "the query returned no series (metric missing or named differently?)"
    for item in (history or {}).get("result") or []:
        points = [[float(t), number(v)] for t, v in item.get("values") or []]
        entry["series"].append({"labels": item.get("metric") or {}, "points": points})
        if len(entry["series"]) >= MAX_SERIES:
            break
    entry["series_step"] = step
    return entry


async def _essential(api: Api, key: str, opts: PrometheusOptions) -> dict[str, Any]:
    selectors = opts.essential.get(key) or list(ESSENTIALS[key].selectors)
    query = "group by (__name__) (" + " or ".join(selectors) + ")"
    try:
        data = await api.instant(query)
    except ApiError as exc:
        return {"selectors": selectors, "found": [], "reason": str(exc)}
    names = sorted({v["labels"].get("__name__", "?") for v in instant_values(data)})
    return {"selectors": selectors, "found": names, "reason": None}


def _rule_groups(data: Any) -> list[dict[str, Any]]:
    groups = []
    for group in (data or {}).get("groups") or []:
        rules = []
        for rule in group.get("rules") or []:
            rules.append({
                "name": rule.get("name"),
                "type": rule.get("type"),
                "query": rule.get("query"),
                "health": rule.get("health"),
                "last_error": server_text(rule.get("lastError")) or None,
                "state": rule.get("state"),
                "for_seconds": rule.get("duration"),
                "labels": rule.get("labels") or {},
                "annotations": rule.get("annotations") or {},
                "firing": sum(1 for a in rule.get("alerts") or [] if a.get("state") == "firing"),
            })
        groups.append({"name": group.get("name"), "file": group.get("file"), "rules": rules})
    return groups


def _targets(data: Any) -> list[dict[str, Any]]:
    out = []
    for target in (data or {}).get("activeTargets") or []:
        labels = target.get("labels") or {}
        out.append({
            "job": labels.get("job") or target.get("scrapePool"),
            "instance": labels.get("instance"),
            "scrape_url": public_url(target.get("scrapeUrl") or ""),
            "health": target.get("health"),
            "last_error": server_text(target.get("lastError")) or None,
            "last_scrape": target.get("lastScrape"),
        })
    return out


def _expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """Every file the patterns match (deduplicated, in order) and the patterns that matched none."""
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = [p for ext in ("yml", "yaml") for p in glob.glob(os.path.join(pattern, "**", f"*.{ext}"),
                                                                     recursive=True)]
        else:
            found = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
        if not found:
            unmatched.append(pattern)
        files.extend(p for p in sorted(found) if p not in files)
    return files, unmatched


async def _promtool(binary: str, path: str) -> dict[str, Any]:
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, "check", "rules", path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return {"ran": False, "ok": None, "problems": [], "reason": f"cannot run promtool: {exc.strerror}"}
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"ran": False, "ok": None, "problems": [], "reason": "promtool timed out after 30s"}
    text = (out + b"\n" + err).decode(errors="replace")
    ok = proc.returncode == 0
    problems = [] if ok else parse_promtool(text)
    return {"ran": True, "ok": ok, "problems": problems, "reason": None}


async def _rule_files(opts: PrometheusOptions) -> dict[str, Any]:
    section: dict[str, Any] = {"configured": bool(opts.rule_files), "patterns": list(opts.rule_files),
                               "files": [], "unmatched": [], "promtool": None, "matched": 0,
                               "limit": MAX_RULE_FILES, "left_out": 0, "left_out_sample": []}
    if not opts.rule_files:
        return section
    files, section["unmatched"] = _expand(opts.rule_files)
    # A bound on promtool runs per target; the files beyond it are named, so the check can say
    # they were not looked at instead of passing them silently.
    section["matched"] = len(files)
    section["left_out"] = max(0, len(files) - MAX_RULE_FILES)
    section["left_out_sample"] = files[MAX_RULE_FILES:MAX_RULE_FILES + 20]
    files = files[:MAX_RULE_FILES]
    binary = shutil.which(opts.promtool)
    section["promtool"] = {"available": binary is not None,
                           "reason": None if binary else f"'{opts.promtool}' not found on PATH"}
    limit = asyncio.Semaphore(4)

    async def one(path: str) -> dict[str, Any]:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            return {"path": path, "read_error": str(exc), "groups": [], "parse_error": None, "promtool": None}
        parsed = parse_rule_file(text)
        result = None
        if binary:
            async with limit:
                result = await _promtool(binary, path)
        return {"path": path, "read_error": None, **parsed, "promtool": result}

    section["files"] = list(await asyncio.gather(*(one(p) for p in files)))
    return section


async def _live(opts: PrometheusOptions, timeout: float) -> tuple[dict[str, Any], dict[str, str]]:
    shown = public_url(opts.url)
    auth: httpx.Auth | None = None
    headers = {"Accept": "application/json"}
    if opts.bearer_token:
        headers["Authorization"] = f"Bearer {opts.bearer_token}"
    elif opts.username is not None:
        auth = httpx.BasicAuth(opts.username, opts.password or "")
    parts = urlsplit(opts.url)
    if parts.username and auth is None and not opts.bearer_token:
        auth = httpx.BasicAuth(parts.username, parts.password or "")
    verify: Any = opts.verify_tls
    if opts.verify_tls and opts.ca_file:
        try:
            verify = ssl.create_default_context(cafile=opts.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise CollectError(f"cannot load ca_file {opts.ca_file!r}: {exc.strerror or exc}") from None
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=shown.rstrip("/"), auth=auth, headers=headers, verify=verify,
                                 timeout=httpx.Timeout(timeout)) as client:
        api = Api(client, shown)
        try:
            build = await api.get("/api/v1/status/buildinfo")
        except ApiError as exc:
            return {}, dict.fromkeys(LIVE_SECTIONS, str(exc))
        data["server"] = {"url": shown, "version": (build or {}).get("version"), "window": opts.window,
                          "selector": opts.selector or None}
        signals = asyncio.gather(*(_signal(api, k, opts) for k in SIGNALS))
        essentials = asyncio.gather(*(_essential(api, k, opts) for k in ESSENTIALS))
        results = await asyncio.gather(
            signals, essentials, api.get("/api/v1/rules"), api.get("/api/v1/targets", {"state": "active"}),
            collect_evidence(api, opts.evidence, opts.window), return_exceptions=True,
        )
    sig_res, ess_res, rules, targets, evidence = results
    if isinstance(sig_res, BaseException):
        errors["slo"] = str(sig_res)
    else:
        data["slo"] = dict(zip(SIGNALS, sig_res, strict=True))
    if isinstance(ess_res, BaseException):
        errors["essential"] = str(ess_res)
    else:
        data["essential"] = dict(zip(ESSENTIALS, ess_res, strict=True))
    if isinstance(rules, BaseException):
        errors["rules"] = str(rules)
    else:
        data["rules"] = {"groups": _rule_groups(rules)}
    if isinstance(targets, BaseException):
        errors["targets"] = str(targets)
    else:
        data["targets"] = {"active": _targets(targets)}
    if isinstance(evidence, BaseException):
        errors["evidence"] = str(evidence)
    else:
        data["evidence"] = evidence
    return data, errors


@collector("prometheus", options=PrometheusOptions)
async def collect(target: Target) -> Snapshot:
    """Prometheus HTTP API (SLO signals, rules, targets, essential series) plus rule files via promtool."""
    try:
        opts = PrometheusOptions.model_validate(dict(target.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid prometheus target option '{where}': {first.get('msg')}") from None
    if not urlsplit(opts.url).scheme.startswith("http"):
        raise CollectError(f"prometheus url must start with http:// or https:// (got {public_url(opts.url)!r})")
    per_request = max(1.0, min(10.0, float(target.timeout) / 3))
    (data, errors), files = await asyncio.gather(_live(opts, per_request), _rule_files(opts))
    if set(errors) == set(LIVE_SECTIONS) and not opts.rule_files:
        raise CollectError(errors["server"])  # nothing at all was read: the whole collection failed
    data["rule_files"] = files
    return Snapshot(target=target.name, kind=target.kind, data=data, errors=errors)
