"""The /incident slash command: parsing, the subcommands, and their replies.

Every subcommand that changes an incident calls the same service as the incident page, with
source=Source.SLACK, so the timeline, permission checks and notifications are the same.
"""

import re
import shlex
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incidents import services as incident_services
from incidents.durations import format_duration
from incidents.models import Incident, Level, Phase, ResponseRole, Severity, Source
from incidents.selectors import (
    incident_commander_get,
    severity_suggest,
    status_update_default_status,
)
from security.selectors import user_may_see_incident

from . import selectors
from .services.users import slack_member_user_get
from .slack import SlackCallError

# Without a severity, `create` declares with these and lets the policy's matrix suggest the level.
DEFAULT_IMPACT = Level.MEDIUM
DEFAULT_URGENCY = Level.MEDIUM
SEVERITY_REASON = "set from Slack"
ROLE_ALIASES = {
    "ic": ResponseRole.INCIDENT_COMMANDER,
    "tech": "technical_lead",
    "comms": ResponseRole.COMMUNICATIONS_LEAD,
    "scribe": "scribe",
}
# Slack sends a mention as <@U123ABC|name> when the command escapes users, else as @name.
MENTION_RE = re.compile(r"^<@(?P<id>[UW][A-Z0-9]+)(\|[^>]*)?>$")
SEVERITY_ARGUMENT_RE = re.compile(r"^sev-?\d+$", re.IGNORECASE)
TITLE_MAX_LENGTH = 200
# Mobile and desktop Slack clients may turn straight quotes into typographic ones.
QUOTE_TRANSLATION = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


class CommandError(Exception):
    """A command that cannot run; the message is the reply to the Slack user."""


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    example: str
    summary: str
    permission: str | None
    flags: frozenset = frozenset()
    changes_incident: bool = True


SUBCOMMANDS = {
    item.name: item
    for item in [
        Subcommand(
            "create",
            'create "description" [sev1..sev4]',
            '/incident create "Checkout API returns errors" sev2',
            "Declare an incident; without a severity the policy's matrix suggests one.",
            "incidents.declare_incident",
        ),
        Subcommand(
            "status",
            "status",
            "/incident status",
            "Show this channel's incident: severity, phase, commander, next update.",
            "incidents.view_incident",
            changes_incident=False,
        ),
        Subcommand(
            "ack",
            "ack",
            "/incident ack",
            "Acknowledge this channel's incident.",
            "incidents.work_incident",
        ),
        Subcommand(
            "update",
            'update "text" [--public]',
            '/incident update "Rolled back the deploy; error rate falling" --public',
            "Post a status update, internal unless --public.",
            "incidents.work_incident",
            flags=frozenset({"--public"}),
        ),
        Subcommand(
            "severity",
            'severity sevN "reason"',
            '/incident severity sev1 "All customers affected"',
            "Change the severity, with the reason.",
            "incidents.command_incident",
        ),
        Subcommand(
            "role",
            "role ic|tech|comms|scribe @user",
            "/incident role comms @maria",
            "Give a response role to someone.",
            "incidents.work_incident",
        ),
        Subcommand(
            "resolve",
            "resolve [--confirm-skip]",
            "/incident resolve",
            "Move the incident to Resolve (incident commander only); --confirm-skip skips "
            "unticked Response checklist items.",
            "incidents.command_incident",
            flags=frozenset({"--confirm-skip"}),
        ),
        Subcommand(
            "help",
            "help",
            "/incident help",
            "List these subcommands.",
            None,
            changes_incident=False,
        ),
    ]
}


@dataclass
class ParsedCommand:
    subcommand: Subcommand
    arguments: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.subcommand.name


@dataclass
class Reply:
    text: str
    public: bool = False

    def as_slack(self) -> dict:
        return {"response_type": "in_channel" if self.public else "ephemeral", "text": self.text}


def help_text() -> str:
    lines = ["*/incident* subcommands:"]
    for item in SUBCOMMANDS.values():
        lines.append(f"• `{item.usage}`: {item.summary} Example: `{item.example}`")
    lines.append(
        "Run every subcommand except create and help in the incident's channel. Put text with "
        'spaces in double quotes ("...").'
    )
    return "\n".join(lines)


def _usage(subcommand: Subcommand) -> str:
    return f"Usage: `/incident {subcommand.usage}`, for example `{subcommand.example}`."


