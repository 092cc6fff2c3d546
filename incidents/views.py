import datetime
import functools
import json

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from chatops.selectors import channel_operation_incident_list, incident_channel_get
from notifications.selectors import message_incident_list
from oncall.selectors import SCHEDULE_WEEKS, layer_on_call_get, layer_on_call_list, user_shift_list
from paging.forms import EscalateForm
from paging.selectors import escalation_panel_get, incident_awaiting_acknowledgement_list

from . import selectors, services
from .filters import IncidentFilter
from .forms import (
    ChecklistTickForm,
    DeclareIncidentForm,
    NoteForm,
    PhaseChangeForm,
    RoleAssignForm,
    RoleUnassignForm,
    SeverityChangeForm,
    StarForm,
    StatusUpdateForm,
    zone_name,
)
from .models import Incident, Level, Phase, RoleAssignment, UpdateStatus
from .tables import IncidentTable

DASHBOARD_LIST_LIMIT = 20


def incident_action(view):
    """Accept POST only; a GET (a reload after a form error) goes back to the incident page."""

    @functools.wraps(view)
    def wrapper(request, pk, *args, **kwargs):
        if request.method != "POST":
            return redirect("incidents:detail", pk=pk)
        return view(request, pk, *args, **kwargs)

    return wrapper


