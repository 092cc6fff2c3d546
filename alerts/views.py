import csv
import datetime
import functools
import logging
from urllib.parse import urlencode, urlparse

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import Http404, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from incidents.forms import zone_name

from . import receiver, selectors, services
from .filters import AlertFilter
from .forms import AlertMarkForm
from .models import Integration, IntegrationKind
from .tables import AlertTable, DeliveryTable, IntegrationTable, RejectedDeliveryTable

logger = logging.getLogger(__name__)

INBOX_PAGE_SIZE = 50
INTEGRATION_ROWS = 25


def json_only(view):
    """Return JSON for every outcome of a webhook view, and a 503 for any unexpected error.

    Senders retry a 5xx, so an error the portal did not foresee becomes a retry rather than a lost
    alert; Django's HTML error pages never reach a sender.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except DatabaseError:
            logger.exception("Database error while receiving an alert webhook")
            response = receiver.retry_later("The database is unavailable.")
        except Exception:
            logger.exception("Unexpected error while receiving an alert webhook")
            response = receiver.retry_later("The portal failed to take the request.")
        return _json_response(response)

    return wrapper


def _json_response(response: receiver.WebhookResponse) -> JsonResponse:
    return JsonResponse(response.body, status=response.status, headers=response.headers)


@csrf_exempt
@login_not_required
@json_only
def webhook(request, kind: str, token: str = ""):
    if request.method != "POST":
        return JsonResponse(
            {"error": f"Use POST to send alerts; {request.method} is not accepted."},
            status=405,
            headers={"Allow": "POST"},
        )
    response = receiver.webhook_receive(
        kind=kind,
        path_token=token,
        headers={name.lower(): value for name, value in request.headers.items()},
        read_body=request.read,
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    return _json_response(response)


def _inbox_context(request, params: QueryDict, mark_form: AlertMarkForm) -> dict:
    alert_filter = AlertFilter(params, queryset=selectors.alert_list(user=request.user))
    alerts = alert_filter.qs
    can_mark = request.user.has_perm("alerts.mark_alert")
    table = AlertTable(alerts, request=request, can_mark=can_mark)
    RequestConfig(request, paginate={"per_page": INBOX_PAGE_SIZE}).configure(table)
    query = params.urlencode()
    return {
        "filter": alert_filter,
        "table": table,
        "mark_form": mark_form,
        "noisiest": selectors.rule_noisiest_list(alerts=alerts),
        "export_url": reverse("alerts:export") + (f"?{query}" if query else ""),
        "current_url": request.get_full_path(),
        "can_mark": can_mark,
        "zone_name": zone_name(),
    }


@require_GET
@permission_required("alerts.view_alert", raise_exception=True)
def alert_inbox(request):
    context = _inbox_context(request, request.GET, AlertMarkForm())
    return render(request, "alerts/alert_inbox.html", context)


CSV_COLUMNS = [
    ("id", lambda alert: alert.pk),
    ("source", lambda alert: alert.source),
    ("integration", lambda alert: alert.integration.name),
    ("identity", lambda alert: alert.identity),
    ("occurrence", lambda alert: alert.occurrence),
    ("status", lambda alert: alert.status),
    ("severity", lambda alert: alert.severity.key),
    ("rule", lambda alert: alert.rule.name if alert.rule else ""),
    ("title", lambda alert: alert.title),
    ("service", lambda alert: alert.service),
    ("incident", lambda alert: alert.incident.reference if alert.incident else ""),
    ("starts_at_utc", lambda alert: _utc(alert.starts_at)),
    ("ends_at_utc", lambda alert: _utc(alert.ends_at)),
    ("first_seen_at_utc", lambda alert: _utc(alert.first_seen_at)),
    ("last_seen_at_utc", lambda alert: _utc(alert.last_seen_at)),
    ("resolved_at_utc", lambda alert: _utc(alert.resolved_at)),
    ("repeat_count", lambda alert: alert.repeat_count),
    ("feedback", lambda alert: alert.feedback),
]


def _utc(value: datetime.datetime | None) -> str:
    return value.astimezone(datetime.UTC).isoformat() if value else ""


class _Echo:
    def write(self, value):
        return value


def _csv_safe(value):
    # A cell starting with = + - @ would run as a formula in a spreadsheet; quote it as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


@require_GET
@permission_required("alerts.view_alert", raise_exception=True)
def alert_export(request):
    alert_filter = AlertFilter(request.GET, queryset=selectors.alert_list(user=request.user))
    alerts = alert_filter.qs.order_by("-last_seen_at", "-id")
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow([name for name, _ in CSV_COLUMNS])
        for alert in alerts.iterator(chunk_size=500):
            yield writer.writerow([_csv_safe(value(alert)) for _, value in CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="alerts.csv"'
    return response


def _mark_data(request) -> QueryDict:
    """Turn a row button ("12:noisy") into the same data as a bulk selection."""
    one = request.POST.get("mark_one", "")
    if not one:
        return request.POST
    alert_id, _, feedback = one.partition(":")
    data = QueryDict(mutable=True)
    data.setlist("alert", [alert_id])
    data["feedback"] = feedback
    data["next"] = request.POST.get("next", "")
    return data


@require_POST
@permission_required("alerts.mark_alert", raise_exception=True)
def alert_mark(request):
    form = AlertMarkForm(_mark_data(request))
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("alerts:inbox")
    if form.is_valid():
        try:
            count = services.alert_feedback_mark(
                actor=request.user,
                alerts=form.cleaned_data["alert"],
                feedback=form.feedback_value(),
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            label = form.feedback_value() or "not marked"
            messages.success(request, f"Marked {count} alert{'' if count == 1 else 's'} {label}.")
            return redirect(next_url)
    params = QueryDict(urlparse(next_url).query)
    context = _inbox_context(request, params, form)
    return render(request, "alerts/alert_inbox.html", context, status=400)


@require_GET
@permission_required("alerts.view_integration", raise_exception=True)
def integration_list(request):
    table = IntegrationTable(selectors.integration_list(user=request.user), request=request)
    RequestConfig(request, paginate=False).configure(table)
    return render(
        request, "alerts/integration_list.html", {"table": table, "zone_name": zone_name()}
    )


@require_GET
@permission_required("alerts.view_integration", raise_exception=True)
def integration_detail(request, pk: int):
    integration = Integration.objects.select_related("default_severity").filter(pk=pk).first()
    if integration is None:
        raise Http404(f"No alert integration {pk}.")
    endpoint = request.build_absolute_uri(reverse("alerts:webhook", args=[integration.kind]))
    rejected = RejectedDeliveryTable(
        selectors.rejected_delivery_list(integration=integration)[:INTEGRATION_ROWS]
    )
    deliveries = DeliveryTable(
        selectors.delivery_recent_list(integration=integration)[:INTEGRATION_ROWS]
    )
    context = {
        "integration": integration,
        "endpoint": endpoint,
        "token_in_path": integration.kind in (IntegrationKind.SENTRY, IntegrationKind.CLOUDWATCH),
        "rejected_table": rejected,
        "delivery_table": deliveries,
        "subscriptions": integration.sns_subscriptions.all(),
        "inbox_url": reverse("alerts:inbox") + "?" + urlencode({"integration": integration.pk}),
        "zone_name": zone_name(),
    }
    return render(request, "alerts/integration_detail.html", context)
