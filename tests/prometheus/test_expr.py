"""Reading alert expressions for their meaning: the shapes HighErrorRate and burn-rate alerts take."""

from __future__ import annotations

import pytest

from checks.prometheus.expr import analyse
from checks.prometheus.queries import parse_duration, render

RECORDS = {
    "job:err:ratio_rate1h": 'sum(rate(http_requests_total{status=~"5.."}[1h])) / sum(rate(http_requests_total[1h]))',
    "job:err:ratio_rate5m": 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
}


@pytest.mark.parametrize(("expr", "threshold"), [
    ('rate(http_requests_total{status=~"5.."}[5m]) / rate(http_requests_total[5m]) > 0.01', 0.01),
    ('sum(rate(http_requests_total{code=~"5.*"}[5m])) / sum(rate(http_requests_total[5m])) * 100 > 1', 0.01),
    ('100 * sum(rate(http_requests_total{status=~"5[0-9]{2}"}[5m])) / sum(rate(http_requests_total[5m])) >= 0.5',
     0.005),
    ('0.01 < sum(rate(http_requests_total{status="5xx"}[5m])) / sum(rate(http_requests_total[5m]))', 0.01),
    ('sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05', 0.05),
    ("job:err:ratio_rate1h > (14.4 * 0.001) and job:err:ratio_rate5m > (14.4 * 0.001)", 0.0144),
    ("max(job:err:ratio_rate5m{job=\"a\"} > bool (6 * (1 - 0.999))) by (job)", 0.006),
])
def test_error_ratio_alerts_are_recognised(expr: str, threshold: float):
    result = analyse(expr, RECORDS)
    assert result.tightest == pytest.approx(threshold)


@pytest.mark.parametrize("expr", [
    'rate(http_requests_total{status=~"5.."}[5m]) > 10',  # absolute rate, not a ratio
    'sum(rate(http_requests_total{status=~"2.."}[5m])) / sum(rate(http_requests_total[5m])) < 0.99',
    'sum(rate(http_requests_total{status=~"4.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.01',
    'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > on() foo',
    "up == 0",
    "job:err:ratio_rate5m > 0.01",  # unknown recording rule without RECORDS
])
def test_other_expressions_are_not_error_ratio_alerts(expr: str):
    records = RECORDS if "job:" not in expr else {}
    assert analyse(expr, records).comparisons == []


def test_burn_rate_windows_come_through_recording_rules():
    result = analyse("job:err:ratio_rate1h > (14.4 * 0.001) and job:err:ratio_rate5m > (14.4 * 0.001)", RECORDS)
    assert result.windows == {3600.0, 300.0}


def test_durations_and_templates():
    assert parse_duration("1h30m") == 5400 and parse_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration("5 minutes")
    assert render("x{a=\"b\",$selector}[$window]", "5m") == 'x{a="b"}[5m]'
    assert render("x{$selector}[$window]", "1m", 'job="w"') == 'x{job="w"}[1m]'
