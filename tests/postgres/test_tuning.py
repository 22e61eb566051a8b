"""The guide's 3.1 rules generalised PGTune-style: the guide's host passes, others scale with RAM."""

from __future__ import annotations

import pytest

from checks.postgres import settings
from checks.postgres.tuning import GB, KB, MB, Host, parse_size, pg_value_bytes, rules
from scaleready.api import Snapshot, Status, Target

GUIDE = {  # guide 3.1 as pg_settings reports it (memory in the GUC's own unit)
    "shared_buffers": ("524288", "8kB"),
    "effective_cache_size": ("1572864", "8kB"),
    "maintenance_work_mem": ("1048576", "kB"),
    "work_mem": ("65536", "kB"),
    "random_page_cost": ("1.1", None),
    "max_connections": ("200", None),
}
CONFIG_CHECKS = [settings.shared_buffers, settings.effective_cache_size, settings.maintenance_work_mem, settings.work_mem,
                 settings.random_page_cost, settings.max_connections]


def snap(values: dict[str, tuple[str, str | None]], role_settings: list | None = None) -> Snapshot:
    settings = {k: {"setting": v, "unit": u, "source": "configuration file"} for k, (v, u) in values.items()}
    return Snapshot("pg", "postgres", data={"settings": settings, "role_settings": role_settings or []})


def target(**opts: object) -> Target:
    return Target("pg", "postgres", {"dsn": "postgresql://x@127.0.0.1/x", **opts})


def test_guide_values_pass_on_the_guides_host() -> None:
    s = snap(GUIDE)
    t = target(memory="16GB", storage="ssd", workload="web")
    for chk in CONFIG_CHECKS:
        outcomes = chk.evaluate(s, t)
        assert [o.status for o in outcomes] == [Status.PASS], (chk.id, [o.message for o in outcomes])
        ev = outcomes[0].evidence
        assert {"observed", "recommended", "why", "ratio"} <= ev.keys()


def test_same_values_fail_on_a_small_host() -> None:
    s = snap(GUIDE)
    t = target(memory="4GB", storage="hdd", workload="web")
    by_id = {c.id: c.evaluate(s, t)[0] for c in CONFIG_CHECKS}
    # 4GB shared_buffers on a 4GB machine is 100% of RAM: far off
    assert by_id["postgres.config.shared_buffers"].status == Status.FAIL
    assert by_id["postgres.config.shared_buffers"].evidence["recommended"] == "1GB"
    assert by_id["postgres.config.random_page_cost"].status == Status.FAIL  # 1.1 on spinning disks
    assert by_id["postgres.config.max_connections"].status == Status.PASS


def test_a_little_off_warns_and_far_off_fails() -> None:
    t = target(memory="16GB", storage="ssd")
    little = snap({**GUIDE, "shared_buffers": ("3GB", None), "random_page_cost": ("2", None)})
    far = snap({**GUIDE, "shared_buffers": ("128MB", None), "random_page_cost": ("4", None)})
    assert settings.shared_buffers.evaluate(little, t)[0].status == Status.WARN
    assert settings.random_page_cost.evaluate(little, t)[0].status == Status.WARN
    assert settings.shared_buffers.evaluate(far, t)[0].status == Status.FAIL
    out = settings.random_page_cost.evaluate(far, t)[0]
    assert out.status == Status.FAIL and out.evidence["observed"] == "4" and out.evidence["recommended"] == "1.1"


@pytest.mark.parametrize(
    ("host", "conns", "expected"),
    [
        # PGTune's current outputs for these hosts (web 4GB/2 CPUs; dw 128GB/40 CPUs, Linux)
        (Host(4 * GB, 2, "ssd", "web"), 200, {"shared_buffers": GB, "effective_cache_size": 3 * GB,
                                              "maintenance_work_mem": 256 * MB, "work_mem": 5041 * KB,
                                              "random_page_cost": 1.1}),
        (Host(128 * GB, 40, "ssd", "dw"), 40, {"shared_buffers": 32 * GB, "effective_cache_size": 96 * GB,
                                               "maintenance_work_mem": 8 * GB, "work_mem": 209715 * KB,
                                               "random_page_cost": 4}),
    ],
)
def test_matches_pgtune(host: Host, conns: int, expected: dict[str, int]) -> None:
    got = rules(host, conns)
    for name, value in expected.items():
        assert got[name].recommended == pytest.approx(value, rel=0.01), name


def test_workload_profiles_change_connections_and_memory() -> None:
    assert rules(Host(16 * GB, 8, "ssd", "oltp"), None)["max_connections"].recommended == 300
    assert rules(Host(16 * GB, 8, "ssd", "dw"), None)["max_connections"].recommended == 40
    dw = rules(Host(16 * GB, 8, "ssd", "dw"), 40)["maintenance_work_mem"].recommended
    web = rules(Host(16 * GB, 8, "ssd", "web"), 200)["maintenance_work_mem"].recommended
    assert dw == 2 * web
    assert rules(Host(256 * GB, 64, "ssd", "web"), 200)["maintenance_work_mem"].recommended == 8 * GB  # cap


def test_the_issues_hosts() -> None:
    """A 2 GB host never gets less than PostgreSQL's own 4MB; the guide's 64MB passes with 8+ CPUs;
    random_page_cost follows the data-warehouse workload."""
    assert rules(Host(2 * GB, 2, "ssd", "web"), 200)["work_mem"].recommended == 4 * MB
    s = snap(GUIDE)
    for cpus in (8, 16, 32):
        out = settings.work_mem.evaluate(s, target(memory="16GB", cpus=cpus, storage="ssd"))[0]
        assert out.status == Status.PASS, out.message
    dw = settings.random_page_cost.evaluate(s, target(memory="16GB", storage="ssd", workload="dw"))[0]
    assert dw.status == Status.FAIL and dw.evidence["recommended"] == "4"
    assert "data warehouse" in dw.remediation and "Set random_page_cost = 4" in dw.remediation


def test_missing_host_facts_skip_with_reason() -> None:
    s = snap(GUIDE)
    out = settings.shared_buffers.evaluate(s, target())[0]
    assert out.status == Status.SKIP and "memory" in out.message
    out = settings.random_page_cost.evaluate(s, target(memory=16))[0]
    assert out.status == Status.SKIP and "storage" in out.message


def test_overrides_per_database_and_role_are_judged() -> None:
    s = snap(GUIDE, [{"database": "shop", "role": "*", "settings": {"work_mem": "2GB"}},
                     {"database": "*", "role": "report", "settings": {"work_mem": "64MB"}}])
    outs = settings.work_mem.evaluate(s, target(memory="16GB"))
    by_subject = {o.subject: o for o in outs}
    assert by_subject["setting/work_mem@database=shop role=*"].status == Status.FAIL
    assert by_subject["setting/work_mem@database=* role=report"].status == Status.PASS


def test_sizes() -> None:
    assert parse_size("16GB") == parse_size("16 GiB") == parse_size(16) == 16 * GB
    assert parse_size("512MB") == 512 * MB
    with pytest.raises(ValueError):
        parse_size("lots")
    assert pg_value_bytes("65536", "kB") == 64 * MB
    assert pg_value_bytes("4GB", "8kB") == 4 * GB
    assert pg_value_bytes("16384", "8kB") == 128 * MB
