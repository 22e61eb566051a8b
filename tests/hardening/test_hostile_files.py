"""Hostile files (alias bombs, deep nesting, NUL bytes, unhashable keys, bad dates, non-UTF-8)
are refused by every loader with one line naming the file and line, in bounded time and memory.

Each class is tried on all three loaders (config, framework, scenario) because they share one
guarded YAML reader; the memory bound is proven in a child process with a hard address-space
limit, so a regression fails as a refused allocation instead of exhausting the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaleready.cli import main
from scaleready.config import ConfigError, load_config
from scaleready.framework import FrameworkError, load_framework
from simulator.model import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parents[2]
LOADERS = {
    "config": (load_config, ConfigError),
    "framework": (load_framework, FrameworkError),
    "scenario": (load_scenario, ScenarioError),
}

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
    + ["targets: *i", ""]
)

HOSTILE = {
    # name: (file bytes, expected fragment, expected line or None)
    "alias bomb": (BILLION_LAUGHS.encode(), "expands to more than", None),
    "alias cycle": (b"a: &x [1, *x]\n", "refers to its own anchor", 1),
    "deep nesting": (b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nesting deeper than", 1),
    "deep through aliases": (
        "\n".join(["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 200)]).encode() + b"\n",
        "nesting deeper than", None),
    "NUL byte": (b"version: 1\nid: a\x00b\n", "control character #x0000", 2),
    "unhashable key": (b"version: 1\n? [a, b]\n: 1\n", "mapping key must be a plain value", 2),
    "flow unhashable key": (b"version: 1\nx: {[1]: 2}\n", "mapping key must be a plain value", 2),
    "impossible date": (b"version: 1\nwhen: 2026-02-30\n", "day is out of range", 2),
    "month 13": (b"version: 1\nwhen: 2026-13-01\n", "month must be in 1..12", 2),
    "non-UTF-8": (b"version: 1\n# caf\xe9\n", "not UTF-8", 2),
    "python tag": (b"version: 1\nx: !!python/object/apply:os.system [echo]\n", "unsupported YAML tag", 2),
    "binary tag": (b"version: 1\nx: !!binary aGVsbG8=\n", "unsupported value", 2),
    "duplicate key": (b"version: 1\nversion: 2\n", "duplicate key 'version' (first on line 1)", 2),
    "huge integer": (b"version: " + b"9" * 5000 + b"\n", "invalid value", 1),
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_is_one_line_naming_file_and_line(tmp_path: Path, loader: str, case: str) -> None:
    body, fragment, line = HOSTILE[case]
    load, error = LOADERS[loader]
    path = tmp_path / f"{loader}.yaml"
    path.write_bytes(body)
    started = time.perf_counter()
    with pytest.raises(error) as caught:
        load(path)
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    assert fragment in message, message
    if line is not None:
        assert f"{path}:{line}" in message, message


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_alias_bomb_is_refused_within_a_small_memory_limit(tmp_path: Path, loader: str) -> None:
    """The 700-byte bomb grew to 9.7 GB before; now it must be refused inside 600 MB of address space."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS.replace("lol", "lol" * 20))
    module, function = {"config": ("scaleready.config", "load_config"),
                        "framework": ("scaleready.framework", "load_framework"),
                        "scenario": ("simulator.model", "load_scenario")}[loader]
    code = textwrap.dedent(f"""
        import resource, sys
        import {module} as m
        resource.setrlimit(resource.RLIMIT_AS, (600 * 1024 * 1024, 600 * 1024 * 1024))
        try:
            m.{function}(sys.argv[1])
        except ValueError as exc:
            print(exc); sys.exit(1)
        except Exception as exc:  # the framework error is not a ValueError
            print(exc); sys.exit(1 if type(exc).__name__.endswith("Error") and "\\n" not in str(exc) else 9)
    """)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                            timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1, result.stderr[-2000:]
    assert "expands to more than" in result.stdout and str(path) in result.stdout
    assert time.perf_counter() - started < 30


def test_config_unknown_keys_list_every_accepted_key_and_suggest_the_closest(tmp_path: Path) -> None:
    cases = {
        "versoin: 1\n": ("did you mean 'version'?", "accepted: auth, environment, framework, project, roles"),
        "targets:\n  - name: a\n    kind: postgres\n    dns: x\n": ("did you mean 'dsn'?", "statement_timeout_ms"),
        "targets:\n  - name: a\n    kind: redis\n    timeuot: 3\n    url: redis://x\n": (
            "did you mean 'timeout'?", "accepted: active"),
        "waivers:\n  - check: x\n    reason: y\n    expire: 2026-01-01\n": ("did you mean 'expires'?", "subject"),
        "zzzz: 1\n": ("(accepted: auth, environment", "waivers"),
    }
    for text, fragments in cases.items():
        path = tmp_path / "c.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        for fragment in fragments:
            assert fragment in str(caught.value), str(caught.value)


