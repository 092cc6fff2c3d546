from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents.forms import zone_name
from incidents.models import Incident
from incidents.selectors import incident_get

from . import services
from .forms import (
    CustodyNoteForm,
    EvidenceItemForm,
    ObligationCloseForm,
    ProcedureStepTickForm,
    RegulationsForm,
    SecurityMarkForm,
    SecurityRoleAssignForm,
    SecurityUpdateForm,
)
from .selectors import regulation_list, security_incident_get, user_may_see_security


def _incident_or_404(request, pk) -> Incident:
    try:
        return incident_get(user=request.user, pk=pk)
    except Incident.DoesNotExist:
        raise Http404(f"No incident INC-{pk} that you can see.") from None


def _form_errors_from(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


def panel_context(request, incident: Incident, bound_forms=None) -> dict:
    """Build what the security panel shows for the incident; empty for non-members."""
    user = request.user
    if not user_may_see_security(user):
        return {"show_security": False}
    record = security_incident_get(user=user, incident=incident)
    context = {
        "show_security": True,
        "incident": incident,
        "record": record,
        "now": timezone.now(),
        "can_mark": user.has_perm("security.mark_securityincident"),
        "can_work_security": user.has_perm("security.work_securityincident"),
        "can_manage_obligations": user.has_perm("security.manage_regulatoryobligation"),
        "mark_form": SecurityMarkForm(),
    }
    if record is not None:
        recorded = {obligation.regulation_id for obligation in record.obligations.all()}
        context.update(
            {
                "update_form": SecurityUpdateForm(
                    initial={
                        "security_class": record.security_class_id,
                        "aware_at": timezone.localtime(record.aware_at),
                    }
                ),
                "role_form": SecurityRoleAssignForm(),
                "evidence_form": EvidenceItemForm(initial={"collected_by": user.pk}),
                "regulations_form": RegulationsForm(),
                "unrecorded_regulations": [
                    regulation for regulation in regulation_list() if regulation.pk not in recorded
                ],
                "close_form": ObligationCloseForm(),
            }
        )
    context.update(bound_forms or {})
    return context


@require_GET
def security_incident_page(request, pk):
    incident = _incident_or_404(request, pk)
    if not user_may_see_security(request.user):
        raise PermissionDenied("Only the Security group works security incidents.")
    context = panel_context(request, incident)
    context["zone_name"] = zone_name()
    return render(request, "security/security_incident.html", context)


def _security_action(request, pk, *, form_class, form_name, run, success):
    """Validate a form from the security panel and run one service with it.

    On success, redirect to the incident page's security panel; on error, show the security page
    with the form's errors inline and what was typed kept.
    """
    incident = _incident_or_404(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            run(incident, form.cleaned_data)
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, success)
            return redirect(reverse("incidents:detail", args=[incident.pk]) + "#security")
    context = panel_context(request, _incident_or_404(request, pk), {form_name: form})
    context["zone_name"] = zone_name()
    return render(request, "security/security_incident.html", context, status=400)


def _record_or_404(request, incident):
    record = security_incident_get(user=request.user, incident=incident)
    if record is None:
        raise Http404(f"{incident.reference} is not a security incident.")
    return record


@require_POST
def security_incident_mark(request, pk):
    def run(incident, data):
        services.security_incident_mark(
            actor=request.user,
            incident=incident,
            security_class=data["security_class"],
            aware_at=data["aware_at"],
        )

    return _security_action(
        request,
        pk,
        form_class=SecurityMarkForm,
        form_name="mark_form",
        run=run,
        success="Marked as a security incident; only the Security group sees it now.",
    )


@require_POST
def security_incident_update(request, pk):
    def run(incident, data):
        services.security_incident_update(
            actor=request.user,
            security_incident=_record_or_404(request, incident),
            security_class=data["security_class"],
            aware_at=data["aware_at"],
        )

    return _security_action(
        request,
        pk,
        form_class=SecurityUpdateForm,
        form_name="update_form",
        run=run,
        success="Security class and awareness time saved.",
    )


@require_POST
def security_role_assign(request, pk):
    def run(incident, data):
        services.security_role_assign(
            actor=request.user,
            security_incident=_record_or_404(request, incident),
            role=data["role"],
            user=data["user"],
        )

    return _security_action(
        request,
        pk,
        form_class=SecurityRoleAssignForm,
        form_name="role_form",
        run=run,
        success="Security role assigned.",
    )


@require_POST
def procedure_step_tick(request, pk):
    def run(incident, data):
        record = _record_or_404(request, incident)
        step = record.steps.filter(pk=data["record"]).first()
        if step is None:
            raise ValidationError("That procedure step is not part of this incident.")
        services.procedure_step_tick(
            actor=request.user, record=step, done=data["done"], note=data["note"]
        )

    return _security_action(
        request,
        pk,
        form_class=ProcedureStepTickForm,
        form_name="step_form",
        run=run,
        success="Procedure step updated.",
    )


@require_POST
def evidence_item_add(request, pk):
    def run(incident, data):
        services.evidence_item_add(
            actor=request.user, security_incident=_record_or_404(request, incident), **data
        )

    return _security_action(
        request,
        pk,
        form_class=EvidenceItemForm,
        form_name="evidence_form",
        run=run,
        success="Evidence logged.",
    )


@require_POST
def evidence_custody_note_add(request, pk):
    def run(incident, data):
        record = _record_or_404(request, incident)
        item = record.evidence_items.filter(pk=data["item"]).first()
        if item is None:
            raise ValidationError("That evidence item is not part of this incident.")
        services.evidence_custody_note_add(actor=request.user, item=item, text=data["text"])

    return _security_action(
        request,
        pk,
        form_class=CustodyNoteForm,
        form_name="custody_form",
        run=run,
        success="Custody note added.",
    )


@require_POST
def regulatory_obligations_mark(request, pk):
    def run(incident, data):
        services.regulatory_obligations_mark(
            actor=request.user,
            security_incident=_record_or_404(request, incident),
            regulations=data["regulations"],
        )

    return _security_action(
        request,
        pk,
        form_class=RegulationsForm,
        form_name="regulations_form",
        run=run,
        success="Regulatory obligations recorded.",
    )


@require_POST
def regulatory_obligation_close(request, pk):
    def run(incident, data):
        record = _record_or_404(request, incident)
        obligation = record.obligations.filter(pk=data["obligation"]).first()
        if obligation is None:
            raise ValidationError("That obligation is not part of this incident.")
        services.regulatory_obligation_close(
            actor=request.user,
            obligation=obligation,
            notified_at=data["notified_at"],
            notice_method=data["notice_method"],
            notice_reference=data["notice_reference"],
        )

    return _security_action(
        request,
        pk,
        form_class=ObligationCloseForm,
        form_name="close_form",
        run=run,
        success="Notice recorded; the obligation is closed.",
    )