def command_parse(text: str) -> ParsedCommand:
    """Split the command text into a subcommand, arguments and flags; raise CommandError."""
    try:
        words = shlex.split(text.translate(QUOTE_TRANSLATION))
    except ValueError as error:
        raise CommandError(
            f"Could not read the command ({error}): close each quoted text with a double quote."
        ) from error
    if not words:
        return ParsedCommand(SUBCOMMANDS["help"])
    name = words[0].lower()
    subcommand = SUBCOMMANDS.get(name)
    if subcommand is None:
        raise CommandError(f"Unknown subcommand {words[0]!r}.\n{help_text()}")
    flags = {word for word in words[1:] if word.startswith("--")}
    unknown = flags - subcommand.flags
    if unknown:
        raise CommandError(f"Unknown option {sorted(unknown)[0]}. {_usage(subcommand)}")
    parsed = ParsedCommand(subcommand, [w for w in words[1:] if not w.startswith("--")], flags)
    _check_arguments(parsed)
    return parsed


def _check_arguments(parsed: ParsedCommand) -> None:
    arguments = parsed.arguments
    name = parsed.name
    if name in ("status", "ack", "resolve", "help"):
        valid = not arguments
    elif name == "create":
        description = arguments[:-1] if _is_severity(arguments[-1:]) else arguments
        valid = bool(" ".join(description).strip())
    elif name == "update":
        valid = bool(" ".join(arguments).strip())
    elif name == "severity":
        valid = len(arguments) >= 2 and _is_severity(arguments[:1])
    else:
        valid = len(arguments) == 2 and arguments[0].lower() in ROLE_ALIASES
    if not valid:
        raise CommandError(_usage(parsed.subcommand))


def _is_severity(words: list[str]) -> bool:
    return len(words) == 1 and SEVERITY_ARGUMENT_RE.match(words[0]) is not None


def _severity_get(argument: str) -> Severity:
    requested = re.sub(r"[^a-z0-9]", "", argument.lower())
    severities = list(Severity.objects.order_by("level"))
    for severity in severities:
        if re.sub(r"[^a-z0-9]", "", severity.key.lower()) == requested:
            return severity
    known = ", ".join(severity.key for severity in severities)
    raise CommandError(f"Unknown severity {argument!r}; use one of {known}.")


def _incident_link(incident: Incident) -> str:
    return f"<{settings.PORTAL_BASE_URL}{incident.get_absolute_url()}|{incident.reference}>"


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You lack the permission for this."


def command_execute(*, actor, parsed: ParsedCommand, channel_id: str, channel_name: str) -> Reply:
    """Run a parsed subcommand as the actor and return the reply; nothing changes on an error."""
    try:
        if parsed.name == "help":
            return Reply(help_text())
        if parsed.name == "create":
            return _create(actor, parsed)
        incident = selectors.incident_for_channel(channel_id=channel_id, channel_name=channel_name)
        # Someone outside the Security group learns nothing of a security incident, not even
        # that this channel belongs to one.
        if incident is not None and not user_may_see_incident(actor, incident):
            incident = None
        if incident is None:
            raise CommandError(
                f"#{channel_name} is not an incident channel: run `/incident {parsed.name}` in "
                "the incident's channel (#inc-...)."
            )
        return HANDLERS[parsed.name](actor, parsed, incident)
    except (ValidationError, PermissionDenied) as error:
        return Reply(f"Nothing changed: {_error_text(error)}")
    except CommandError as error:
        return Reply(str(error))
    except SlackCallError as error:
        return Reply(f"A Slack lookup failed ({error}), so nothing changed; try again.")


def _create(actor, parsed: ParsedCommand) -> Reply:
    arguments = parsed.arguments
    severity = _severity_get(arguments[-1]) if _is_severity(arguments[-1:]) else None
    description = " ".join(arguments[:-1] if severity else arguments).strip()
    incident = incident_services.incident_declare(
        actor=actor,
        title=description[:TITLE_MAX_LENGTH],
        description=description,
        impact=DEFAULT_IMPACT,
        urgency=DEFAULT_URGENCY,
        severity=severity,
        severity_reason=SEVERITY_REASON if severity else "",
        commander=actor,
        source=Source.SLACK,
    )
    lines = [
        f"{actor.get_username()} declared {_incident_link(incident)} "
        f"{incident.severity.key} {incident.severity.name}: {incident.title}",
        f"Incident channel: {incident.channel_name}. Incident commander: {actor.get_username()}.",
    ]
    if severity is None:
        suggested = severity_suggest(impact=DEFAULT_IMPACT, urgency=DEFAULT_URGENCY)
        lines.append(
            f"No severity given, so {suggested.key if suggested else incident.severity.key} "
            f"was suggested from impact {DEFAULT_IMPACT.label.lower()} x urgency "
            f"{DEFAULT_URGENCY.label.lower()}. Change it with "
            '`/incident severity sevN "reason"` in the incident channel.'
        )
    return Reply("\n".join(lines), public=True)


