"""Figures for the monthly summary and the quarterly trend analysis.

Months are calendar months in UTC, the zone the policy's post-mortem template uses. Times to
acknowledge and to resolve count from detection, as the policy's response times do. Each figure is
a `ReportTable`, so the page, the charts and the CSV download show the same numbers.

NOTE: on-call load (pages per rotation and per person) is not reported: the paging records live in
an app that is not part of this one yet.
"""

import datetime
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Q

from incidents.models import Incident, Severity

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


def incidents_per_severity(quarter: Quarter) -> ReportTable:
    severities = list(Severity.objects.order_by("level"))
    incidents = Incident.objects.filter(
        detected_at__gte=quarter.start, detected_at__lt=quarter.end
    ).values_list("detected_at", "severity_id")
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


def response_times(quarter: Quarter) -> ReportTable:
    """Mean minutes to acknowledge and to resolve: overall, per severity and per service."""
    incidents = list(
        Incident.objects.filter(detected_at__gte=quarter.start, detected_at__lt=quarter.end)
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


def postmortem_timeliness(quarter: Quarter, now: datetime.datetime) -> ReportTable:
    """Post-mortems due in each month: sent to review on time, late, or not yet due."""
    postmortems = Postmortem.objects.filter(due_at__gte=quarter.start, due_at__lt=quarter.end)
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


def action_items_opened_closed(quarter: Quarter) -> ReportTable:
    period = Q(created_at__gte=quarter.start, created_at__lt=quarter.end)
    opened = Counter(
        _month(value)
        for value in ActionItem.objects.filter(period).values_list("created_at", flat=True)
    )
    closed_items = ActionItem.objects.filter(
        closed_at__gte=quarter.start, closed_at__lt=quarter.end
    )
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


def completed_items(quarter: Quarter) -> ReportTable:
    """The monthly summary: every action item done in the quarter, by month."""
    items = (
        ActionItem.objects.filter(
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


def quarterly_report(quarter: Quarter, now: datetime.datetime) -> list[ReportTable]:
    return [
        incidents_per_severity(quarter),
        response_times(quarter),
        postmortem_timeliness(quarter, now),
        action_items_opened_closed(quarter),
        completed_items(quarter),
    ]
