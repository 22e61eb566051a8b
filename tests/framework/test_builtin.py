"""The built-in scaling-guide framework: it validates and encodes every section of the guide."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from scaleready.framework import Framework, default_framework_path, load_framework, schema_path
from scaleready.paths import data_dir

# The item ids other helpers' checks reference (briefs/common.md); the file must use exactly these.
_EXPECTED_IDS_TEXT = """
metrics.p99_latency metrics.error_rate metrics.db_cpu metrics.cache_hit_ratio
cache.tiered cache.rule.product_details cache.rule.user_sessions cache.rule.product_listings
db.shared_buffers db.effective_cache_size db.maintenance_work_mem db.work_mem db.random_page_cost
db.max_connections db.read_replicas comm.circuit_breaker comm.outbox deploy.gitops deploy.canary
monitoring.metrics.api monitoring.metrics.database monitoring.metrics.cache monitoring.metrics.infrastructure
monitoring.alert.high_error_rate security.mtls security.jwt security.rate_limiting security.sql_injection
security.secrets_encryption security.audit.pentest security.audit.dependency_scanning
security.audit.log_analysis roadmap.p1.index_optimization roadmap.p1.redis_caching
roadmap.p1.api_standardization roadmap.p2.circuit_breakers roadmap.p2.read_replicas
roadmap.p2.structured_logging roadmap.p3.autoscaling roadmap.p3.event_driven roadmap.p3.distributed_tracing
roadmap.p4.cost_monitoring roadmap.p4.chaos_engineering roadmap.p4.regional_failover cost.autoscaling_buffer
cost.cache_warming cost.spot_batch cost.reserved_db cost.alert.compute cost.alert.storage cost.alert.transfer
emergency.db_overload emergency.api_degradation
"""
EXPECTED_IDS = _EXPECTED_IDS_TEXT.split()

# Check ids from issues 3 (postgres, redis), 4 (prometheus, kubernetes, gitops), the HTTP helper and
# issue 14 (live evidence: breakers, outbox, logs, tracing, cost, playbooks, TLS from outside).
_KNOWN_CHECKS_TEXT = """
postgres.config.shared_buffers postgres.config.effective_cache_size postgres.config.maintenance_work_mem
postgres.config.work_mem postgres.config.random_page_cost postgres.config.max_connections
postgres.indexes.missing postgres.indexes.unused postgres.indexes.duplicate postgres.indexes.invalid
postgres.cache_hit_ratio postgres.connections.usage postgres.queries.long_running postgres.queries.slow
postgres.vacuum.wraparound postgres.sequences.exhaustion postgres.replication.replicas
postgres.replication.lag postgres.replication.slots
redis.hit_ratio redis.maxmemory redis.eviction_policy redis.evictions redis.fragmentation redis.slowlog
redis.clients redis.ttl_policy
prometheus.slo.p99_latency prometheus.slo.error_rate prometheus.slo.db_cpu prometheus.slo.cache_hit_ratio
prometheus.rules.high_error_rate prometheus.rules.health prometheus.rules.burn_rate prometheus.targets.up
prometheus.metrics.essential prometheus.rules.files
kubernetes.replicas.min kubernetes.hpa.present kubernetes.hpa.buffer kubernetes.pdb.present
kubernetes.resources.requests kubernetes.resources.limits kubernetes.probes.readiness
kubernetes.probes.liveness kubernetes.spread kubernetes.references kubernetes.canary kubernetes.mtls
kubernetes.network_policy.default_deny kubernetes.secrets.plaintext kubernetes.secrets.external
kubernetes.tracing kubernetes.chaos kubernetes.regions
gitops.deploy_workflow gitops.dependency_scanning
http.health http.latency http.problem_json http.metrics_endpoint http.rate_limit http.jwt
http.sql_injection http.security_headers
prometheus.breakers.exported prometheus.breakers.stuck_open prometheus.breakers.alerted
prometheus.events.consumer_lag prometheus.tracing.spans prometheus.logs.analysis prometheus.cost.metrics
prometheus.cost.compute_growth prometheus.cost.storage_growth prometheus.cost.transfer prometheus.cache.warming
prometheus.playbook.db_overload prometheus.playbook.api_degradation postgres.outbox.backlog postgres.outbox.stuck
kubernetes.cost.spot_batch logs.structured logs.fields logs.trace_propagation tls.version tls.chain tls.expiry tls.hsts tls.mtls
"""
KNOWN_CHECKS = set(_KNOWN_CHECKS_TEXT.split())


@pytest.fixture(scope="module")
def fw() -> Framework:
    return load_framework()


def test_data_dir_holds_the_bundled_files():
    assert (data_dir() / "frameworks" / "scaling-guide.yaml").is_file()
    assert default_framework_path().is_file()
    assert schema_path().is_file()


def test_builtin_file_validates_against_the_published_schema():
    schema = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = yaml.safe_load(default_framework_path().read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)


def test_builtin_load_is_cached_and_the_default_path_maps_to_it(fw):
    assert load_framework() is fw
    assert load_framework(default_framework_path()) is fw
    assert fw.id == "scaling-guide"
    assert fw.version
    assert fw.source["version"] == "1.0"
    assert "Ultimate Scaling Guide" in fw.source["title"]


def test_item_ids_are_exactly_the_shared_ids_plus_principles(fw):
    ids = [item.id for item in fw.items]
    assert len(ids) == len(set(ids))
    extra = {i for i in ids if i not in EXPECTED_IDS}
    assert set(EXPECTED_IDS) <= set(ids)
    assert extra and all(i.startswith("principles.") for i in extra)
    assert {fw.item(i).section for i in extra} == {"1.1"}
    assert len(fw.items_in("principles")) >= 4


def test_every_named_check_exists_in_the_catalogue_plan(fw):
    assert set(fw.check_ids()) <= KNOWN_CHECKS, set(fw.check_ids()) - KNOWN_CHECKS
    assert "http.structured_logs" not in fw.check_ids()


def test_areas_and_phases(fw):
    assert [(a.id, a.section) for a in fw.areas] == [
        ("principles", "1.1"),
        ("metrics", "1.2"),
        ("caching", "2"),
        ("database", "3"),
        ("communication", "4"),
        ("deployment", "5"),
        ("monitoring", "6"),
        ("security", "7"),
        ("roadmap", "8"),
        ("cost", "9"),
        ("emergency", "10"),
    ]
    assert [(p.number, p.title, p.weeks) for p in fw.phases] == [
        (1, "Quick Wins", "Week 1-2"),
        (2, "Resilience", "Week 3-4"),
        (3, "Scaling", "Week 5-6"),
        (4, "Optimization", "Ongoing"),
    ]
    for item in fw.items:
        assert fw.area(item.area).section.split(".")[0] == item.section.split(".")[0], item.id


def test_items_well_formed(fw):
    for item in fw.items:
        assert item.kind in ("auto", "manual", "both")
        assert item.weight > 0
        assert len(item.remediation) > 30, item.id
        if item.kind in ("auto", "both"):
            assert item.checks, item.id


def test_metric_targets(fw):
    expected = {
        "metrics.p99_latency": ("<", 500, "ms", "prometheus.slo.p99_latency"),
        "metrics.error_rate": ("<", 0.1, "percent", "prometheus.slo.error_rate"),
        "metrics.db_cpu": ("<", 70, "percent", "prometheus.slo.db_cpu"),
        "metrics.cache_hit_ratio": (">", 90, "percent", "prometheus.slo.cache_hit_ratio"),
    }
    for item_id, (op, value, unit, check_id) in expected.items():
        item = fw.item(item_id)
        assert item.section == "1.2"
        assert item.kind == "auto"
        assert (item.params["op"], item.params["value"], item.params["unit"]) == (op, value, unit)
        assert check_id in item.checks
    assert "redis.hit_ratio" in fw.item("metrics.cache_hit_ratio").checks


def test_cache_rules_and_tiers(fw):
    rules = {
        "cache.rule.product_details": ("Product details", "product:*", 3600, "Product update webhook"),
        "cache.rule.user_sessions": ("User sessions", "session:*", 1800, "Explicit logout"),
        "cache.rule.product_listings": ("Product listings", "listing:*", 300, "New product added"),
    }
    for item_id, (data_type, pattern, ttl, trigger) in rules.items():
        params = fw.item(item_id).params
        assert params == {
            "data_type": data_type,
            "key_pattern": pattern,
            "ttl_seconds": ttl,
            "invalidation": trigger,
        }
        assert fw.item(item_id).section == "2.2"
    assert {i.id for i in fw.items_for_check("redis.ttl_policy")} >= set(rules)
    tiers = fw.item("cache.tiered").params["tiers"]
    assert [t["tier"] for t in tiers] == ["L1", "L2", "L3"]
    assert tiers[0]["ttl_seconds"] == 5
    assert fw.item("cache.tiered").section == "2.1"


def test_postgres_settings_and_replicas(fw):
    settings = {
        "db.shared_buffers": ("shared_buffers", "4GB", "25% of RAM"),
        "db.effective_cache_size": ("effective_cache_size", "12GB", "75% of RAM"),
        "db.maintenance_work_mem": ("maintenance_work_mem", "1GB", None),
        "db.work_mem": ("work_mem", "64MB", None),
        "db.random_page_cost": ("random_page_cost", 1.1, "For SSD storage"),
        "db.max_connections": ("max_connections", 200, None),
    }
    for item_id, (setting, value, rule) in settings.items():
        item = fw.item(item_id)
        assert item.section == "3.1"
        assert item.params["setting"] == setting
        assert item.params["value"] == value
        if rule:
            assert item.params["rule"] == rule
        assert f"postgres.config.{setting}" in item.checks
    assert len([i for i in fw.items if i.section == "3.1"]) == 6
    replicas = fw.item("db.read_replicas")
    assert replicas.section == "3.2"
    assert {"postgres.replication.replicas", "postgres.replication.lag"} <= set(replicas.checks)


def test_communication_deployment_monitoring(fw):
    breaker = fw.item("comm.circuit_breaker").params["breaker"]
    assert breaker == {
        "name": "PaymentService",
        "timeout_s": 30,
        "max_requests": 5,
        "consecutive_failures_gt": 5,
    }
    assert fw.item("comm.outbox").section == "4.2"
    assert fw.item("deploy.gitops").checks == ("gitops.deploy_workflow",)
    canary = fw.item("deploy.canary")
    assert canary.section == "5.2"
    assert canary.checks == ("kubernetes.canary",)
    assert {k: canary.params[k] for k in ("error_rate", "latency_ms", "threshold", "interval")} == {
        "error_rate": 1,
        "latency_ms": 500,
        "threshold": 5,
        "interval": "1m",
    }
    groups = {
        "api": ["request_rate", "error_rate", "latency"],
        "database": ["queries_per_second", "replication_lag"],
        "cache": ["hit_ratio", "memory_usage"],
        "infrastructure": ["cpu", "memory", "network"],
    }
    for group, signals in groups.items():
        item = fw.item(f"monitoring.metrics.{group}")
        assert item.section == "6.1"
        assert item.params["signals"] == signals
        assert "prometheus.metrics.essential" in item.checks
    alert = fw.item("monitoring.alert.high_error_rate")
    assert alert.params["for"] == "10m"
    assert alert.params["severity"] == "critical"
    assert alert.params["expr"].endswith("> 0.01")
    assert "prometheus.rules.high_error_rate" in alert.checks


def test_security(fw):
    mandatory = {
        "security.mtls": "kubernetes.mtls",
        "security.jwt": "http.jwt",
        "security.rate_limiting": "http.rate_limit",
        "security.sql_injection": "http.sql_injection",
        "security.secrets_encryption": "kubernetes.secrets.external",
    }
    for item_id, check_id in mandatory.items():
        item = fw.item(item_id)
        assert item.section == "7.1"
        assert check_id in item.checks
        assert item.kind in ("auto", "both")
    assert fw.item("security.rate_limiting").params == {"requests": 1000, "per": "minute", "key": "ip"}
    audits = {
        "security.audit.pentest": "quarter",
        "security.audit.dependency_scanning": "month",
        "security.audit.log_analysis": "week",
    }
    for item_id, every in audits.items():
        item = fw.item(item_id)
        assert item.section == "7.2"
        assert item.params == {"every": every}
        assert item.kind in ("manual", "both")
    assert fw.item("security.audit.dependency_scanning").checks == ("gitops.dependency_scanning",)
    assert fw.item("security.audit.dependency_scanning").kind == "both"


def test_at_most_three_items_without_an_automatic_check(fw):
    """Issue 14: everything a live system can prove has a check; what is left only a person can attest."""
    unchecked = sorted(item.id for item in fw.items if not item.checks)
    assert len(unchecked) <= 3, unchecked
    assert all(fw.item(i).kind == "manual" for i in unchecked)
    assert "cost.reserved_db" in unchecked  # a billing commitment: no live signal shows it


def test_roadmap_twelve_items_in_four_phases(fw):
    roadmap = fw.items_in("roadmap")
    assert len(roadmap) == 12
    for number in (1, 2, 3, 4):
        in_phase = fw.items_in_phase(number)
        assert len(in_phase) == 3
        assert all(item.id.startswith(f"roadmap.p{number}.") for item in in_phase)
    assert {item.phase for item in roadmap} == {1, 2, 3, 4}
    assert all(item.phase is None for item in fw.items if item.area != "roadmap")
    assert fw.item("roadmap.p1.index_optimization").kind == "both"
    assert "postgres.indexes.missing" in fw.item("roadmap.p1.index_optimization").checks
    assert fw.item("roadmap.p4.regional_failover").checks == ("kubernetes.regions",)


def test_cost_and_emergency(fw):
    assert {i.id for i in fw.items if i.section == "9.1"} == {
        "cost.autoscaling_buffer",
        "cost.cache_warming",
        "cost.spot_batch",
        "cost.reserved_db",
    }
    alerts = {
        "cost.alert.compute": (15, 30, "percent", "month"),
        "cost.alert.storage": (10, 25, "percent", "week"),
        "cost.alert.transfer": (500, 1000, "usd", "month"),
    }
    for item_id, (warning, critical, unit, period) in alerts.items():
        params = fw.item(item_id).params
        assert (params["warning"], params["critical"], params["unit"], params["period"]) == (
            warning,
            critical,
            unit,
            period,
        )
        assert params["metric"]
    assert fw.item("cost.autoscaling_buffer").params["buffer_percent"] == 30
    db = fw.item("emergency.db_overload").params["playbook"]
    assert db == {
        "immediately": ["Enable read-only mode", "Scale up database instance"],
        "next": ["Add read replicas", "Review slow queries"],
    }
    api = fw.item("emergency.api_degradation").params["playbook"]
    assert api["immediately"] == ["Enable rate limiting", "Return cached responses"]
    assert api["next"] == ["Scale out application layer", "Disable non-critical features"]
    assert fw.item("emergency.api_degradation").section == "10.2"


def test_metric_targets_and_security_measures_weigh_more(fw):
    light = [i.weight for i in fw.items if i.area in ("cost", "emergency", "roadmap")]
    for item_id in [
        "metrics.p99_latency",
        "metrics.error_rate",
        "security.mtls",
        "security.jwt",
        "security.rate_limiting",
    ]:
        assert fw.item(item_id).weight > max(light)


def test_lookups_and_json(fw):
    assert {i.id for i in fw.items_for_check("kubernetes.hpa.buffer")} == {
        "roadmap.p3.autoscaling",
        "cost.autoscaling_buffer",
    }
    assert fw.items_for_check("no.such.check") == ()
    assert fw.items_in("nope") == ()
    with pytest.raises(KeyError, match=r"no\.such\.item"):
        fw.item("no.such.item")
    doc = fw.to_json()
    json.dumps(doc)
    assert len(doc["items"]) == len(fw.items)
    first = doc["items"][0]
    assert set(first) == {"id", "section", "title", "kind", "checks", "area", "weight", "phase"}
    by_id = {entry["id"]: entry for entry in doc["items"]}
    assert by_id["roadmap.p2.read_replicas"]["phase"] == 2
    assert by_id["db.work_mem"]["checks"] == ["postgres.config.work_mem"]


def test_data_dir_prefers_the_installed_copy(tmp_path, monkeypatch):
    import scaleready.paths as paths

    package = tmp_path / "site-packages" / "scaleready"
    package.mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", package)
    assert paths.data_dir() == tmp_path / "site-packages" / "data"
    (package / "_data").mkdir()
    assert paths.data_dir() == package / "_data"