def _form_errors_from(form, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form, on the named fields where it has them."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def dashboard(request):
    now = timezone.now()
    user = request.user
    open_incidents = selectors.incident_open_list(user=user).order_by(
        "severity__level", "declared_at"
    )
    context = {
        "counts": selectors.incident_open_count_by_severity(user=user),
        "my_incidents": selectors.incident_my_list(user=user),
        "awaiting_acknowledgement": incident_awaiting_acknowledgement_list(user=user),
        "update_overdue": selectors.incident_update_overdue_list(user=user, now=now),
        "overdue_items": selectors.checklist_item_overdue_list(user=user, now=now)[
            :DASHBOARD_LIST_LIMIT
        ],
        "open_incidents": open_incidents[:DASHBOARD_LIST_LIMIT],
        "open_total": open_incidents.count(),
        "zone_name": zone_name(),
        "now": now,
        "on_call_layers": layer_on_call_list(now=now),
        "my_shifts": user_shift_list(
            user=user, start=now, end=now + datetime.timedelta(weeks=SCHEDULE_WEEKS)
        )[:1],
        "schedule_weeks": SCHEDULE_WEEKS,
        **_postmortem_dashboard(user=user, now=now),
    }
    return render(request, "incidents/dashboard.html", context)


def _postmortem_dashboard(*, user, now) -> dict:
    from postmortems import selectors as postmortem_selectors

    return {
        "my_action_items": postmortem_selectors.action_item_my_open_list(user=user)[
            :DASHBOARD_LIST_LIMIT
        ],
        "postmortems_overdue": postmortem_selectors.postmortem_overdue_list(user=user, now=now)[
            :DASHBOARD_LIST_LIMIT
        ],
        "action_items_today": postmortem_selectors.review_today(now),
    }


class IncidentListView(SingleTableMixin, FilterView):
    table_class = IncidentTable
    filterset_class = IncidentFilter
    template_name = "incidents/incident_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("incidents.view_incident"):
            raise PermissionDenied("You need the view permission for incidents.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.incident_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["zone_name"] = zone_name()
        return context


def _declare_context(form):
    matrix = selectors.severity_matrix_get()
    severities = list(selectors.severity_list())
    criteria = list(selectors.severity_criterion_list())
    suggestion_data = {
        "matrix": {f"{impact}:{urgency}": sev.key for (impact, urgency), sev in matrix.items()},
        "criteria": {str(criterion.pk): criterion.severity.key for criterion in criteria},
        "levels": {severity.key: severity.level for severity in severities},
        "severityIds": {severity.key: str(severity.pk) for severity in severities},
    }
    rows = [
        (label, [matrix.get((impact, urgency)) for urgency, _ in Level.choices])
        for impact, label in Level.choices
    ]
    return {
        "form": form,
        "matrix_rows": rows,
        "levels": Level.choices,
        "severities": severities,
        "criteria": criteria,
        "suggestion_data": json.dumps(suggestion_data),
        "selected_criteria": {str(value) for value in form["criteria"].value() or []},
        "zone_name": zone_name(),
    }


@permission_required("incidents.declare_incident", raise_exception=True)
def incident_declare(request):
    if request.method == "POST":
        form = DeclareIncidentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_declare(
                    actor=request.user,
                    title=data["title"],
                    description=data["description"],
                    impact=data["impact"],
                    urgency=data["urgency"],
                    severity=data["severity"],
                    severity_reason=data["severity_reason"],
                    criteria=data["criteria"],
                    services=data["services"],
                    customers=data["customers"],
                    detected_at=data["detected_at"],
                    commander=data["commander"],
                )
            except ValidationError as error:
                _form_errors_from(form, error)
            else:
                messages.success(
                    request,
                    f"Declared {incident.reference} as {incident.severity.key}. "
                    f"Incident channel: {incident.channel_name}.",
                )
                return redirect(reverse("incidents:detail", args=[incident.pk]) + "?declared=1")
        status = 400
    else:
        on_call = layer_on_call_get(layer="primary", at=timezone.now())
        commander = on_call if on_call is not None and on_call.is_active else request.user
        form = DeclareIncidentForm(initial={"commander": commander.pk})
        status = 200
    return render(request, "incidents/incident_declare.html", _declare_context(form), status=status)


def _incident_or_404(request, pk) -> Incident:
    try:
        return selectors.incident_get(user=request.user, pk=pk)
    except Incident.DoesNotExist:
        raise Http404(f"No incident INC-{pk} that you can see.") from None


def _detail_context(request, incident, bound_forms=None):
    bound_forms = bound_forms or {}
    status = request.GET.get("update_status") or selectors.status_update_default_status(incident)
    if status not in UpdateStatus.values:
        status = UpdateStatus.INVESTIGATING
    templates = {
        value: selectors.status_update_template_render(incident=incident, status=value)
        for value in UpdateStatus.values
    }
    checklist = list(selectors.checklist_item_list(incident=incident))
    phases = []
    for phase in Phase.ordered():
        items = [item for item in checklist if item.phase == phase]
        if items:
            phases.append((phase, items))
    assignments = getattr(incident, "all_role_assignments", [])
    forms = {
        "severity_form": SeverityChangeForm(initial={"severity": incident.severity_id}),
        "role_form": RoleAssignForm(),
        "update_form": StatusUpdateForm(
            initial={"status": status, "body": templates[status], "is_public": True}
        ),
        "note_form": NoteForm(),
        "phase_form": PhaseChangeForm(),
        "escalate_form": EscalateForm(),
    }
    forms.update(bound_forms)
    return {
        "incident": incident,
        "assignments": assignments,
        "commander": next(
            (a.user for a in assignments if a.role.key == "incident_commander"), None
        ),
        "phases": phases,
        "next_phases": selectors.incident_allowed_next_phases(incident),
        "timeline": selectors.timeline_entry_list(incident=incident),
        "updates": incident.status_updates.select_related("posted_by"),
        "outbound_messages": message_incident_list(incident=incident),
        "escalation_panel": escalation_panel_get(incident=incident, now=timezone.now()),
        "slack_channel": incident_channel_get(incident=incident),
        "channel_operations": channel_operation_incident_list(incident=incident),
        "update_templates_json": json.dumps(templates),
        "zone_name": zone_name(),
        "declared_receipt": request.GET.get("declared") == "1",
        "hide_system": request.GET.get("hide_system") == "1",
        "can_work": request.user.has_perm("incidents.work_incident"),
        "can_command": request.user.has_perm("incidents.command_incident"),
        **forms,
    }


@require_GET
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request, pk):
    incident = _incident_or_404(request, pk)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


def _incident_action(request, pk, *, form_class, form_name, run, success, anchor, form_kwargs=None):
    """Validate a form posted from the incident page and run one service with it.

    On success, redirect back to the page's section; on error, show the page again with the
    form's errors inline and what was typed kept.
    """
    incident = _incident_or_404(request, pk)
    form = form_class(request.POST, **(form_kwargs or {}))
    if form.is_valid():
        try:
            run(incident, form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, success)
            return redirect(reverse("incidents:detail", args=[incident.pk]) + f"#{anchor}")
    incident = _incident_or_404(request, pk)
    context = _detail_context(request, incident, {form_name: form})
    context["error_anchor"] = anchor
    return render(request, "incidents/incident_detail.html", context, status=400)


@incident_action
def incident_severity_change(request, pk):
    def run(incident, data):
        services.incident_severity_change(
            actor=request.user, incident=incident, severity=data["severity"], reason=data["reason"]
        )

    return _incident_action(
        request,
        pk,
        form_class=SeverityChangeForm,
        form_name="severity_form",
        run=run,
        success="Severity changed.",
        anchor="severity",
    )


@incident_action
def incident_role_assign(request, pk):
    def run(incident, data):
        services.incident_role_assign(
            actor=request.user, incident=incident, role=data["role"], user=data["user"]
        )

    return _incident_action(
        request,
        pk,
        form_class=RoleAssignForm,
        form_name="role_form",
        run=run,
        success="Role assigned.",
        anchor="roles",
    )


@incident_action
def incident_role_unassign(request, pk):
    def run(incident, data):
        try:
            assignment = incident.role_assignments.get(pk=data["assignment"])
        except RoleAssignment.DoesNotExist:
            raise ValidationError("That role assignment no longer exists.") from None
        services.incident_role_unassign(actor=request.user, assignment=assignment)

    return _incident_action(
        request,
        pk,
        form_class=RoleUnassignForm,
        form_name="role_form",
        run=run,
        success="Role removed.",
        anchor="roles",
    )


@incident_action
def checklist_item_tick(request, pk):
    incident = _incident_or_404(request, pk)

    def run(incident, data):
        services.checklist_item_tick(actor=request.user, item=data["item"], ticked=data["ticked"])

    return _incident_action(
        request,
        pk,
        form_class=ChecklistTickForm,
        form_name="checklist_form",
        run=run,
        success="Checklist updated.",
        anchor="checklists",
        form_kwargs={"incident": incident},
    )


@incident_action
def incident_phase_change(request, pk):
    resolved = []

    def run(incident, data):
        incident = services.incident_phase_change(
            actor=request.user,
            incident=incident,
            phase=data["phase"],
            confirm_skip=data["confirm_skip"],
        )
        if incident.phase == Phase.RESOLVE:
            resolved.append(incident)

    response = _incident_action(
        request,
        pk,
        form_class=PhaseChangeForm,
        form_name="phase_form",
        run=run,
        success="Phase changed.",
        anchor="phase",
    )
    if not resolved:
        return response
    # Resolving leads straight to the Resolved update, its template filled with the duration.
    messages.info(
        request,
        "Now post the Resolved update below: the duration is filled in; replace the root-cause "
        "prompt with what you found.",
    )
    return redirect(
        reverse("incidents:detail", args=[pk]) + f"?update_status={UpdateStatus.RESOLVED}#updates"
    )


@incident_action
def status_update_post(request, pk):
    def run(incident, data):
        services.status_update_post(
            actor=request.user,
            incident=incident,
            status=data["status"],
            body=data["body"],
            is_public=data["is_public"],
        )

    return _incident_action(
        request,
        pk,
        form_class=StatusUpdateForm,
        form_name="update_form",
        run=run,
        success="Status update posted.",
        anchor="updates",
    )


@incident_action
def incident_note_add(request, pk):
    def run(incident, data):
        services.incident_note_add(
            actor=request.user,
            incident=incident,
            text=data["text"],
            occurred_at=data["occurred_at"],
        )

    return _incident_action(
        request,
        pk,
        form_class=NoteForm,
        form_name="note_form",
        run=run,
        success="Note added to the timeline.",
        anchor="timeline",
    )


@incident_action
def timeline_entry_star(request, pk):
    incident = _incident_or_404(request, pk)

    def run(incident, data):
        services.timeline_entry_star(
            actor=request.user, entry=data["entry"], is_starred=data["is_starred"]
        )

    return _incident_action(
        request,
        pk,
        form_class=StarForm,
        form_name="star_form",
        run=run,
        success="Timeline entry updated.",
        anchor="timeline",
        form_kwargs={"incident": incident},
    )


@incident_action
def incident_acknowledge(request, pk):
    incident = _incident_or_404(request, pk)
    services.incident_acknowledge(actor=request.user, incident=incident)
    messages.success(request, f"You acknowledged {incident.reference}.")
    return redirect(incident)


@incident_action
def incident_mitigate(request, pk):
    incident = _incident_or_404(request, pk)
    try:
        services.incident_mitigate(actor=request.user, incident=incident)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{incident.reference} marked as mitigated.")
    return redirect(incident)


@require_POST
@permission_required("incidents.work_incident", raise_exception=True)
def incident_bulk_acknowledge(request):
    """Acknowledge the selected incidents the user may see; already acknowledged ones are kept."""
    ids = [value for value in request.POST.getlist("selected") if value.isdigit()]
    incidents = selectors.incident_list(user=request.user).filter(
        pk__in=ids, acknowledged_at__isnull=True, resolved_at__isnull=True
    )
    acknowledged = [
        services.incident_acknowledge(actor=request.user, incident=incident).reference
        for incident in incidents
    ]
    if acknowledged:
        messages.success(request, f"Acknowledged {', '.join(acknowledged)}.")
    else:
        messages.error(request, "Select at least one open, unacknowledged incident first.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("incidents:list")
    return redirect(next_url)
