"""The alert rules loaded from the policy equal its alert thresholds."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from alerts.models import AlertRule

pytestmark = pytest.mark.django_db

# The policy's Alert Thresholds: name, condition, duration, severity.
THRESHOLDS = [
    ("api_availability", "success_rate < 99.9%", 5, "SEV-1"),
    ("api_degraded", "success_rate < 99.95%", 10, "SEV-2"),
    ("high_latency_critical", "p99_latency > 5s", 5, "SEV-2"),
    ("high_latency_warning", "p95_latency > 2s", 10, "SEV-3"),
    ("error_rate_critical", "error_rate > 5%", 5, "SEV-1"),
    ("error_rate_elevated", "error_rate > 1%", 10, "SEV-3"),
    ("database_connections", "connections > 90%", None, "SEV-2"),
    ("disk_space", "disk_usage > 85%", None, "SEV-3"),
    ("memory_pressure", "memory_usage > 90%", None, "SEV-2"),
]


@pytest.mark.parametrize(("name", "condition", "minutes", "severity"), THRESHOLDS)
def test_rule_matches_policy(name, condition, minutes, severity):
    rule = AlertRule.objects.get(name=name)
    metric, operator, threshold = condition.split(" ")
    number = threshold.rstrip("%s")

    assert rule.metric == metric
    assert rule.operator == operator
    assert rule.threshold == Decimal(number)
    assert rule.unit == threshold[len(number) :]
    assert rule.duration == (datetime.timedelta(minutes=minutes) if minutes else None)
    assert rule.severity.key == severity
    assert rule.declares_incident is True


def test_reload_leaves_rules_unchanged(capsys):
    call_command("load_arka_policy")

    output = capsys.readouterr().out
    assert "kept after admin edits 0" in output
    assert "alert rule" not in output