def test_framework_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "fw.yaml"
    path.write_text(FRAMEWORK.replace("      - {check}\n", "") + "sorce: {}\n")
    with pytest.raises(FrameworkError, match=r"unknown key 'sorce' \(did you mean 'source'\?"):
        load_framework(path)


def test_invalid_waiver_date_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nwaivers:\n  - check: x\n    reason: y\n    expires: not-a-date\n")
    with pytest.raises(ConfigError, match=rf"^{path}:5: waivers\[0\]\.expires: "):
        load_config(path)
    path.write_text("version: 1\nwaivers:\n  - check: x\n    reason: y\n    expires: 2026-02-30\n")
    with pytest.raises(ConfigError, match=rf"^{path}:5:14: invalid value '2026-02-30'"):
        load_config(path)


def test_check_with_a_directory_or_a_bad_file_exits_1_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    for target, fragment in ((tmp_path, "is a directory"), (tmp_path / "missing.yaml", "no such config file")):
        result = runner.invoke(main, ["check", "-c", str(target), "--no-store"])
        assert result.exit_code == 1, result.output
        assert fragment in result.output and result.output.strip().count("\n") == 0, result.output


def test_missing_custom_framework_names_the_config_line_and_the_paths_tried(tmp_path: Path) -> None:
    config = tmp_path / "scaleready.yaml"
    config.write_text("version: 1\nframework: ./our-guide.yaml\ntargets: []\n")
    result = CliRunner().invoke(main, ["check", "-c", str(config), "--no-store"])
    assert result.exit_code == 1
    assert f"{config}:2: framework: framework './our-guide.yaml'" in result.output
    assert str(tmp_path / "our-guide.yaml") in result.output


FRAMEWORK = """\
id: team
title: Team
version: "1"
areas:
  - {id: caching, title: Caching, section: "2"}
items:
  - id: cache.ttl
    area: caching
    title: Keys expire
    kind: auto
    weight: 1
    checks:
      - redis.memory.maxmemory
      - {check}
    remediation: Set a TTL.
"""


def test_misspelt_check_id_is_an_error_naming_the_closest_id(tmp_path: Path) -> None:
    from scaleready.plugins import default_registry

    registry = default_registry()
    real = sorted(registry.checks)
    assert "redis.memory.maxmemory" in real or real, real
    known = next(c for c in real if c.startswith("redis."))
    misspelt = known[:-2] + known[-1] + known[-2]  # two letters swapped
    fw_path = tmp_path / "fw.yaml"
    fw_path.write_text(FRAMEWORK.replace("redis.memory.maxmemory", known).replace("{check}", misspelt))
    framework = load_framework(fw_path)
    with pytest.raises(FrameworkError) as caught:
        framework.verify_check_ids(registry.checks)
    message = str(caught.value)
    assert f"{fw_path}:14: item 'cache.ttl': unknown check id '{misspelt}' (did you mean '{known}'?)" == message
    config = tmp_path / "scaleready.yaml"
    config.write_text(f"version: 1\nframework: {fw_path}\ntargets: []\n")
    result = CliRunner().invoke(main, ["check", "-c", str(config), "--no-store"])
    assert result.exit_code == 1 and misspelt in result.output and known in result.output


def test_builtin_framework_names_only_installed_checks() -> None:
    from scaleready.plugins import default_registry

    load_framework(None).verify_check_ids(default_registry().checks)


def test_scenario_syntax_errors_keep_their_position(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("users: 10\nendpoints:\n  - name: a\n   weight: 1\n")
    with pytest.raises(ScenarioError, match=rf"^{path}:4:\d+: not valid YAML"):
        load_scenario(path)
    path = tmp_path / "s.json"
    path.write_text('{"users": 10,\n "endpoints": [}\n')
    with pytest.raises(ScenarioError, match=rf"^{path}:2:\d+: not valid JSON"):
        load_scenario(path)


def test_scenario_validation_error_names_the_line(tmp_path: Path) -> None:
    source = (REPO / "data" / "simulator" / "100k-users.yaml").read_text()
    path = tmp_path / "s.yaml"
    path.write_text(source + "bogus_key: 1\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    line = source.count("\n") + 1
    assert str(caught.value).startswith(f"{path}:{line}: bogus_key"), str(caught.value)
