"""Property tests: whatever bytes or YAML the config, framework and scenario loaders get, the
answer is a loaded object or *one line* of the loader's own error naming the file, never a
traceback, in bounded time and memory.

Three kinds of input, from least to most structured: arbitrary bytes; YAML-ish text spliced
with the tokens hostile files use (anchors, aliases, tags, NULs, tabs, flow brackets); and
documents shaped like the real files (their real keys, values of every type) so validation
paths deep inside each loader are reached, not just the parser.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaleready.config import ConfigError, load_config
from scaleready.framework import FrameworkError, load_framework
from simulator.model import ScenarioError, load_scenario

LOADERS = {
    "config": (load_config, ConfigError),
    "framework": (load_framework, FrameworkError),
    "scenario": (load_scenario, ScenarioError),
}
MEMORY_LIMIT = 64 * 1024 * 1024
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

HOSTILE_TOKENS = ["&a ", "*a", "&b [*a, *a, *a]", "!!python/object:os.system ", "!!binary ", "!!set ", "!custom ",
                  "? ", "- ", ": ", "{", "}", "[", "]", "\t", "\x00", "\x1b", "\ufeff", "%YAML 1.1\n", "---\n",
                  "...\n", "<<: *a\n", "'", '"', "#", "|\n", ">-\n", "2026-02-30", "1e999", "0x", "~", "\\u0000",
                  "\n  " * 3, "9" * 5000]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
           | st.dates(min_value=dt.date(1, 1, 1)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12) | st.integers(), inner, max_size=4), max_leaves=25)

KEYS = {
    "config": ["version", "framework", "environment", "targets", "severity", "waivers", "name", "kind", "dsn",
               "url", "timeout", "active", "check", "reason", "expires", "manifests", "kubeconfig"],
    "framework": ["id", "title", "version", "areas", "phases", "items", "section", "area", "kind", "weight",
                  "checks", "remediation", "phase", "number", "params", "source", "description"],
    "scenario": ["users", "requests_per_user_s", "data_types", "endpoints", "app", "l1", "l2", "db", "targets",
                 "keys", "zipf", "l2_ttl_s", "weight", "data_type", "name", "instances", "replicas", "mean_ms"],
}


def shaped(kind: str) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(KEYS[kind])
    leaf = scalars | st.sampled_from(["postgres", "redis", "http", "auto", "manual", "caching", "1", "7.1"])
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(keys, inner, max_size=5), max_leaves=30)


@st.composite
def spliced_yaml(draw: st.DrawFn) -> bytes:
    text = yaml.safe_dump(draw(values), allow_unicode=True, sort_keys=False)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(HOSTILE_TOKENS)) + text[at:]
    return text.encode("utf-8", errors="surrogatepass")


def outcome(kind: str, path: Path, data: bytes) -> None:
    """Load ``data`` from ``path``: success, or one line of the loader's error naming the file."""
    load, error = LOADERS[kind]
    path.write_bytes(data)
    tracemalloc.start()
    try:
        load(path)
    except error as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        assert str(path) in message, message
        assert "Traceback" not in message
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak / 1e6:.0f} MB for {len(data)} bytes"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loader-properties")


@pytest.mark.parametrize("kind", sorted(LOADERS))
@PROPERTY
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes(kind: str, data: bytes, folder: Path) -> None:
    outcome(kind, folder / f"{kind}.yaml", data)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@PROPERTY
@given(data=spliced_yaml())
def test_yaml_spliced_with_hostile_tokens(kind: str, data: bytes, folder: Path) -> None:
    outcome(kind, folder / f"{kind}.yaml", data)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@PROPERTY
@given(data=st.data())
def test_documents_shaped_like_the_real_files(kind: str, data: st.DataObject, folder: Path) -> None:
    document = data.draw(shaped(kind))
    text = yaml.safe_dump(document, allow_unicode=True)
    outcome(kind, folder / f"{kind}.yaml", text.encode("utf-8", errors="surrogatepass"))


@pytest.mark.parametrize("kind", ["scenario"])
@PROPERTY
@given(document=shaped("scenario"))
def test_json_scenarios(kind: str, document: Any, folder: Path) -> None:
    import json

    outcome(kind, folder / "scenario.json", json.dumps(document, default=str).encode())
