import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import Incident
from incidents.views import _detail_context, _form_errors_from, _incident_or_404

from . import services
from .forms import EscalateForm
from .links import acknowledge_token_read

logger = logging.getLogger(__name__)


@require_POST
def incident_escalate(request, pk):
    if not request.user.has_perm("paging.escalate_incident"):
        raise PermissionDenied("You need the permission to escalate incidents.")
    incident = _incident_or_404(request, pk)
    form = EscalateForm(request.POST)
    if form.is_valid():
        try:
            page = services.escalation_escalate(
                actor=request.user,
                incident=incident,
                trigger=form.cleaned_data["trigger"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            who = page.recipient.get_username() if page.recipient else "nobody (no one set)"
            messages.success(request, f"Escalated to {page.target_label}: paged {who}.")
            return redirect(reverse("incidents:detail", args=[incident.pk]) + "#escalation")
    context = _detail_context(request, incident, {"escalate_form": form})
    context["error_anchor"] = "escalation"
    return render(request, "incidents/incident_detail.html", context, status=400)


def _activate_zone_of(user) -> None:
    profile = getattr(user, "profile", None)
    if profile is not None:
        timezone.activate(profile.time_zone)


@login_not_required
@require_http_methods(["GET", "POST"])
def acknowledge_link(request, token):
    """Show who the link acknowledges as; acknowledge only on POST, so that link scanners in
    mail systems, which follow links with GET, never acknowledge."""
    try:
        incident, user = acknowledge_token_read(token)
    except ValidationError as error:
        return render(
            request, "paging/acknowledge_link.html", {"error": " ".join(error.messages)}, status=400
        )
    _activate_zone_of(user)
    context = {
        "incident": incident,
        "paged_user": user,
        "zone_name": timezone.get_current_timezone_name(),
    }
    if request.method == "POST":
        try:
            incident = services.incident_acknowledge_by_link(token=token)
        except PermissionDenied as error:
            context["error"] = str(error)
            return render(request, "paging/acknowledge_link.html", context, status=403)
        context["incident"] = incident
        context["done"] = True
    return render(request, "paging/acknowledge_link.html", context)


def _json_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _pagerduty_signature_valid(request) -> bool:
    """Check X-PagerDuty-Signature: one or more "v1=<hex HMAC-SHA256 of the raw body>" entries,
    several while PagerDuty rotates the subscription's secret."""
    header = request.headers.get("X-PagerDuty-Signature", "")
    expected = hmac.new(
        settings.PAGERDUTY_WEBHOOK_SECRET.encode(), request.body, hashlib.sha256
    ).hexdigest()
    for signature in header.split(","):
        version, _, value = signature.strip().partition("=")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@csrf_exempt
@login_not_required
@require_POST
def pagerduty_webhook(request):
    """Take PagerDuty v3 webhook events and record incident.acknowledged on our incident."""
    if not settings.PAGERDUTY_WEBHOOK_SECRET:
        return _json_error(
            503, "The PagerDuty webhook is not configured: set PAGERDUTY_WEBHOOK_SECRET."
        )
    if not request.headers.get("X-PagerDuty-Signature"):
        return _json_error(400, "The X-PagerDuty-Signature header is missing.")
    if not _pagerduty_signature_valid(request):
        logger.warning("Rejected a PagerDuty webhook with an invalid signature")
        return _json_error(403, "Invalid X-PagerDuty-Signature for this webhook secret.")
    try:
        event = json.loads(request.body)["event"]
        event_type = event["event_type"]
    except (ValueError, KeyError, TypeError):
        return _json_error(400, 'Invalid body: expected JSON with an "event" and its event_type.')
    if event_type != "incident.acknowledged":
        return JsonResponse({"status": "ignored", "event_type": event_type}, status=202)

    # NOTE: PagerDuty puts the Events API dedup key the portal sent into the incident's
    # incident_key, which names our incident.
    data = event.get("data") or {}
    agent = event.get("agent") or {}
    incident_key = str(data.get("incident_key") or "")
    try:
        incident = services.incident_acknowledge_from_pagerduty(
            incident_key=incident_key,
            agent_id=str(agent.get("id") or ""),
            agent_summary=str(agent.get("summary") or ""),
        )
    except Incident.DoesNotExist:
        return _json_error(404, f"No portal incident for incident_key {incident_key!r}.")
    logger.info("PagerDuty acknowledged incident %s", incident.pk)
    return JsonResponse(
        {
            "status": "acknowledged",
            "incident": incident.reference,
            "acknowledged_at": incident.acknowledged_at.isoformat(),
        }
    )
