"""Security incidents are invisible to everyone outside the Security group, in every place."""

import pytest
from django.urls import reverse

from incidents.selectors import incident_list
from security.selectors import incident_is_restricted, user_may_see_incident
from tests.incidents.factories import UserFactory, commander_user, declare_incident

from .factories import mark_security_incident, security_user

pytestmark = pytest.mark.django_db

SECRET_TITLE = "Unusual logins on admin accounts"


@pytest.fixture
def hidden():
    """A security incident, and an ordinary incident beside it."""
    record = mark_security_incident()
    ordinary = declare_incident(title="Dashboard charts load slowly")
    return record.incident, ordinary


@pytest.fixture
def outsider(client):
    user = commander_user()
    client.force_login(user)
    return user


def test_list_hides_security_incident(client, outsider, hidden):
    secret, ordinary = hidden

    response = client.get(reverse("incidents:list"), {"state": "all"})

    assert ordinary.title in response.text
    assert SECRET_TITLE not in response.text


def test_search_hides_security_incident(client, outsider, hidden):
    secret, _ = hidden

    by_title = client.get(reverse("incidents:list"), {"q": "admin accounts", "state": "all"})
    by_reference = client.get(reverse("incidents:list"), {"q": secret.reference, "state": "all"})

    assert SECRET_TITLE not in by_title.text
    assert SECRET_TITLE not in by_reference.text


def test_dashboard_counts_exclude_security_incident(client, outsider, hidden):
    response = client.get(reverse("incidents:dashboard"))

    counts = dict((severity.key, count) for severity, count in response.context["counts"])
    assert sum(counts.values()) == 1
    assert response.context["open_total"] == 1
    assert SECRET_TITLE not in response.text


def test_detail_is_404_for_outsider(client, outsider, hidden):
    secret, _ = hidden

    response = client.get(reverse("incidents:detail", args=[secret.pk]))

    assert response.status_code == 404


def test_actions_are_404_for_outsider(client, outsider, hidden):
    secret, _ = hidden

    response = client.post(
        reverse("incidents:note_add", args=[secret.pk]), {"text": "Looking into it"}
    )

    assert response.status_code == 404


def test_member_sees_security_incident(client, hidden):
    secret, _ = hidden
    client.force_login(security_user())

    listed = client.get(reverse("incidents:list"), {"state": "all"})
    detail = client.get(reverse("incidents:detail", args=[secret.pk]))

    assert SECRET_TITLE in listed.text
    assert detail.status_code == 200


def test_superuser_sees_security_incident(hidden):
    secret, _ = hidden
    superuser = UserFactory(is_superuser=True, is_staff=True)

    assert incident_list(user=superuser).filter(pk=secret.pk).exists()


def test_public_sees_no_security_incident(hidden):
    secret, _ = hidden

    assert not incident_list(user=None).filter(pk=secret.pk).exists()


def test_inactive_member_sees_nothing_secret(hidden):
    secret, _ = hidden
    member = security_user(is_active=False)

    assert not incident_list(user=member).filter(pk=secret.pk).exists()


def test_notification_selectors(hidden):
    secret, ordinary = hidden
    outsider, member = commander_user(), security_user()

    assert incident_is_restricted(secret) is True
    assert incident_is_restricted(ordinary) is False
    assert user_may_see_incident(outsider, secret) is False
    assert user_may_see_incident(member, secret) is True
    assert user_may_see_incident(outsider, ordinary) is True


def test_list_query_count_is_flat(client, outsider, hidden, django_assert_num_queries):
    # Session, user, profile, two permission reads, two counts, two filter choice lists, the
    # page and its commander prefetch; the Security group check is a subquery of the page query.
    with django_assert_num_queries(11):
        client.get(reverse("incidents:list"))
    declare_incident(title="Billing timeouts")
    mark_security_incident()

    with django_assert_num_queries(11):
        client.get(reverse("incidents:list"))


@pytest.fixture
def staff_admin(client):
    user = UserFactory(groups=["Admins"], is_staff=True)
    client.force_login(user)
    return user


def test_admin_changelist_hides_security_incident(client, staff_admin, hidden):
    secret, ordinary = hidden

    response = client.get(reverse("admin:incidents_incident_changelist"))

    assert response.status_code == 200
    assert ordinary.title in response.text
    assert SECRET_TITLE not in response.text


def test_admin_change_page_hides_security_incident(client, staff_admin, hidden):
    secret, _ = hidden

    response = client.get(reverse("admin:incidents_incident_change", args=[secret.pk]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_admin_timeline_hides_security_entries(client, staff_admin, hidden):
    response = client.get(reverse("admin:incidents_timelineentry_changelist"))

    assert SECRET_TITLE not in response.text
    assert "security incident" not in response.text


def test_admin_security_records_hidden_from_outsider(client, staff_admin, hidden):
    response = client.get(reverse("admin:security_securityincident_changelist"))

    assert SECRET_TITLE not in response.text
    assert "INC-" not in response.text


def test_admin_shows_security_incident_to_member(client, hidden):
    secret, _ = hidden
    member = security_user(is_staff=True)
    member.groups.add(*member.groups.model.objects.filter(name="Admins"))
    client.force_login(member)

    response = client.get(reverse("admin:incidents_incident_change", args=[secret.pk]))

    assert response.status_code == 200
    assert SECRET_TITLE in response.text


def test_postmortem_and_action_items_hidden_from_outsiders(client):
    from postmortems.services import action_item_create
    from tests.incidents.factories import viewer_user
    from tests.postmortems.factories import priority, resolve_incident

    member = security_user()
    record = mark_security_incident(actor=member)
    incident = resolve_incident(record.incident, commander=member)
    postmortem = incident.postmortem
    action_item_create(
        actor=member,
        postmortem=postmortem,
        title="Rotate leaked keys",
        owner=member,
        priority=priority(),
        due_date=incident.declared_at.date(),
    )
    client.force_login(viewer_user())

    postmortems_page = client.get(reverse("postmortems:list")).content.decode()
    items_page = client.get(reverse("postmortems:action_items")).content.decode()
    detail = client.get(reverse("postmortems:detail", args=[postmortem.pk]))

    assert incident.title not in postmortems_page
    assert "Rotate leaked keys" not in items_page
    assert detail.status_code == 404


def test_alerts_of_security_incident_hidden_from_outsiders(client):
    from alerts.models import Alert
    from alerts.selectors import alert_list
    from alerts.tasks import delivery_process_task
    from tests.alerts.factories import make_integration, payload

    _, token = make_integration("alertmanager")
    response = client.post(
        "/webhooks/alertmanager/",
        payload("alertmanager", "01_firing_single.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    delivery_process_task(response.json()["delivery_id"])
    alert = Alert.objects.get()
    member = security_user()
    record = mark_security_incident(actor=member)
    Alert.objects.filter(pk=alert.pk).update(incident=record.incident)

    outsider_alerts = list(alert_list(user=commander_user()))
    member_alerts = list(alert_list(user=member))

    assert outsider_alerts == []
    assert member_alerts == [alert]
