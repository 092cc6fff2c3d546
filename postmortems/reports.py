"""Figures for the monthly summary and the quarterly trend analysis.

Months are calendar months in UTC, the zone the policy's post-mortem template uses. Times to
acknowledge and to resolve count from detection, as the policy's response times do. Each figure is
a `ReportTable`, so the page, the charts and the CSV download show the same numbers.

Every figure counts only incidents the viewer may see (`incident_visible_filter`), so security
incidents stay out of the report for people outside the Security group.
"""

import datetime
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from incidents.models import Incident, Severity
from incidents.selectors import incident_visible_filter
from oncall import selectors as oncall_selectors
from paging.models import EscalationPage, Layer

from .models import ActionItem, Postmortem


@dataclass
class ReportTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Quarter:
    year: int
    number: int

    @classmethod
    def containing(cls, day: datetime.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Read "2026-Q1"; raises ValueError for anything else."""
        year, _, number = text.upper().partition("-Q")
        quarter = cls(int(year), int(number))
        if not 1 <= quarter.number <= 4:
            raise ValueError(f"invalid quarter {text!r}: expected YYYY-Q1 to YYYY-Q4")
        return quarter

    def __str__(self):
        return f"{self.year}-Q{self.number}"

    @property
    def months(self) -> list[datetime.date]:
        first = 3 * (self.number - 1) + 1
        return [datetime.date(self.year, month, 1) for month in range(first, first + 3)]

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.months[0], datetime.time(), tzinfo=datetime.UTC)

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the quarter."""
        if self.number == 4:
            return datetime.datetime(self.year + 1, 1, 1, tzinfo=datetime.UTC)
        return datetime.datetime(self.year, 3 * self.number + 1, 1, tzinfo=datetime.UTC)

    def previous(self) -> "Quarter":
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def next(self) -> "Quarter":
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )


def _month(value: datetime.datetime) -> datetime.date:
    return value.astimezone(datetime.UTC).date().replace(day=1)


def _minutes(durations: list[datetime.timedelta]) -> float | None:
    if not durations:
        return None
    return round(statistics.fmean(d.total_seconds() for d in durations) / 60, 1)


def _month_label(month: datetime.date) -> str:
    return month.strftime("%Y-%m")


def _visible_incidents(user) -> QuerySet[Incident]:
    return Incident.objects.filter(incident_visible_filter(user))


def _visible_action_items(user) -> QuerySet[ActionItem]:
    visible = _visible_incidents(user).values("pk")
    return ActionItem.objects.filter(Q(incident__isnull=True) | Q(incident__in=visible))


def incidents_per_severity(quarter: Quarter, user) -> ReportTable:
    severities = list(Severity.objects.order_by("level"))
    incidents = (
        _visible_incidents(user)
        .filter(detected_at__gte=quarter.start, detected_at__lt=quarter.end)
        .values_list("detected_at", "severity_id")
    )
    counts = Counter((_month(detected_at), severity) for detected_at, severity in incidents)
    table = ReportTable(
        "incidents",
        "Incidents per severity per month",
        ["Month", *[severity.key for severity in severities], "Total"],
    )
    for month in quarter.months:
        row = [counts[(month, severity.pk)] for severity in severities]
        table.rows.append([_month_label(month), *row, sum(row)])
    return table


def response_times(quarter: Quarter, user) -> ReportTable:
    """Mean minutes to acknowledge and to resolve: overall, per severity and per service."""
    incidents = list(
        _visible_incidents(user)
        .filter(detected_at__gte=quarter.start, detected_at__lt=quarter.end)
        .select_related("severity")
        .prefetch_related("services")
    )
    groups: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for incident in incidents:
        groups[("Overall", "All incidents")].append(incident)
        groups[("Severity", incident.severity.key)].append(incident)
        for service in incident.services.all():
            groups[("Service", service.name)].append(incident)
    table = ReportTable(
        "response",
        "Mean time to acknowledge and to resolve (minutes from detection)",
        ["Group", "Name", "Incidents", "Mean time to acknowledge", "Mean time to resolve"],
    )
    order = {"Overall": 0, "Severity": 1, "Service": 2}
    for (kind, name), members in sorted(groups.items(), key=lambda g: (order[g[0][0]], g[0][1])):
        acknowledge = [i.acknowledged_at - i.detected_at for i in members if i.acknowledged_at]
        resolve = [i.resolved_at - i.detected_at for i in members if i.resolved_at]
        table.rows.append([kind, name, len(members), _minutes(acknowledge), _minutes(resolve)])
    return table


def postmortem_timeliness(quarter: Quarter, now: datetime.datetime, user) -> ReportTable:
    """Post-mortems due in each month: sent to review on time, late, or not yet due."""
    postmortems = Postmortem.objects.filter(
        due_at__gte=quarter.start,
        due_at__lt=quarter.end,
        incident__in=_visible_incidents(user).values("pk"),
    )
    counts = Counter()
    for postmortem in postmortems.only("due_at", "submitted_at"):
        month = _month(postmortem.due_at)
        if postmortem.submitted_at is not None:
            outcome = "on_time" if postmortem.submitted_at <= postmortem.due_at else "late"
        else:
            outcome = "late" if now > postmortem.due_at else "pending"
        counts[(month, outcome)] += 1
    table = ReportTable(
        "postmortems",
        "Post-mortems on time versus late (by month due)",
        ["Month", "On time", "Late", "Not yet due"],
    )
    for month in quarter.months:
        table.rows.append(
            [
                _month_label(month),
                counts[(month, "on_time")],
                counts[(month, "late")],
                counts[(month, "pending")],
            ]
        )
    return table


