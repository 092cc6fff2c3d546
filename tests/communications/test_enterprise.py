import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from communications import services
from communications.models import EnterpriseNotice
from incidents import services as incident_services
from incidents.models import Phase, Severity
from notifications.models import Message
from tests.communications.factories import (
    CustomerContactFactory,
    EnterpriseAccountFactory,
    declare_sev1,
    public_update_post,
)
from tests.incidents.factories import (
    CustomerFactory,
    UserFactory,
    commander_user,
    declare_incident,
)

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def account():
    account = EnterpriseAccountFactory(
        customer__name="Northwind", success_manager=UserFactory(username="csm")
    )
    CustomerContactFactory(customer=account.customer, email="ops@northwind.example")
    CustomerContactFactory(customer=account.customer, email="cto@northwind.example")
    return account


@pytest.fixture
def commander():
    return commander_user(username="ic")


@pytest.fixture
def incident(account, commander):
    with time_machine.travel(START, tick=False):
        return declare_sev1(actor=commander, commander=commander, customers=[account.customer])


def _contact_messages(prefix):
    return Message.objects.filter(dedup_key__startswith=prefix).order_by("target")


def test_sev1_creates_call_due_in_one_hour(incident, account):
    notice = EnterpriseNotice.objects.get(incident=incident)

    assert notice.success_manager == account.success_manager
    assert notice.call_due_at == START + datetime.timedelta(hours=1)
    assert notice.email_due_at == START + datetime.timedelta(minutes=15)


def test_contacts_emailed_once(incident):
    notice = EnterpriseNotice.objects.get(incident=incident)

    services.enterprise_notice_email_send(notice_id=notice.pk)
    services.enterprise_notice_email_send(notice_id=notice.pk)

    targets = list(_contact_messages("enterprise-notice").values_list("target", flat=True))
    assert targets == ["cto@northwind.example", "ops@northwind.example"]


def test_customer_email_names_no_responder(incident):
    notice = EnterpriseNotice.objects.get(incident=incident)

    services.enterprise_notice_email_send(notice_id=notice.pk)

    assert "ic" not in _contact_messages("enterprise-notice").first().body.split()


def test_sev2_creates_no_notice(account, commander):
    incident = declare_incident(actor=commander, customers=[account.customer])

    assert not EnterpriseNotice.objects.filter(incident=incident).exists()


def test_non_enterprise_customer_no_notice(commander):
    customer = CustomerFactory(is_enterprise=False)

    incident = declare_sev1(actor=commander, customers=[customer])

    assert not EnterpriseNotice.objects.filter(incident=incident).exists()


def test_raised_to_sev1_creates_notice(account, commander):
    incident = declare_incident(actor=commander, customers=[account.customer])

    incident_services.incident_severity_change(
        actor=commander,
        incident=incident,
        severity=Severity.objects.get(key="SEV-1"),
        reason="All customers affected",
    )

    assert EnterpriseNotice.objects.filter(incident=incident).count() == 1


def _resolve(incident, commander):
    for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE):
        incident_services.incident_phase_change(
            actor=commander, incident=incident, phase=phase, confirm_skip=True
        )


def test_resolution_emails_summary_with_timeline(incident, commander):
    with time_machine.travel(START + datetime.timedelta(minutes=10), tick=False):
        public_update_post(incident, commander, body="We are investigating.")
    resolved_at = START + datetime.timedelta(hours=2)

    with time_machine.travel(resolved_at, tick=False):
        _resolve(incident, commander)

    messages = _contact_messages("enterprise-resolution")
    notice = EnterpriseNotice.objects.get(incident=incident)
    assert messages.count() == 2
    assert "2026-03-02 10:10 UTC  Investigating: We are investigating." in messages[0].body
    assert notice.report_due_at == resolved_at + datetime.timedelta(hours=48)


def test_call_ticked_by_success_manager(incident, account):
    notice = EnterpriseNotice.objects.get(incident=incident)

    services.enterprise_call_complete(actor=account.success_manager, notice=notice)

    notice.refresh_from_db()
    assert notice.call_done_by == account.success_manager


def test_call_tick_rejected_for_stranger(incident):
    notice = EnterpriseNotice.objects.get(incident=incident)

    with pytest.raises(PermissionDenied):
        services.enterprise_call_complete(actor=UserFactory(username="stranger"), notice=notice)


def test_report_marked_sent_after_resolution(incident, account, commander):
    _resolve(incident, commander)
    notice = EnterpriseNotice.objects.get(incident=incident)

    services.enterprise_report_mark_sent(actor=account.success_manager, notice=notice)

    notice.refresh_from_db()
    assert notice.report_sent_at is not None


def test_dashboard_shows_call_to_success_manager(client, incident, account):
    account.success_manager.groups.add(*commander_user().groups.all())
    client.force_login(account.success_manager)

    response = client.get(reverse("incidents:dashboard"))

    body = response.content.decode()
    assert "Customer calls and reports I owe" in body
    assert "Northwind" in body


def test_incident_page_shows_call(client, incident, commander):
    client.force_login(commander)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    assert "Success manager call" in response.content.decode()


def test_call_done_view_ticks(client, incident, account):
    notice = EnterpriseNotice.objects.get(incident=incident)
    client.force_login(account.success_manager)

    response = client.post(reverse("communications:call_complete", args=[notice.pk]))

    notice.refresh_from_db()
    assert response.status_code == 302
    assert notice.call_done_at is not None
