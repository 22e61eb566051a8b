"""Engine behaviour under hostile collectors and checks, with a registry built in the test."""

from __future__ import annotations

import asyncio
import time

from scaleready.api import (
    CollectError,
    Snapshot,
    Status,
    Target,
    TargetOptions,
    check,
    collector,
    failed,
    passed,
)
from scaleready.engine import Policy, Waiver, collect_all, collect_one, evaluate
from scaleready.plugins import Registry
from scaleready.secrets import Redactor


class EchoOptions(TargetOptions):
    mode: str = "ok"
    dsn: str = ""


@collector("echo", options=EchoOptions)
async def collect_echo(target):
    mode = target.options["mode"]
    if mode == "hang":
        while True:  # ignores nothing, just never finishes
            await asyncio.sleep(3600)
    if mode == "refuse":
        raise CollectError("connection refused at 127.0.0.1:1")
    if mode == "crash":
        raise KeyError("boom")
    if mode == "partial":
        return Snapshot(target.name, "echo", data={"a": 1}, errors={"b": "permission denied for pg_stat_statements"})
    await asyncio.sleep(0.2)
    return {"a": 1, "b": 2, "dsn": target.options["dsn"]}


@check("echo.a", kind="echo", title="a is one")
def check_a(snap, target):
    return passed("a is 1") if snap.section("a") == 1 else failed("a is not 1")


@check("echo.b", kind="echo", title="b is two")
def check_b(snap, target):
    return passed("b") if snap.section("b") == 2 else failed("b")


@check("echo.buggy", kind="echo", title="a buggy check")
def check_buggy(snap, target):
    return 1 / 0


def registry() -> Registry:
    reg = Registry()
    import sys

    reg.add_module(sys.modules[__name__], "test", "0")
    return reg


def target(name: str, mode: str, timeout: float = 5, dsn: str = "") -> Target:
    return Target(name, "echo", {"mode": mode, "dsn": dsn}, timeout=timeout)


def test_concurrent_collection_with_a_hanging_target_finishes_on_its_timeout():
    reg = registry()
    targets = [target(f"t{i}", "ok") for i in range(20)] + [target("stuck", "hang", timeout=0.5)]
    started = time.perf_counter()
    snaps = asyncio.run(collect_all(targets, reg))
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, elapsed  # 20 x 200 ms collectors ran concurrently, the hang was cut at 0.5 s
    assert [s.error for s in snaps[:20]] == [None] * 20
    assert snaps[-1].error == "timed out after 0.5s"


def test_statuses_for_refused_crashed_partial_and_buggy():
    reg = registry()
    by_case = {}
    for mode in ("ok", "refuse", "crash", "partial"):
        t = target(mode, mode)
        by_case[mode] = {f.check: f for f in evaluate(collect_one(t, reg), t, reg)}
    assert by_case["ok"]["echo.a"].status == Status.PASS
    assert by_case["ok"]["echo.buggy"].status == Status.ERROR
    assert "ZeroDivisionError" in by_case["ok"]["echo.buggy"].message
    assert by_case["refuse"]["echo.a"].message == "could not collect from refuse: connection refused at 127.0.0.1:1"
    assert by_case["crash"]["echo.a"].status == Status.ERROR and "KeyError" in by_case["crash"]["echo.a"].message
    assert by_case["partial"]["echo.a"].status == Status.PASS
    assert by_case["partial"]["echo.b"].status == Status.ERROR
    assert "permission denied for pg_stat_statements" in by_case["partial"]["echo.b"].message


def test_unknown_kind_is_an_error_snapshot():
    snap = collect_one(Target("x", "nosuchkind"), registry())
    assert snap.error == "no collector is installed for target kind 'nosuchkind'"


def test_secrets_are_scrubbed_from_snapshots():
    reg = registry()
    t = target("db", "ok", dsn="postgresql://app:s3cr3t-pw@db:5432/app")
    snap = asyncio.run(collect_all([t], reg, Redactor(["s3cr3t-pw"])))[0]
    assert "s3cr3t-pw" not in snap.canonical()
    assert snap.data["dsn"] == "postgresql://app:***@db:5432/app"


def test_policy_globs_and_waiver_scope():
    reg = registry()
    t = Target("bad", "echo", {"mode": "ok", "dsn": ""})
    snap = collect_one(t, reg)
    snap.data["a"] = 5
    policy = Policy(severity={"echo.*": "danger"}, waivers=[Waiver("echo.a", "known", target="other")])
    findings = {f.check: f for f in evaluate(snap, t, reg, policy)}
    assert findings["echo.a"].status == Status.FAIL
    assert findings["echo.a"].severity == "danger" and not findings["echo.a"].waived
    policy = Policy(waivers=[Waiver("echo.a", "known", target="bad")])
    assert {f.check: f for f in evaluate(snap, t, reg, policy)}["echo.a"].waived


def test_snapshot_hash_is_stable_and_content_addressed():
    snap = Snapshot("t", "echo", data={"b": 1, "a": [1, 2]})
    again = Snapshot.from_json(snap.to_json())
    assert again.sha256 == snap.sha256
    again.data["a"].append(3)
    assert again.sha256 != snap.sha256
