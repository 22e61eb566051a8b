"""Scoring rules: unknown is never pass, ticks and evidence combine, phases give levels."""

from __future__ import annotations

from dataclasses import dataclass

from scaleready.api import Finding, Severity, Status
from scaleready.framework import load_framework
from scaleready.scoring import score

FW = load_framework()


@dataclass
class Tick:
    state: str
    actor: str = "ana"
    note: str = ""


def f(check: str, status: Status, waived: bool = False) -> Finding:
    return Finding(check, "t", status, Severity.WARNING, check, "", waived=waived)


def item(card, item_id):
    return next(i for a in card.areas for i in a.items if i.id == item_id)


def test_no_evidence_scores_zero_with_zero_coverage():
    card = score(FW, [])
    assert card.overall == 0 and card.coverage == 0 and card.level == 0


def test_error_and_skip_evidence_is_unknown_never_pass():
    check = FW.item("metrics.p99_latency").checks[0]
    card = score(FW, [f(check, Status.ERROR), f(check, Status.SKIP)])
    assert item(card, "metrics.p99_latency").status == "unknown"
    assert card.overall == 0 and card.coverage == 0


def test_worst_evidence_wins_and_waived_failure_counts_as_met():
    check = FW.item("metrics.p99_latency").checks[0]
    assert item(score(FW, [f(check, Status.PASS), f(check, Status.FAIL)]), "metrics.p99_latency").status == "fail"
    assert item(score(FW, [f(check, Status.PASS), f(check, Status.WARN)]), "metrics.p99_latency").status == "warn"
    waived = score(FW, [f(check, Status.FAIL, waived=True)])
    assert item(waived, "metrics.p99_latency").status == "pass"


def test_area_score_is_weighted_and_coverage_counts_items():
    metrics = FW.items_in("metrics")
    first = metrics[0]
    card = score(FW, [f(first.checks[0], Status.PASS)])
    area = next(a for a in card.areas if a.id == "metrics")
    total = sum(i.weight for i in metrics)
    assert area.score == 100 * first.weight / total
    assert area.coverage == 1 / len(metrics)


def test_manual_items_follow_ticks_and_not_applicable_leaves_the_denominator():
    manual = next(i for i in FW.items if i.kind == "manual")
    card = score(FW, [], {manual.id: Tick("done", note="ticket 12")})
    scored = item(card, manual.id)
    assert (scored.status, scored.source) == ("pass", "manual") and "ticket 12" in scored.note
    assert item(score(FW, [], {manual.id: Tick("not_done")}), manual.id).status == "fail"
    na = score(FW, [], {manual.id: Tick("not_applicable")})
    assert all(i.id != manual.id for a in na.areas for i in a.items)


def test_both_items_report_conflicts_between_ticks_and_evidence():
    both = next(i for i in FW.items if i.kind == "both" and i.checks)
    failing = score(FW, [f(both.checks[0], Status.FAIL)], {both.id: Tick("done")})
    assert (item(failing, both.id).status, item(failing, both.id).source) == ("fail", "conflict")
    ticked_only = score(FW, [], {both.id: Tick("done")})
    assert item(ticked_only, both.id).status == "pass"


def test_levels_follow_completed_phases_in_order():
    def ticks_for(phases):
        return {i.id: Tick("done") for i in FW.items if i.phase in phases}

    assert score(FW, [], ticks_for({1})).level == 1
    assert score(FW, [], ticks_for({1, 2})).level == 2
    assert score(FW, [], ticks_for({2, 3})).level == 0  # phase 1 not done: no level
    card = score(FW, [], ticks_for({1, 2, 3, 4}))
    assert card.level == 4 and all(p.complete for p in card.phases)
    assert [p.total for p in card.phases] == [3, 3, 3, 3]


def test_a_finding_scoped_to_a_data_type_proves_only_that_cache_rule():
    def ttl(data_type: str, status: Status) -> Finding:
        return Finding("redis.ttl_policy", "cache", status, Severity.WARNING, "ttl", "", evidence={"data_type": data_type},
                       items=["cache.rule.product_details", "cache.rule.user_sessions", "cache.rule.product_listings"])

    card = score(FW, [ttl("product_details", Status.PASS), ttl("user_sessions", Status.FAIL)])
    assert item(card, "cache.rule.product_details").status == "pass"
    assert item(card, "cache.rule.user_sessions").status == "fail"
    assert item(card, "cache.rule.product_listings").status == "unknown"
