"""A demo data set for `make run`: a small team, services, customers and incidents in each phase.

Incidents are made through the services, as a person would make them, then moved back in time so
the pages show realistic ages and overdue marks.
"""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models, transaction
from django.db.models import F
from django.utils.text import slugify

from oncall.demo import oncall_demo_load
from oncall.models import Profile

from . import services
from .models import (
    ChecklistItem,
    Customer,
    Incident,
    Level,
    Phase,
    ResponseRole,
    Service,
    Severity,
    UpdateStatus,
)
from .selectors import status_update_template_render

User = get_user_model()

DEMO_USERNAME = "demo"
# Published on purpose: demo data loads only with DEBUG on.
DEMO_PASSWORD = "arka-demo"  # noqa: S105

DEMO_PEOPLE = [
    # username, full name, groups, time zone
    (DEMO_USERNAME, "Dana Demo", ["Incident Commanders", "Managers", "Admins"], "Europe/Berlin"),
    ("alice", "Alice Okafor", ["Responders"], "Europe/London"),
    ("bob", "Bob Tanaka", ["Incident Commanders"], "Asia/Tokyo"),
    ("carol", "Carol Silva", ["Managers"], "America/Sao_Paulo"),
    ("dave", "Dave Viewer", ["Viewers"], "UTC"),
]
# "Checkout API" is the service the demo alerts name (label service=checkout-api).
DEMO_SERVICES = ["API", "Dashboard", "Billing", "Authentication", "Webhooks", "Checkout API"]
DEMO_CUSTOMERS = [("Northwind Traders", True), ("Globex", True), ("Initech", False)]


def _datetime_fields(model) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.DateTimeField) and not (field.auto_now or field.auto_now_add)
    ]


def _shift_rows(queryset, by: datetime.timedelta) -> None:
    names = _datetime_fields(queryset.model)
    if names:
        queryset.update(**{name: F(name) - by for name in names})


def _shift_back(incident: Incident, by: datetime.timedelta) -> None:
    """Move every recorded time of a demo incident back by `by`, in every app's rows about it.

    Rows that point at the incident are shifted, and so are rows that point at those (such as the
    pages of an escalation), so deadlines and countdowns stay consistent with the incident's age.
    """
    _shift_rows(Incident.objects.filter(pk=incident.pk), by)
    for relation in Incident._meta.related_objects:
        related_model = relation.related_model
        rows = related_model.objects.filter(**{relation.field.name: incident})
        for nested in related_model._meta.related_objects:
            if nested.related_model is Incident or not nested.field.concrete:
                continue
            _shift_rows(
                nested.related_model.objects.filter(**{f"{nested.field.name}__in": rows}), by
            )
        _shift_rows(rows, by)


def _tick_phase(actor, incident, phase):
    for item in ChecklistItem.objects.filter(incident=incident, phase=phase):
        services.checklist_item_tick(actor=actor, item=item)


@transaction.atomic
def demo_data_load() -> bool:
    """Create the demo data set unless the demo user exists; returns whether it created it."""
    if User.objects.filter(username=DEMO_USERNAME).exists():
        return False
    people = {}
    for username, full_name, group_names, zone in DEMO_PEOPLE:
        first, last = full_name.split(" ", 1)
        user = User.objects.create_user(
            username=username,
            password=DEMO_PASSWORD,
            email=f"{username}@example.com",
            first_name=first,
            last_name=last,
            is_staff="Admins" in group_names,
            is_superuser=username == DEMO_USERNAME,
        )
        user.groups.set(Group.objects.filter(name__in=group_names))
        Profile.objects.create(user=user, time_zone=zone)
        people[username] = user
    service_rows = {
        name: Service.objects.create(name=name, slug=slugify(name)) for name in DEMO_SERVICES
    }
    customer_rows = {
        name: Customer.objects.create(name=name, is_enterprise=enterprise)
        for name, enterprise in DEMO_CUSTOMERS
    }
    demo, alice, bob = people[DEMO_USERNAME], people["alice"], people["bob"]
    from communications.demo import demo_data_load as communications_demo_load

    communications_demo_load(success_manager=demo)
    if not Severity.objects.exists():
        raise RuntimeError("Load the policy first: manage.py load_arka_policy.")
    roles = {role.key: role for role in ResponseRole.objects.all()}
    oncall_demo_load(people)

    detect = services.incident_declare(
        actor=demo,
        title="Elevated error rates on API",
        description="Error rate above 5% on the public API since the last deploy.",
        impact=Level.HIGH,
        urgency=Level.HIGH,
        services=[service_rows["API"]],
        customers=[customer_rows["Northwind Traders"]],
    )
    _shift_back(detect, datetime.timedelta(minutes=22))

    triage = services.incident_declare(
        actor=demo,
        title="Dashboard charts load slowly",
        description="p95 latency of the dashboard above 2 s in eu-west.",
        impact=Level.MEDIUM,
        urgency=Level.MEDIUM,
        services=[service_rows["Dashboard"]],
        commander=bob,
    )
    _tick_phase(bob, triage, Phase.DETECT)
    services.incident_phase_change(actor=demo, incident=triage, phase=Phase.TRIAGE)
    _shift_back(triage, datetime.timedelta(hours=1, minutes=10))

    respond = services.incident_declare(
        actor=demo,
        title="Card payments failing for some customers",
        description="Billing provider returns timeouts for about 30% of card payments.",
        impact=Level.HIGH,
        urgency=Level.MEDIUM,
        services=[service_rows["Billing"], service_rows["API"]],
        customers=[customer_rows["Globex"], customer_rows["Initech"]],
        commander=demo,
    )
    services.incident_role_assign(
        actor=demo, incident=respond, role=roles["technical_lead"], user=alice
    )
    _tick_phase(demo, respond, Phase.DETECT)
    services.incident_phase_change(actor=demo, incident=respond, phase=Phase.TRIAGE)
    _tick_phase(demo, respond, Phase.TRIAGE)
    services.incident_phase_change(actor=demo, incident=respond, phase=Phase.RESPOND)
    services.status_update_post(
        actor=demo,
        incident=respond,
        status=UpdateStatus.INVESTIGATING,
        body=status_update_template_render(incident=respond, status=UpdateStatus.INVESTIGATING),
        is_public=True,
    )
    _shift_back(respond, datetime.timedelta(minutes=50))

    for title, final_phase, hours_ago in [
        ("Login emails delayed", Phase.RESOLVE, 5),
        ("Webhook deliveries retried twice", Phase.REVIEW, 30),
    ]:
        incident = services.incident_declare(
            actor=demo,
            title=title,
            description="Demo incident worked through to its end.",
            impact=Level.LOW,
            urgency=Level.HIGH,
            services=[service_rows["Authentication" if "Login" in title else "Webhooks"]],
            commander=demo,
        )
        for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE, Phase.REVIEW):
            _tick_phase(demo, incident, incident.phase)
            services.incident_phase_change(actor=demo, incident=incident, phase=phase)
            incident.refresh_from_db()
            if phase == final_phase:
                break
        _shift_back(incident, datetime.timedelta(hours=hours_ago))

    from postmortems.demo import postmortem_demo_load

    postmortem_demo_load(people=people)
    return True
