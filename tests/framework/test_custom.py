"""Custom framework files: a valid one loads from a path; broken ones give one readable error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scaleready.framework import FrameworkError, load_framework

VALID = """\
id: team-checklist
title: Team checklist
version: "2"
areas:
  - {id: caching, title: Caching, section: "2"}
  - {id: roadmap, title: Roadmap, section: "8"}
phases:
  - {number: 1, title: Now, weeks: "Week 1"}
items:
  - id: cache.ttl
    area: caching
    section: "2.2"
    title: Keys expire
    kind: auto
    weight: 2
    checks: [redis.ttl_policy]
    params: {ttl_seconds: 60}
    remediation: Set a TTL on every key.
  - id: roadmap.p1.redis
    area: roadmap
    phase: 1
    title: Redis in front of the DB
    kind: manual
    weight: 1
    remediation: Add Redis.
"""


def write(tmp_path: Path, text: str, name: str = "fw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_error(tmp_path: Path, text: str) -> FrameworkError:
    path = write(tmp_path, text)
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    err = info.value
    message = str(err)
    assert str(path) in message
    assert "\n" not in message
    assert "Traceback" not in message
    return err


def test_custom_framework_loads_from_a_path(tmp_path):
    path = write(tmp_path, VALID)
    fw = load_framework(path)
    assert fw.id == "team-checklist"
    assert fw.version == "2"
    assert fw.path == path
    assert [i.id for i in fw.items] == ["cache.ttl", "roadmap.p1.redis"]
    item = fw.item("cache.ttl")
    assert (item.kind, item.weight, item.checks, item.params) == (
        "auto",
        2.0,
        ("redis.ttl_policy",),
        {"ttl_seconds": 60},
    )
    # an item without a section inherits its area's section
    assert fw.item("roadmap.p1.redis").section == "8"
    assert fw.item("roadmap.p1.redis").checks == ()
    assert fw.items_for_check("redis.ttl_policy") == (item,)
    assert fw.check_ids() == ("redis.ttl_policy",)
    # loading by str path works too and is not the cached built-in
    assert load_framework(str(path)).id == "team-checklist"
    assert load_framework().id == "scaling-guide"


def test_missing_key_names_item_key_and_line(tmp_path):
    err = load_error(tmp_path, VALID.replace("    remediation: Set a TTL on every key.\n", ""))
    assert err.item == "item 'cache.ttl'"
    assert "missing required key 'remediation'" in str(err)
    assert err.line == 10  # the '- id: cache.ttl' line


def test_missing_top_level_key(tmp_path):
    err = load_error(tmp_path, VALID.replace('version: "2"\n', ""))
    assert "missing required key 'version'" in str(err)
    assert err.item is None


def test_bad_kind(tmp_path):
    err = load_error(tmp_path, VALID.replace("kind: auto", "kind: sometimes"))
    assert err.item == "item 'cache.ttl'"
    assert err.line == 14
    assert "'kind' must be one of auto, manual, both" in str(err)
    assert '"sometimes"' in str(err)


def test_duplicate_item_id(tmp_path):
    err = load_error(tmp_path, VALID.replace("id: roadmap.p1.redis", "id: cache.ttl"))
    assert "duplicate item id 'cache.ttl' (first defined on line 10)" in str(err)
    assert err.line == 19


def test_unknown_area(tmp_path):
    err = load_error(tmp_path, VALID.replace("area: caching", "area: cachin"))
    assert "unknown area 'cachin'" in str(err)
    assert "caching, roadmap" in str(err)
    assert err.line == 11


def test_roadmap_item_needs_a_known_phase(tmp_path):
    err = load_error(tmp_path, VALID.replace("    phase: 1\n", ""))
    assert "roadmap items need a 'phase'" in str(err)
    assert err.item == "item 'roadmap.p1.redis'"
    err = load_error(tmp_path, VALID.replace("    phase: 1\n", "    phase: 3\n"))
    assert "unknown phase 3 (phases: 1)" in str(err)
    assert err.line == 21


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("id: x\nitems: [\n  {id: a\n", 4, "malformed YAML"),
        ("id: x\ntitle: a\n  bad: indent\n", 3, "malformed YAML"),
        ("id: x\ntitle: a\ntitle: b\n", 3, "duplicate key 'title'"),
    ],
)
def test_malformed_yaml(tmp_path, text, line, fragment):
    err = load_error(tmp_path, text)
    assert fragment in str(err)
    assert err.line == line


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("weight: 2", "weight: 0", "'weight' must be > 0"),
        ("weight: 2", "weight: heavy", "'weight' must be a number"),
        ('section: "2.2"', "section: 2.2", 'quote section numbers, e.g. "7.1"'),
        ("checks: [redis.ttl_policy]", "checks: []", "kind auto/both needs at least one check id"),
        ("checks: [redis.ttl_policy]", "checks: [Redis TTL]", "lower-case dotted words"),
        ("params: {ttl_seconds: 60}", "parms: {ttl_seconds: 60}", "unknown key 'parms'"),
        ("id: cache.ttl", "id: Cache-TTL", "lower-case dotted words"),
    ],
)
def test_schema_violations_are_one_readable_line(tmp_path, old, new, fragment):
    assert old in VALID
    err = load_error(tmp_path, VALID.replace(old, new, 1))
    assert fragment in str(err)
    assert err.line is not None and 10 <= err.line <= 18


def test_unknown_key_points_at_that_key(tmp_path):
    err = load_error(tmp_path, VALID.replace("params: {ttl_seconds: 60}", "parms: {ttl_seconds: 60}"))
    assert err.line == 17


def test_not_a_mapping_empty_and_missing_files(tmp_path):
    assert "got a list" in str(load_error(tmp_path, "- a\n- b\n"))
    assert "got an empty file" in str(load_error(tmp_path, ""))
    with pytest.raises(FrameworkError, match="not found"):
        load_framework(tmp_path / "nope.yaml")


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    text = VALID.replace("kind: auto", "kind: bogus").replace("kind: manual", "kind: nope")
    err = load_error(tmp_path, text)
    assert err.item == "item 'cache.ttl'"
    assert "(and 1 more problem)" in str(err)
