import pytest
from django.core.exceptions import ValidationError

from incidents.models import TimelineEntry
from runbooks.models import Runbook
from runbooks.rendering import markdown_render
from runbooks.selectors import runbook_for_incident_list, runbook_step_list
from runbooks.services import runbook_step_run_record
from tests.incidents.factories import ServiceFactory, declare_incident, responder_user

pytestmark = pytest.mark.django_db

POLICY_RUNBOOKS = {
    "API High Latency": "P95 > 2s",
    "Database Failover": "Primary unavailable",
    "Redis Cluster Recovery": "Node failure",
    "Certificate Renewal": "Expiry < 30 days",
    "DDoS Mitigation": "Attack detected",
    "Rollback Deployment": "Failed deploy",
    "Scale Up Services": "High load",
}
TEMPLATE_SECTIONS = [
    "## Overview",
    "## Symptoms",
    "## Prerequisites",
    "## Steps",
    "## Rollback",
    "## Escalation",
    "## Related",
]


def test_seven_runbooks_load_with_triggers():
    loaded = dict(Runbook.objects.values_list("title", "trigger"))

    assert loaded == POLICY_RUNBOOKS


@pytest.mark.parametrize("title", POLICY_RUNBOOKS)
def test_body_follows_template(title):
    runbook = Runbook.objects.get(title=title)

    positions = [runbook.body.index(section) for section in TEMPLATE_SECTIONS]

    assert positions == sorted(positions)
    assert "Verification" in runbook.body
    assert "```bash" in runbook.body
    assert len(runbook_step_list(runbook)) >= 3


def test_latency_alert_matches_api_high_latency():
    incident = declare_incident(title="API slow")

    matched = runbook_for_incident_list(incident, alert_rule_names=["high_latency_warning"])

    assert [runbook.key for runbook in matched] == ["api-high-latency"]


def test_service_matches_runbook():
    service = ServiceFactory(name="Cache")
    runbook = Runbook.objects.get(key="redis-cluster-recovery")
    runbook.services.add(service)
    incident = declare_incident(title="Cache misses", services=[service])

    matched = runbook_for_incident_list(incident)

    assert [runbook.key for runbook in matched] == ["redis-cluster-recovery"]


def test_unrelated_incident_matches_nothing():
    incident = declare_incident(title="Typo on the pricing page")

    assert runbook_for_incident_list(incident, alert_rule_names=["disk_space"]) == []


def test_script_tag_renders_inert():
    html = markdown_render("Hello\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>")

    assert "<script" not in html
    assert "onerror" not in html


def test_javascript_link_renders_inert():
    html = markdown_render("[click](javascript:alert(1)) and <a href='javascript:alert(2)'>b</a>")

    assert "javascript:" not in html


def test_code_block_renders():
    html = markdown_render("```bash\nkubectl get pods -n pact\n```")

    assert "<pre><code" in html
    assert "kubectl get pods -n pact" in html


def test_step_run_recorded_on_timeline():
    incident = declare_incident(title="API slow")
    runbook = Runbook.objects.get(key="api-high-latency")

    run = runbook_step_run_record(
        actor=responder_user(), incident=incident, runbook=runbook, step_number=2, note="DB fine"
    )

    entry = incident.timeline.get(kind=TimelineEntry.Kind.NOTE)
    assert run.step_title == "Find the Slow Dependency"
    assert entry.message == (
        "Ran step 2 (Find the Slow Dependency) of runbook API High Latency: DB fine"
    )


def test_unknown_step_rejected():
    incident = declare_incident(title="API slow")
    runbook = Runbook.objects.get(key="api-high-latency")

    with pytest.raises(ValidationError) as error:
        runbook_step_run_record(
            actor=responder_user(), incident=incident, runbook=runbook, step_number=9
        )

    assert "step_number" in error.value.message_dict
