"""Scenario loading: YAML, JSON, dicts and readable one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator import Scenario, ScenarioError, load_scenario

from .conftest import BASE, make

DATA = Path(__file__).resolve().parents[2] / "data" / "simulator"


def test_shipped_examples_load():
    files = sorted(DATA.glob("*.yaml")) + [f for f in sorted(DATA.glob("*.json")) if "schema" not in f.name]
    assert any(f.name == "100k-users.yaml" for f in files)
    for f in files:
        sc = load_scenario(f)
        assert sc.read_rate > 0 and sc.endpoints


def test_100k_scenario_is_what_it_says():
    sc = load_scenario(DATA / "100k-users.yaml")
    assert sc.users == 100_000 and sc.duration_s == 600
    assert sc.l1.ttl_s == 5
    assert {n: d.l2_ttl_s for n, d in sc.data_types.items()} == {"product": 3600, "session": 1800, "listing": 300}


def test_json_and_yaml_give_the_same_scenario(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps(BASE))
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE))
    assert load_scenario(tmp_path / "s.json") == load_scenario(tmp_path / "s.yaml") == Scenario.model_validate(BASE)


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.update(users=-5), "users"),
    (lambda d: d["data_types"]["product"].update(zipf=-1), "data_types.product.zipf"),
    (lambda d: d["endpoints"].append({"name": "x", "weight": 1, "data_type": "nope"}), "unknown data type 'nope'"),
    (lambda d: d.update(surprise=1), "surprise"),
    (lambda d: d.update(warmup_s=9999), "warmup_s"),
])
def test_bad_input_is_one_readable_line(tmp_path, mutate, needle):
    import copy

    data = copy.deepcopy(BASE)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg and str(path) in msg


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("users: [1, 2\n")
    with pytest.raises(ScenarioError, match="not valid"):
        load_scenario(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(tmp_path / "list.yaml")


def test_with_changes_validates_and_rejects_unknown_paths():
    sc = make(**{"db.replicas": 3, "l1.ttl_s": 10})
    assert sc.db.replicas == 3 and sc.l1.ttl_s == 10
    with pytest.raises(ScenarioError, match="unknown scenario field"):
        make(**{"db.nope": 1})


def test_zipf_exponent_zero_and_above_one_are_accepted():
    for s in (0.0, 0.5, 1.0, 1.7, 3.0):
        assert make(**{"data_types.product.zipf": s}).data_types["product"].zipf == s


def test_shipped_json_schema_is_current():
    """data/simulator/scenario.schema.json is what the model says (regenerate it after a change)."""
    shipped = json.loads((DATA / "scenario.schema.json").read_text())
    assert shipped == Scenario.model_json_schema()


def test_examples_validate_against_the_json_schema():
    import jsonschema
    import yaml

    schema = json.loads((DATA / "scenario.schema.json").read_text())
    for f in sorted(DATA.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