def _status(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    return Reply(incident_status_text(incident))


def incident_status_text(incident: Incident) -> str:
    commander = incident_commander_get(incident)
    commander_name = commander.get_username() if commander else "not assigned"
    now = timezone.now()
    due = incident.next_update_due_at
    if due is None:
        next_update = "none due"
    elif now > due:
        next_update = f"OVERDUE by {format_duration(now - due)} (was due {due:%Y-%m-%d %H:%M} UTC)"
    else:
        next_update = f"due {due:%Y-%m-%d %H:%M} UTC, in {format_duration(due - now)}"
    return (
        f"{_incident_link(incident)} {incident.title}\n"
        f"Severity: {incident.severity.key} {incident.severity.name} | "
        f"Phase: {Phase(incident.phase).label} | Incident commander: {commander_name}\n"
        f"Acknowledged: {'yes' if incident.acknowledged_at else 'no'} | "
        f"Next public update: {next_update}"
    )


def _ack(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    already = incident.acknowledged_at is not None
    incident_services.incident_acknowledge(actor=actor, incident=incident, source=Source.SLACK)
    if already:
        return Reply(f"{_incident_link(incident)} was already acknowledged; nothing changed.")
    return Reply(f"{actor.get_username()} acknowledged {_incident_link(incident)}.", public=True)


def _update(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    is_public = "--public" in parsed.flags
    update = incident_services.status_update_post(
        actor=actor,
        incident=incident,
        status=status_update_default_status(incident),
        body=" ".join(parsed.arguments),
        is_public=is_public,
        source=Source.SLACK,
    )
    visibility = "public" if is_public else "internal"
    return Reply(
        f"{actor.get_username()} posted a {visibility} update "
        f"[{update.get_status_display()}] on {_incident_link(incident)}.",
        public=True,
    )


def _severity(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    severity = _severity_get(parsed.arguments[0])
    previous = incident.severity.key
    incident_services.incident_severity_change(
        actor=actor,
        incident=incident,
        severity=severity,
        reason=" ".join(parsed.arguments[1:]),
        source=Source.SLACK,
    )
    return Reply(
        f"{actor.get_username()} changed {_incident_link(incident)} from {previous} to "
        f"{severity.key} {severity.name}.",
        public=True,
    )


def _mentioned_user(mention: str):
    match = MENTION_RE.match(mention)
    if match is not None:
        user = slack_member_user_get(slack_user_id=match["id"])
        if user is None:
            raise CommandError(
                f"{mention} has no portal account linked to their Slack ID or email; add a Slack "
                "contact method with their member ID in the portal's admin."
            )
        return user
    username = mention.removeprefix("@")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(
            f"No active portal user is called {username!r}; mention them with @ so Slack sends "
            "their member ID."
        )
    return user


def _role(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    alias, mention = parsed.arguments
    role = ResponseRole.objects.filter(key=ROLE_ALIASES[alias.lower()]).first()
    if role is None:
        raise CommandError(f"The policy has no role {ROLE_ALIASES[alias.lower()]!r}.")
    user = _mentioned_user(mention)
    incident_services.incident_role_assign(
        actor=actor, incident=incident, role=role, user=user, source=Source.SLACK
    )
    return Reply(
        f"{actor.get_username()} made {user.get_username()} {role.name} on "
        f"{_incident_link(incident)}.",
        public=True,
    )


def _resolve(actor, parsed: ParsedCommand, incident: Incident) -> Reply:
    try:
        incident = incident_services.incident_phase_change(
            actor=actor,
            incident=incident,
            phase=Phase.RESOLVE,
            confirm_skip="--confirm-skip" in parsed.flags,
            source=Source.SLACK,
        )
    except ValidationError as error:
        text = f"Nothing changed: {_error_text(error)}"
        if "confirm_skip" in getattr(error, "error_dict", {}):
            text += " To skip them, run `/incident resolve --confirm-skip`."
        return Reply(text)
    duration = format_duration(incident.duration(timezone.now()))
    return Reply(
        f"{actor.get_username()} resolved {_incident_link(incident)} after {duration}.",
        public=True,
    )


HANDLERS = {
    "status": _status,
    "ack": _ack,
    "update": _update,
    "severity": _severity,
    "role": _role,
    "resolve": _resolve,
}
