from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.forms import zone_name

from . import selectors, services, tokens
from .feeds import StatusUpdateFeed
from .forms import ComponentChoiceForm, SubscribeForm
from .models import EnterpriseNotice


def _form_errors_from(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


# Public pages


@login_not_required
@require_GET
def status_page(request):
    context = {
        "page": selectors.status_page_get(),
        "zone_name": zone_name(),
        "status_page_title": settings.STATUS_PAGE_TITLE,
    }
    return render(request, "communications/status_page.html", context)


@login_not_required
@require_GET
def status_incident(request, pk):
    incident = selectors.status_page_incident_get(incident_id=pk)
    if incident is None:
        raise Http404("No such incident on the status page.")
    context = {"incident": incident, "zone_name": zone_name()}
    return render(request, "communications/status_incident.html", context)


status_feed = login_not_required(require_GET(StatusUpdateFeed()))


def _incident_json(incident: dict) -> dict:
    return {
        "id": incident["id"],
        "title": incident["title"],
        "status": incident["updates"][0]["status"] if incident["updates"] else None,
        "impact": incident["impact"],
        "components": incident["components"],
        "started_at": incident["started_at"].isoformat(),
        "resolved_at": incident["resolved_at"].isoformat() if incident["resolved_at"] else None,
        "updates": [
            {
                "status": update["status"],
                "body": update["body"],
                "posted_at": update["posted_at"].isoformat(),
            }
            for update in incident["updates"]
        ],
    }


@login_not_required
@require_GET
def status_summary(request):
    page = selectors.status_page_get()
    body = {
        "generated_at": page["generated_at"].isoformat(),
        "time_zone": "UTC",
        "status": {
            "operational": page["banner"]["is_operational"],
            "description": page["banner"]["text"],
        },
        "components": [
            {"name": component["name"], "state": component["state"]}
            for component in page["components"]
        ],
        "open_incidents": [_incident_json(incident) for incident in page["open_incidents"]],
        "resolved_incidents": [_incident_json(incident) for incident in page["resolved_incidents"]],
    }
    return JsonResponse(body)


@login_not_required
@require_http_methods(["GET", "POST"])
def subscribe(request):
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.subscriber_subscribe(
                email=data["email"],
                all_components=data["all_components"],
                components=data["components"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(
                request,
                f"Check {data['email']} for an email from us and follow its link to confirm. "
                "Nothing is sent until you do.",
            )
            return redirect("communications:status")
    status = 400 if request.method == "POST" else 200
    return render(request, "communications/subscribe.html", {"form": form}, status=status)


@login_not_required
@require_http_methods(["GET", "POST"])
def subscribe_confirm(request, token):
    subscriber = tokens.subscriber_from_confirm_token(token)
    if subscriber is None:
        return render(request, "communications/link_invalid.html", status=404)
    if request.method == "POST":
        services.subscriber_confirm(subscriber=subscriber)
        messages.success(request, f"Subscribed: status updates will go to {subscriber.email}.")
        return redirect(
            "communications:subscription", token=tokens.subscriber_token_make(subscriber)
        )
    return render(request, "communications/subscribe_confirm.html", {"subscriber": subscriber})


@login_not_required
@require_http_methods(["GET", "POST"])
def subscription(request, token):
    subscriber = tokens.subscriber_from_token(token)
    if subscriber is None or not subscriber.is_confirmed:
        return render(request, "communications/link_invalid.html", status=404)
    initial = {
        "all_components": "1" if subscriber.all_components else "0",
        "components": subscriber.components.all(),
    }
    form = ComponentChoiceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.subscriber_components_set(
                subscriber=subscriber,
                all_components=form.cleaned_data["all_components"],
                components=form.cleaned_data["components"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Your choice of components is saved.")
            return redirect("communications:subscription", token=token)
    context = {"form": form, "subscriber": subscriber, "token": token}
    status = 400 if request.method == "POST" else 200
    return render(request, "communications/subscription.html", context, status=status)


# Mail clients post the one-click unsubscribe (RFC 8058) without a CSRF token; the signed token
# in the address is the check.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    subscriber = tokens.subscriber_from_token(token)
    if request.method == "POST":
        if subscriber is not None:
            services.subscriber_unsubscribe(subscriber=subscriber)
        return render(request, "communications/unsubscribed.html")
    if subscriber is None:
        return render(request, "communications/link_invalid.html", status=404)
    return render(request, "communications/unsubscribe.html", {"subscriber": subscriber})


# Internal pages


@require_GET
def customer_work(request):
    context = {
        "notices": selectors.enterprise_notice_open_list(user=request.user),
        "now": timezone.now(),
        "zone_name": zone_name(),
    }
    return render(request, "communications/customer_work.html", context)


def _notice_action(request, pk, run, success):
    notice = get_object_or_404(EnterpriseNotice.objects.select_related("incident"), pk=pk)
    try:
        run(notice)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    next_url = request.POST.get("next", "")
    if next_url == "customer_work":
        return redirect("communications:customer_work")
    return redirect(notice.incident.get_absolute_url() + "#customer-communication")


@require_POST
def enterprise_call_complete(request, pk):
    return _notice_action(
        request,
        pk,
        lambda notice: services.enterprise_call_complete(actor=request.user, notice=notice),
        "Call recorded as done.",
    )


@require_POST
def enterprise_report_mark_sent(request, pk):
    return _notice_action(
        request,
        pk,
        lambda notice: services.enterprise_report_mark_sent(actor=request.user, notice=notice),
        "Detailed report recorded as sent.",
    )