def action_items_opened_closed(quarter: Quarter, user) -> ReportTable:
    items = _visible_action_items(user)
    period = Q(created_at__gte=quarter.start, created_at__lt=quarter.end)
    opened = Counter(
        _month(value) for value in items.filter(period).values_list("created_at", flat=True)
    )
    closed_items = items.filter(closed_at__gte=quarter.start, closed_at__lt=quarter.end)
    closed = Counter()
    for closed_at, status in closed_items.values_list("closed_at", "status"):
        closed[(_month(closed_at), status)] += 1
    table = ReportTable(
        "action_items",
        "Action items opened versus closed",
        ["Month", "Opened", "Done", "Won't do"],
    )
    for month in quarter.months:
        table.rows.append(
            [
                _month_label(month),
                opened[month],
                closed[(month, ActionItem.Status.DONE)],
                closed[(month, ActionItem.Status.WONT_DO)],
            ]
        )
    return table


def completed_items(quarter: Quarter, user) -> ReportTable:
    """Build the monthly summary: every action item done in the quarter, by month."""
    items = (
        _visible_action_items(user)
        .filter(
            status=ActionItem.Status.DONE, closed_at__gte=quarter.start, closed_at__lt=quarter.end
        )
        .select_related("owner", "priority", "incident", "team")
        .order_by("closed_at", "id")
    )
    table = ReportTable(
        "completed",
        "Monthly summary of completed action items",
        ["Month", "Action item", "Owner", "Team", "Priority", "Incident", "Done on"],
    )
    for item in items:
        table.rows.append(
            [
                _month_label(_month(item.closed_at)),
                item.title,
                item.owner.get_username(),
                item.team.name if item.team else "",
                item.priority.key,
                item.incident.reference if item.incident else "",
                item.closed_at.astimezone(datetime.UTC).date().isoformat(),
            ]
        )
    return table


NOBODY_PAGED = "Nobody paged"
NOT_ON_A_ROTATION = "Not on a rotation"
_LAYER_BY_LABEL = {label: value for value, label in Layer.choices}


def _page_layer(page: EscalationPage) -> str | None:
    """Return the rotation layer a page's step targeted, or None for an escalation contact.

    A page of the escalation's current run reads its step from the policy snapshot. An earlier
    run's snapshot was replaced when the severity changed, so its layer is read back from the
    stored target label, which is the layer's label for a layer step.
    """
    escalation = page.escalation
    if page.run == escalation.run and page.step < len(escalation.steps):
        return escalation.steps[page.step]["layer"] or None
    return _LAYER_BY_LABEL.get(page.target_label)


def _page_list(quarter: Quarter, user) -> list[EscalationPage]:
    return list(
        EscalationPage.objects.filter(
            paged_at__gte=quarter.start,
            paged_at__lt=quarter.end,
            escalation__incident__in=_visible_incidents(user).values("pk"),
        )
        .select_related("escalation", "recipient")
        .order_by("paged_at", "id")
    )


def _load_table(key: str, title: str, first_column: str, quarter, counts: Counter) -> ReportTable:
    """Lay out page counts keyed by (name, month) as one row per name, named rows first."""
    table = ReportTable(
        key, title, [first_column, *[_month_label(month) for month in quarter.months], "Total"]
    )
    names = {name for name, _ in counts}
    last = {NOBODY_PAGED, NOT_ON_A_ROTATION}
    for name in sorted(names, key=lambda name: (name in last, name)):
        row = [counts[(name, month)] for month in quarter.months]
        table.rows.append([name, *row, sum(row)])
    return table


def on_call_load(quarter: Quarter, user) -> list[ReportTable]:
    """Pages per rotation and per person in each month, counted from the escalation pages.

    A page of a layer step counts for the rotation of that layer on which the paged person was on
    call at the moment of the page, or as "Not on a rotation" when no rotation had them on call
    then. A page to an escalation contact counts under the contact's role. A page whose step had
    no recipient counts as "Nobody paged".
    """
    pages = _page_list(quarter, user)
    rotations = list(oncall_selectors.rotation_list(active_only=False))
    shifts = oncall_selectors.shift_list_by_rotation(
        rotations=rotations, start=quarter.start, end=quarter.end
    )
    per_rotation: Counter = Counter()
    per_person: Counter = Counter()
    for page in pages:
        month = _month(page.paged_at)
        person = page.recipient.get_username() if page.recipient else NOBODY_PAGED
        per_person[(person, month)] += 1
        layer = _page_layer(page)
        if page.recipient is None:
            rotation_name = NOBODY_PAGED
        elif layer is None:
            rotation_name = f"{page.target_label} (escalation contact)"
        else:
            rotation = oncall_selectors.rotation_of_user_at(
                shifts_by_rotation=shifts,
                rotations=[rotation for rotation in rotations if rotation.layer.key == layer],
                user_id=page.recipient_id,
                at=page.paged_at,
            )
            rotation_name = rotation.name if rotation else NOT_ON_A_ROTATION
        per_rotation[(rotation_name, month)] += 1
    return [
        _load_table(
            "pages_per_rotation",
            "On-call load: pages per rotation per month",
            "Rotation",
            quarter,
            per_rotation,
        ),
        _load_table(
            "pages_per_person",
            "On-call load: pages per person per month",
            "Person",
            quarter,
            per_person,
        ),
    ]


def quarterly_report(quarter: Quarter, now: datetime.datetime, user) -> list[ReportTable]:
    """Return every table of the quarter's report, counting only incidents `user` may see."""
    return [
        incidents_per_severity(quarter, user),
        response_times(quarter, user),
        *on_call_load(quarter, user),
        postmortem_timeliness(quarter, now, user),
        action_items_opened_closed(quarter, user),
        completed_items(quarter, user),
    ]
