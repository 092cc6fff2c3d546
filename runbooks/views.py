from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from incidents.forms import zone_name
from incidents.models import Incident
from incidents.selectors import incident_get

from . import selectors, services
from .filters import RunbookFilter
from .forms import RunbookStepRunForm
from .models import Runbook
from .rendering import markdown_render
from .tables import RunbookTable


class RunbookListView(SingleTableMixin, FilterView):
    table_class = RunbookTable
    filterset_class = RunbookFilter
    template_name = "runbooks/runbook_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("runbooks.view_runbook"):
            raise PermissionDenied("You need the view permission for runbooks.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.runbook_list()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["zone_name"] = zone_name()
        return context


@require_GET
def runbook_detail(request, key):
    if not request.user.has_perm("runbooks.view_runbook"):
        raise PermissionDenied("You need the view permission for runbooks.")
    try:
        runbook = selectors.runbook_get(key=key)
    except Runbook.DoesNotExist:
        raise Http404(f"No runbook {key!r}.") from None
    context = {
        "runbook": runbook,
        "body_html": markdown_render(runbook.body),
        "steps": selectors.runbook_step_list(runbook),
        "zone_name": zone_name(),
    }
    return render(request, "runbooks/runbook_detail.html", context)


def panel_context(request, incident: Incident, bound_form=None) -> dict:
    """Build the incident page's runbook panel: matching runbooks, each with a step form."""
    runbooks = selectors.runbook_for_incident_list(
        incident, alert_rule_names=selectors.incident_alert_rule_names(incident)
    )
    entries = []
    for runbook in runbooks:
        steps = selectors.runbook_step_list(runbook)
        form = RunbookStepRunForm(initial={"runbook": runbook.pk}, steps=steps)
        if bound_form is not None and bound_form["runbook"].value() in (
            runbook.pk,
            str(runbook.pk),
        ):
            form = bound_form
        entries.append({"runbook": runbook, "steps": steps, "form": form})
    return {
        "incident": incident,
        "runbook_entries": entries,
        "step_runs": selectors.runbook_step_run_list(incident=incident),
        "can_record": request.user.has_perm("runbooks.record_runbookstep"),
    }


@require_POST
def runbook_step_run_record(request, pk):
    try:
        incident = incident_get(user=request.user, pk=pk)
    except Incident.DoesNotExist:
        raise Http404(f"No incident INC-{pk} that you can see.") from None
    runbook = Runbook.objects.filter(pk=request.POST.get("runbook")).first()
    steps = selectors.runbook_step_list(runbook) if runbook else []
    form = RunbookStepRunForm(request.POST, steps=steps)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.runbook_step_run_record(
                actor=request.user,
                incident=incident,
                runbook=data["runbook"],
                step_number=data["step_number"],
                note=data["note"],
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(
                request, f"Recorded step {data['step_number']} of {data['runbook'].title}."
            )
            return redirect(reverse("incidents:detail", args=[incident.pk]) + "#runbooks")
    context = panel_context(request, incident, bound_form=form)
    context["zone_name"] = zone_name()
    context["form_errors"] = form
    return render(request, "runbooks/incident_runbooks.html", context, status=400)
