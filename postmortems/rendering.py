"""Post-mortem text: safe HTML from the Markdown people write, and the Markdown export.

The export follows the policy's post-mortem template line for line: the header fields, then each
section of the template in the order of its `TemplateSection` rows, with the timeline and the
action items as tables and the list sections as bullets.
"""

import datetime

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

from incidents.durations import format_duration

from .models import Postmortem, TemplateSection

ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
LIST_SECTIONS = {
    TemplateSection.Key.CONTRIBUTING_FACTORS,
    TemplateSection.Key.WHAT_WENT_WELL,
    TemplateSection.Key.WHAT_WENT_POORLY,
}
IMPACT_LABELS = [
    ("customers_affected", "Customers affected"),
    ("requests_failed", "Requests failed"),
    ("impact_duration_minutes", "Duration"),
    ("financial_impact", "Financial impact"),
    ("sla_impact", "SLA impact"),
]


def markdown_to_html(text: str) -> SafeString:
    """Render Markdown to HTML with only harmless tags and no attributes but safe links."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    return mark_safe(  # noqa: S308 - nh3 removed every tag and attribute not allowed.
        nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}})
    )


def bullet_lines(text: str) -> list[str]:
    """Split a list section into its points: one per non-empty line, a leading "- " dropped."""
    points = []
    for line in (text or "").splitlines():
        line = line.strip().removeprefix("- ").removeprefix("* ").strip()
        if line:
            points.append(line)
    return points


def section_markdown(postmortem: Postmortem, key: str) -> str:
    """Return the Markdown body of one text or list section, as shown on the page."""
    value = getattr(postmortem, key)
    if key in LIST_SECTIONS:
        return "\n".join(f"- {point}" for point in bullet_lines(value))
    return value.strip()


def _utc(value: datetime.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(datetime.UTC).strftime(fmt)


def _cell(text) -> str:
    return str(text).replace("\n", " ").replace("|", "\\|").strip() or "—"


def _timeline_markdown(postmortem: Postmortem) -> list[str]:
    entries = list(postmortem.timeline.all())
    dates = {_utc(entry.occurred_at, "%Y-%m-%d") for entry in entries}
    fmt = "%H:%M" if len(dates) <= 1 else "%Y-%m-%d %H:%M"
    lines = ["| Time (UTC) | Event |", "|------------|-------|"]
    lines += [f"| {_utc(entry.occurred_at, fmt)} | {_cell(entry.event)} |" for entry in entries]
    return lines


def _impact_markdown(postmortem: Postmortem) -> list[str]:
    lines = []
    for field, label in IMPACT_LABELS:
        value = getattr(postmortem, field)
        if field == "impact_duration_minutes" and value is not None:
            value = f"{value} minutes"
        lines.append(f"- **{label}:** {value if value not in (None, '') else '—'}")
    return lines


def _action_items_markdown(postmortem: Postmortem) -> list[str]:
    lines = ["| Action | Owner | Priority | Due Date |", "|--------|-------|----------|----------|"]
    items = postmortem.action_items.select_related("owner", "priority").order_by(
        "priority__level", "due_date", "id"
    )
    for item in items:
        owner = item.owner.get_full_name() or item.owner.get_username()
        lines.append(
            f"| {_cell(item.title)} | {_cell(owner)} | {item.priority.key} "
            f"| {item.due_date.isoformat()} |"
        )
    return lines


def _person(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


def postmortem_markdown(postmortem: Postmortem, sections) -> str:
    """Write the post-mortem as Markdown in the layout of the policy's template."""
    incident = postmortem.incident
    end = incident.resolved_at
    reviewers = ", ".join(_person(user) for user in postmortem.reviewers.all()) or "—"
    lines = [
        f"# Post-Incident Review: {incident.title}",
        "",
        f"**Date:** {_utc(incident.detected_at, '%Y-%m-%d')}",
        f"**Duration:** {_utc(incident.detected_at)} UTC - {_utc(end)} UTC "
        f"({format_duration(incident.duration(end) if end else None, empty='ongoing')})",
        f"**Severity:** {incident.severity.key}",
        f"**Author:** {_person(postmortem.author)}",
        f"**Reviewers:** {reviewers}",
    ]
    for section in sections:
        lines += ["", f"## {section.heading}"]
        if section.key == TemplateSection.Key.TIMELINE:
            lines += _timeline_markdown(postmortem)
        elif section.key == TemplateSection.Key.IMPACT:
            lines += _impact_markdown(postmortem)
        elif section.key == TemplateSection.Key.ACTION_ITEMS:
            lines += _action_items_markdown(postmortem)
        else:
            lines.append(section_markdown(postmortem, section.key) or "—")
    return "\n".join(lines) + "\n"
