import csv
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin, SingleTableView

from incidents.forms import zone_name
from incidents.models import Incident

from . import charts as charts_module
from . import reports, reviews, selectors, services
from .filters import ActionItemFilter
from .forms import (
    ActionItemForm,
    ActionItemUpdateForm,
    BulkStatusForm,
    PostmortemForm,
    ReviewCompleteForm,
    ReviewItemForm,
    StateChangeForm,
    TimelineFormSet,
)
from .models import ActionItem, Postmortem, TemplateSection, WeeklyReview
from .rendering import markdown_to_html, postmortem_markdown, section_markdown
from .tables import ActionItemTable, PostmortemTable

VIEW_PERMISSION = "postmortems.view_postmortem"

CSV_COLUMNS = [
    "id",
    "title",
    "owner",
    "team",
    "priority",
    "status",
    "due_date",
    "overdue_days",
    "incident",
    "severity",
]


def _form_errors_from(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


def _postmortem_or_404(request, pk) -> Postmortem:
    try:
        return selectors.postmortem_get(user=request.user, pk=pk)
    except Postmortem.DoesNotExist:
        raise Http404(f"No post-mortem {pk}.") from None


def _action_item_or_404(request, pk) -> ActionItem:
    try:
        return selectors.action_item_list(user=request.user).get(pk=pk)
    except ActionItem.DoesNotExist:
        raise Http404(f"No action item {pk}.") from None


class PostmortemListView(SingleTableView):
    table_class = PostmortemTable
    template_name = "postmortems/postmortem_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("You need the view permission for post-mortems.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.postmortem_list(user=self.request.user)

    def get_table_kwargs(self):
        return {"now": timezone.now()}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["zone_name"] = zone_name()
        context["review_zone_name"] = selectors.review_zone().key
        return context


def _sections(postmortem: Postmortem) -> list[dict]:
    sections = []
    for section in selectors.template_section_list():
        entry = {"section": section, "key": section.key}
        if section.key not in (
            TemplateSection.Key.TIMELINE,
            TemplateSection.Key.IMPACT,
            TemplateSection.Key.ACTION_ITEMS,
        ):
            entry["html"] = markdown_to_html(section_markdown(postmortem, section.key))
        sections.append(entry)
    return sections


def _detail_context(request, postmortem, *, item_form=None):
    now = timezone.now()
    items = list(
        selectors.action_item_list(user=request.user)
        .filter(postmortem=postmortem)
        .order_by("priority__level", "due_date", "id")
    )
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "sections": _sections(postmortem),
        "customer_summary_html": markdown_to_html(postmortem.customer_summary),
        "items": items,
        "today": selectors.review_today(now),
        "now": now,
        "next_states": services.STATE_TRANSITIONS[postmortem.state],
        "state_labels": dict(Postmortem.State.choices),
        "item_form": item_form or ActionItemForm(),
        "is_overdue": postmortem.is_overdue(now),
        "can_write": request.user.has_perm(services.WRITE_PERMISSION),
        "zone_name": zone_name(),
    }


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def postmortem_detail(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    return render(
        request, "postmortems/postmortem_detail.html", _detail_context(request, postmortem)
    )


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def postmortem_print(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    return render(
        request, "postmortems/postmortem_print.html", _detail_context(request, postmortem)
    )


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def postmortem_export(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    text = postmortem_markdown(postmortem, selectors.template_section_list())
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"postmortem-{postmortem.incident.reference}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _timeline_initial(postmortem):
    return [
        {"occurred_at": timezone.localtime(entry.occurred_at), "event": entry.event}
        for entry in postmortem.timeline.all()
    ]


@permission_required(services.WRITE_PERMISSION, raise_exception=True)
def postmortem_edit(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    if request.method == "POST":
        form = PostmortemForm(request.POST, instance=postmortem)
        timeline = TimelineFormSet(request.POST, prefix="timeline")
        if form.is_valid() and timeline.is_valid():
            data = form.cleaned_data
            fields = {name: data[name] for name in services.POSTMORTEM_EDITABLE_FIELDS}
            rows = [
                (row["occurred_at"], row["event"])
                for row in timeline.cleaned_data
                if row and not row.get("DELETE")
            ]
            try:
                services.postmortem_update(
                    actor=request.user,
                    postmortem=postmortem,
                    fields=fields,
                    reviewers=data["reviewers"],
                )
                services.postmortem_timeline_set(
                    actor=request.user, postmortem=postmortem, entries=rows
                )
            except ValidationError as error:
                _form_errors_from(form, error)
            else:
                messages.success(request, "Post-mortem saved.")
                return redirect(postmortem)
        status = 400
    else:
        form = PostmortemForm(instance=postmortem)
        timeline = TimelineFormSet(initial=_timeline_initial(postmortem), prefix="timeline")
        status = 200
    context = {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "form": form,
        "timeline": timeline,
        "sections": {section.key: section for section in selectors.template_section_list()},
        "zone_name": zone_name(),
    }
    return render(request, "postmortems/postmortem_edit.html", context, status=status)


@require_POST
@permission_required(services.WRITE_PERMISSION, raise_exception=True)
def postmortem_timeline_refresh(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    added = services.postmortem_timeline_refresh(actor=request.user, postmortem=postmortem)
    messages.success(request, f"Added {added} event{'' if added == 1 else 's'} from the incident.")
    return redirect(reverse("postmortems:edit", args=[postmortem.pk]) + "#timeline")


@require_POST
@permission_required(services.WRITE_PERMISSION, raise_exception=True)
def postmortem_state_change(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    form = StateChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a state.")
        return redirect(postmortem)
    try:
        postmortem = services.postmortem_state_change(
            actor=request.user, postmortem=postmortem, state=form.cleaned_data["state"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Post-mortem is now {postmortem.get_state_display()}.")
    return redirect(postmortem)


@require_POST
@permission_required(services.WRITE_PERMISSION, raise_exception=True)
def postmortem_request(request, incident_pk):
    try:
        incident = Incident.objects.get(pk=incident_pk)
    except Incident.DoesNotExist:
        raise Http404(f"No incident INC-{incident_pk}.") from None
    try:
        postmortem = services.postmortem_create(actor=request.user, incident=incident)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(incident)
    messages.success(request, f"Post-mortem of {incident.reference} started.")
    return redirect(postmortem)


@require_POST
@permission_required(services.WRITE_PERMISSION, raise_exception=True)
def action_item_add(request, pk):
    postmortem = _postmortem_or_404(request, pk)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        try:
            services.action_item_create(
                actor=request.user, postmortem=postmortem, **form.cleaned_data
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Action item added.")
            return redirect(reverse("postmortems:detail", args=[postmortem.pk]) + "#action_items")
    context = _detail_context(request, postmortem, item_form=form)
    return render(request, "postmortems/postmortem_detail.html", context, status=400)


class ActionItemListView(SingleTableMixin, FilterView):
    table_class = ActionItemTable
    filterset_class = ActionItemFilter
    template_name = "postmortems/action_item_list.html"
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("You need the view permission for post-mortems.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.action_item_list(user=self.request.user)

    def get_table_kwargs(self):
        return {
            "today": selectors.review_today(timezone.now()),
            "can_manage": self.request.user.has_perm(services.MANAGE_PERMISSION),
        }

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            filterset = self.get_filterset(self.get_filterset_class())
            if not filterset.is_valid():
                return HttpResponse("Invalid filters.", status=400, content_type="text/plain")
            return _action_items_csv(filterset.qs.order_by("due_date", "id"))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        query["format"] = "csv"
        context["csv_query"] = query.urlencode()
        context["current_query"] = self.request.GET.urlencode()
        today = selectors.review_today(timezone.now())
        context["overdue_count"] = self.object_list.filter(
            status__in=ActionItem.OPEN_STATUSES, due_date__lt=today
        ).count()
        context["bulk_form"] = BulkStatusForm()
        context["can_manage"] = self.request.user.has_perm(services.MANAGE_PERMISSION)
        context["zone_name"] = zone_name()
        return context


def _action_items_csv(items) -> HttpResponse:
    today = selectors.review_today(timezone.now())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="action-items.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for item in items.iterator(chunk_size=1000):
        writer.writerow(
            [
                item.pk,
                item.title,
                item.owner.get_username(),
                item.team.name if item.team else "",
                item.priority.key,
                item.get_status_display(),
                item.due_date.isoformat(),
                item.overdue_days(today),
                item.incident.reference if item.incident else "",
                item.incident.severity.key if item.incident else "",
            ]
        )
    return response


def _safe_next(request, url: str, default: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return default


@require_POST
@permission_required(services.MANAGE_PERMISSION, raise_exception=True)
def action_item_bulk(request):
    form = BulkStatusForm(request.POST)
    default = reverse("postmortems:action_items")
    back = _safe_next(request, request.POST.get("next", ""), default)
    if not form.is_valid():
        messages.error(request, "Select at least one action item and a status.")
        return redirect(back)
    data = form.cleaned_data
    try:
        changed = services.action_item_bulk_status_change(
            actor=request.user, items=data["items"], status=data["status"], reason=data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        label = ActionItem.Status(data["status"]).label
        messages.success(
            request, f"Set {changed} action item{'' if changed == 1 else 's'} to {label}."
        )
    return redirect(back)


@permission_required(VIEW_PERMISSION, raise_exception=True)
def action_item_detail(request, pk):
    item = _action_item_or_404(request, pk)
    if request.method == "POST":
        form = ActionItemUpdateForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            comment = data.pop("comment")
            try:
                services.action_item_update(
                    actor=request.user, item=item, changes=data, comment=comment
                )
            except ValidationError as error:
                _form_errors_from(form, error)
            else:
                messages.success(request, "Action item saved.")
                return redirect("postmortems:action_item_detail", pk=item.pk)
        status = 400
    else:
        form = ActionItemUpdateForm(
            initial={
                "status": item.status,
                "wont_do_reason": item.wont_do_reason,
                "owner": item.owner_id,
                "priority": item.priority_id,
                "due_date": item.due_date,
            }
        )
        status = 200
    context = {
        "item": item,
        "form": form,
        "history": selectors.action_item_history(item),
        "overdue_days": item.overdue_days(selectors.review_today(timezone.now())),
        "zone_name": zone_name(),
    }
    return render(request, "postmortems/action_item_detail.html", context, status=status)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def review_list(request):
    context = {
        "reviews": WeeklyReview.objects.select_related("completed_by")[:52],
        "zone_name": zone_name(),
    }
    return render(request, "postmortems/review_list.html", context)


def _review_or_404(week: str) -> WeeklyReview:
    try:
        return selectors.weekly_review_get(week_start=datetime.date.fromisoformat(week))
    except (ValueError, WeeklyReview.DoesNotExist):
        raise Http404(f"No weekly review for the week of {week}.") from None


def _review_context(request, review, *, bound=None, complete_form=None):
    mine = request.GET.get("mine") == "1"
    entries = list(
        selectors.weekly_review_entry_list(review=review, user=request.user if mine else None)
    )
    today = selectors.review_today(timezone.now())
    # One query for the owner choices of every row's form, not one per row.
    owner_field = ReviewItemForm.base_fields["owner"]
    owner_choices = [("", owner_field.empty_label)] + [
        (user.pk, owner_field.label_from_instance(user)) for user in owner_field.queryset.all()
    ]
    rows = []
    for entry in entries:
        item = entry.item
        if bound is not None and bound[0] == item.pk:
            form = bound[1]
        else:
            form = ReviewItemForm(
                initial={"item": item.pk, "owner": item.owner_id, "due_date": item.due_date},
                prefix=f"item-{item.pk}",
            )
        form.fields["owner"].choices = owner_choices
        rows.append(
            {"entry": entry, "item": item, "overdue_days": item.overdue_days(today), "form": form}
        )
    return {
        "review": review,
        "rows": rows,
        "mine": mine,
        "overdue_count": sum(1 for row in rows if row["overdue_days"]),
        "complete_form": complete_form or ReviewCompleteForm(),
        "can_manage": request.user.has_perm(services.MANAGE_PERMISSION),
        "zone_name": zone_name(),
    }


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def review_detail(request, week):
    review = _review_or_404(week)
    return render(request, "postmortems/review_detail.html", _review_context(request, review))


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def review_current(request):
    week_start = selectors.review_week_start(timezone.now(), selectors.review_zone())
    review = WeeklyReview.objects.filter(week_start__lte=week_start).first()
    if review is None:
        messages.info(request, "No weekly review has started yet.")
        return redirect("postmortems:review_list")
    return redirect(review)


@require_POST
@permission_required(services.MANAGE_PERMISSION, raise_exception=True)
def review_item_update(request, week, item_pk):
    review = _review_or_404(week)
    if not review.entries.filter(item_id=item_pk).exists():
        raise Http404(f"Action item {item_pk} is not on this review.")
    item = _action_item_or_404(request, item_pk)
    form = ReviewItemForm(request.POST, prefix=f"item-{item.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.action_item_update(
                actor=request.user,
                item=item,
                changes={"owner": data["owner"], "due_date": data["due_date"]},
                comment=data["comment"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Saved {item.title}.")
            return redirect(review.get_absolute_url() + f"#item-{item.pk}")
    context = _review_context(request, review, bound=(item.pk, form))
    return render(request, "postmortems/review_detail.html", context, status=400)


@require_POST
@permission_required(services.MANAGE_PERMISSION, raise_exception=True)
def review_complete(request, week):
    review = _review_or_404(week)
    form = ReviewCompleteForm(request.POST)
    if form.is_valid():
        try:
            reviews.weekly_review_complete(
                actor=request.user, review=review, notes=form.cleaned_data["notes"]
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Review of the week of {review.week_start} marked done.")
            return redirect(review)
    context = _review_context(request, review, complete_form=form)
    return render(request, "postmortems/review_detail.html", context, status=400)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def report(request):
    now = timezone.now()
    try:
        quarter = reports.Quarter.parse(request.GET.get("quarter", ""))
    except ValueError:
        quarter = reports.Quarter.containing(now.astimezone(datetime.UTC).date())
    tables = reports.quarterly_report(quarter, now, request.user)
    wanted = request.GET.get("table")
    if request.GET.get("format") == "csv":
        table = next((table for table in tables if table.key == wanted), None)
        if table is None:
            raise Http404(f"No report table {wanted!r}.")
        return _report_csv(table, quarter)
    by_key = {table.key: table for table in tables}
    severity_columns = list(range(1, len(by_key["incidents"].columns) - 1))
    charts = {
        "incidents": charts_module.bar_chart(
            by_key["incidents"], columns=severity_columns, stacked=True
        ),
        "postmortems": charts_module.bar_chart(by_key["postmortems"], columns=[1, 2, 3]),
        "action_items": charts_module.bar_chart(by_key["action_items"], columns=[1, 2, 3]),
        "pages_per_rotation": charts_module.bar_chart(
            by_key["pages_per_rotation"], columns=[1, 2, 3], stacked=True
        ),
        "pages_per_person": charts_module.bar_chart(
            by_key["pages_per_person"], columns=[1, 2, 3], stacked=True
        ),
    }
    context = {
        "quarter": quarter,
        "sections": [(table, charts.get(table.key)) for table in tables],
        "previous": quarter.previous(),
        "next": quarter.next(),
        "zone_name": zone_name(),
    }
    return render(request, "postmortems/report.html", context)


def _report_csv(table, quarter) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.key}-{quarter}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows(["" if value is None else value for value in row] for row in table.rows)
    return response
