"""Sharded runs on a real PostgreSQL store: 200 targets as 4 shard processes equal the unsharded run.

Every run here is the CLI in separate processes, the way Kubernetes Jobs run it: the shards
start together on an empty database (so they also race on the schema migration and on the
merge), and the merged run is compared with an unsharded run of the same config in a second
database that has the same tick and waiver.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scaleready.runner import resolve_framework
from scaleready.shard_store import shard_status
from scaleready.shards import Shard, run_id_for
from scaleready.store import Store
from tests.team.conftest import REPO, cli_env, scaleready, scaleready_background

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MANIFEST_DIRS = ["cart-service", "legacy-worker", "product-service", "platform", "base"]
N_TARGETS = 200


def two_hundred_targets(folder: Path) -> Path:
    """200 targets of three shapes: manifests with real findings (five different app folders),
    HTTP endpoints nobody listens on (error findings) and a secret that is not set (error)."""
    targets = []
    for i in range(N_TARGETS):
        if i % 10 < 7:
            targets.append({"name": f"k8s-{i:03d}", "kind": "kubernetes",
                            "manifests": [str(REPO / "data/demo/k8s" / MANIFEST_DIRS[i % len(MANIFEST_DIRS)])]})
        elif i % 10 < 9:
            targets.append({"name": f"api-{i:03d}", "kind": "http", "url": "http://127.0.0.1:9/", "timeout": 120})
        else:
            targets.append({"name": f"vault-{i:03d}", "kind": "http", "url": "${H15_NEVER_SET_URL}"})
    path = folder / "scaleready.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "environment": "production", "targets": targets}))
    return path


def prepare(url: str) -> None:
    """The same person-made state in each store: a manual tick and a stored waiver."""
    store = Store(url)
    framework = resolve_framework(None)
    manual = next(i for i in framework.items if i.kind == "manual")
    store.set_item_state(framework.id, manual.id, "done", "alice@example.com", "runbook reviewed")
    store.add_waiver("kubernetes.chaos", "chaos drills start next quarter", "alice@example.com")


def finding_keys(run) -> list[str]:
    """Every field of every finding, except the snapshot hash in the evidence: a snapshot is
    hashed with its collection time, which two runs never share."""
    keys = []
    for f in run.findings:
        doc = f.to_json()
        doc["evidence"] = {k: v for k, v in doc["evidence"].items() if k != "snapshot"}
        keys.append(json.dumps(doc, sort_keys=True, default=str))
    return sorted(keys)


def test_shard_spec_parsing_and_assignment() -> None:
    assert Shard.parse(" 2/4 ") == Shard(2, 4)
    for bad in ("0/4", "5/4", "2", "a/b", "1/0", ""):
        with pytest.raises(ValueError, match="--shard"):
            Shard.parse(bad)
    owners = [[s for s in range(1, 5) if Shard(s, 4).owns(i)] for i in range(N_TARGETS)]
    assert all(len(o) == 1 for o in owners)  # every target in exactly one shard
    assert [sum(1 for o in owners if o == [s]) for s in range(1, 5)] == [50, 50, 50, 50]
    assert run_id_for("nightly-1", "production") == run_id_for("nightly-1", "production")
    assert run_id_for("nightly-1", "production") != run_id_for("nightly-1", "staging")


def test_four_shards_merge_into_the_unsharded_run(tmp_path: Path, fresh_pg) -> None:
    config = two_hundred_targets(tmp_path)
    whole_url, sharded_url = fresh_pg(), fresh_pg()
    prepare(whole_url)

    whole = scaleready("check", "-c", str(config), "-f", "json", "-o", str(tmp_path / "whole.json"),
                       env=cli_env(whole_url))
    assert whole.returncode == 3, whole.stderr  # danger findings in the demo manifests

    # The four shards start at once and race on the merge (the row lock orders them).
    prepare(sharded_url)
    env = cli_env(sharded_url, SCALEREADY_RUN_KEY="nightly-2026-11-30")
    procs = [scaleready_background("check", "-c", str(config), "--shard", f"{i}/4", "-f", "json",
                                   "-o", str(tmp_path / f"shard{i}.json"), env=env) for i in range(1, 5)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode in (0, 3), err
        assert "finding(s) stored" in err

    expected = Store(whole_url).load_run("latest")
    store = Store(sharded_url)
    assert len(store.runs()) == 1  # the dashboard and `runs` see one run
    merged = store.load_run(run_id_for("nightly-2026-11-30", "production"))
    assert len(merged.findings) == len(expected.findings) > N_TARGETS
    assert finding_keys(merged) == finding_keys(expected)
    # The two stores got the same tick (who, state, why) a few seconds apart: only its time differs.
    merged_card, expected_card = _without_tick_times(merged.score.to_json()), _without_tick_times(
        expected.score.to_json())
    assert merged_card == expected_card, _first_difference(merged_card, expected_card)
    assert (merged.score.overall, merged.score.coverage, merged.score.level) == (
        expected.score.overall, expected.score.coverage, expected.score.level)
    assert any(f.waived for f in merged.findings)  # the store's waiver reached every shard
    assert sorted((s.target, s.kind, s.error) for s in merged.snapshots) == sorted(
        (s.target, s.kind, s.error) for s in expected.snapshots)

    status = shard_status(store, merged.id)
    assert status is not None and status.complete and status.present == [1, 2, 3, 4]
    assert scaleready("shards", "--run", merged.id, env=env).returncode == 0
    assert sum(1 for _out, err in outputs if ", complete" in err) == 1  # exactly one shard completed it
    actions = [(e.action, json.loads(e.details_json).get("shard")) for e in store.audit_log()]
    assert sorted(s for a, s in actions if a == "run.shard_stored") == ["1/4", "2/4", "3/4", "4/4"]
    assert sum(1 for a, _ in actions if a == "run.stored") == 1


def test_shards_starting_together_on_an_empty_database_migrate_once(fresh_pg) -> None:
    """Jobs of a first deployment open a store nobody has migrated yet, all at the same moment."""
    env = cli_env(fresh_pg())
    procs = [scaleready_background("runs", env=env) for _ in range(4)]
    results = [(p, *p.communicate(timeout=120)) for p in procs]
    assert all(p.returncode == 0 for p, _out, _err in results), [err for _p, _out, err in results]


def test_a_missing_shard_leaves_the_run_incomplete(tmp_path: Path, fresh_pg) -> None:
    config = two_hundred_targets(tmp_path)
    url = fresh_pg()
    env = cli_env(url, SCALEREADY_RUN_KEY="nightly-missing-3")
    for i in (1, 2, 4):
        done = scaleready("check", "-c", str(config), "--shard", f"{i}/4", "-f", "json", env=env)
        assert done.returncode in (0, 3), done.stderr
    assert "INCOMPLETE: shard(s) 3 missing, 50 target(s) unknown" in done.stderr

    store = Store(url)
    status = shard_status(store, "latest")
    assert status is not None and not status.complete and status.missing == [3]
    targets = yaml.safe_load(config.read_text())["targets"]
    assert status.unknown_targets == [t["name"] for i, t in enumerate(targets) if i % 4 == 2]
    run = store.load_run("latest")
    assert not {f.target for f in run.findings} & set(status.unknown_targets)  # nobody looked: no verdict

    report = scaleready("shards", env=env)
    assert report.returncode == 5
    assert "INCOMPLETE" in report.stdout and "shard(s) 3 missing" in report.stdout

    again = scaleready("check", "-c", str(config), "--shard", "2/4", env=env)
    assert again.returncode == 1 and "shard 2/4 of run" in again.stderr and "already stored" in again.stderr
    wrong = scaleready("check", "-c", str(config), "--shard", "1/5", env=env)
    assert wrong.returncode == 1 and "has 4 shards" in wrong.stderr
    no_key = scaleready("check", "-c", str(config), "--shard", "1/4",
                        env={k: v for k, v in env.items() if k != "SCALEREADY_RUN_KEY"})
    assert no_key.returncode == 1 and "--run-key" in no_key.stderr

    # The late shard arrives: the run completes and its score can only rise in coverage.
    before = run.score.coverage
    late = scaleready("check", "-c", str(config), "--shard", "3/4", env=env)
    assert late.returncode in (0, 3), late.stderr
    assert ", complete" in late.stderr
    assert shard_status(store, "latest").complete
    assert store.load_run("latest").score.coverage >= before


def _without_tick_times(card: dict) -> dict:
    for area in card.get("areas", []):
        for item in area.get("items", []):
            if isinstance(item.get("tick"), dict):
                item["tick"].pop("at", None)
    return card


def _first_difference(a: object, b: object, path: str = "score") -> str:
    """Where two JSON documents first differ, for a readable assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r} != {b!r}"

