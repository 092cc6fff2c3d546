import datetime
import secrets
import zoneinfo

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents.forms import zone_name
from incidents.views import _form_errors_from

from . import feeds, schedule, selectors, services
from .forms import ContactMethodFormSet, OverrideForm, ProfileForm, ZoneForm
from .models import Profile, Rotation

User = get_user_model()


def _rotation_or_404(pk) -> Rotation:
    try:
        return selectors.rotation_get(pk=pk)
    except Rotation.DoesNotExist:
        raise Http404(f"No rotation {pk}.") from None


def _display_zone(request, rotation=None):
    """Return the zone the page shows times in (?tz=, else the viewer's) and the switcher form."""
    form = ZoneForm(request.GET or None, initial={"tz": zone_name()})
    if request.GET.get("tz") and form.is_valid():
        return form.cleaned_data["tz"], form
    return timezone.get_current_timezone(), form


def _zone_choices(rotation=None) -> list[str]:
    zones = ["UTC", zone_name()]
    if rotation is not None:
        zones.append(rotation.time_zone.key)
    return list(dict.fromkeys(zones))


@require_GET
@permission_required("oncall.view_rotation", raise_exception=True)
def on_call_overview(request):
    now = timezone.now()
    context = {
        "layers": selectors.layer_on_call_list(now=now),
        "rotations": selectors.rotation_list(active_only=False),
        "zone_name": zone_name(),
        "now": now,
        "my_shifts": selectors.user_shift_list(
            user=request.user,
            start=now,
            end=now + datetime.timedelta(weeks=selectors.SCHEDULE_WEEKS),
        )[:1],
        "schedule_weeks": selectors.SCHEDULE_WEEKS,
    }
    return render(request, "oncall/on_call_overview.html", context)


@require_GET
@permission_required("oncall.view_rotation", raise_exception=True)
def rotation_schedule(request, pk):
    rotation = _rotation_or_404(pk)
    zone, zone_form = _display_zone(request, rotation)
    now = timezone.now()
    with timezone.override(zone):
        first_week = schedule.week_start(now, zone)
        end = first_week + datetime.timedelta(weeks=selectors.SCHEDULE_WEEKS)
        shifts = selectors.shift_list(rotation=rotation, start=first_week, end=end)
        gaps = selectors.gap_list(shifts=shifts, start=first_week, end=end)
        context = {
            "rotation": rotation,
            "members": rotation.members.all(),
            "weeks": schedule.week_rows_build(
                shifts=shifts,
                gaps=gaps,
                first_week=first_week,
                weeks=selectors.SCHEDULE_WEEKS,
                now=now,
                colours=schedule.member_colours(rotation),
            ),
            "shift_rows": _with_now_marker(shifts, now),
            "upcoming_gaps": [gap for gap in gaps if gap.end > now],
            "current": next((shift for shift in shifts if shift.contains(now)), None),
            "now": now,
            "schedule_weeks": selectors.SCHEDULE_WEEKS,
            "zone_form": zone_form,
            "zone_choices": _zone_choices(rotation),
            "zone_name": zone.key if isinstance(zone, zoneinfo.ZoneInfo) else str(zone),
            "can_add_override": request.user.has_perm("oncall.add_override"),
            "can_rotate_feed": request.user.has_perm("oncall.rotate_feed_token"),
            "feed_url": feeds.rotation_feed_url(rotation),
        }
        return render(request, "oncall/rotation_schedule.html", context)


def _with_now_marker(shifts, now) -> list:
    """Return the shifts with None where now falls between two shifts, for the table's now line."""
    rows = []
    marked = False
    for shift in shifts:
        if not marked and shift.start > now:
            rows.append(None)
            marked = True
        rows.append(shift)
        if shift.contains(now):
            marked = True
    if not marked:
        rows.append(None)
    return rows


@permission_required("oncall.add_override", raise_exception=True)
def override_add(request, pk):
    rotation = _rotation_or_404(pk)
    zone, _ = _display_zone(request, rotation)
    with timezone.override(zone):
        if request.method == "POST":
            form = OverrideForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.override_create(
                        actor=request.user,
                        rotation=rotation,
                        user=data["user"],
                        start=data["start"],
                        end=data["end"],
                        reason=data["reason"],
                    )
                except ValidationError as error:
                    _form_errors_from(form, error)
                else:
                    messages.success(
                        request,
                        f"{data['user'].get_username()} now covers {rotation.name} for that time.",
                    )
                    return redirect(_schedule_url(rotation, request))
            status = 400
        else:
            form = OverrideForm(initial={"user": request.user.pk})
            status = 200
        context = {
            "rotation": rotation,
            "form": form,
            "zone_name": zone.key if isinstance(zone, zoneinfo.ZoneInfo) else str(zone),
            "tz": request.GET.get("tz", ""),
        }
        return render(request, "oncall/override_form.html", context, status=status)


def _schedule_url(rotation, request) -> str:
    url = reverse("oncall:rotation_schedule", args=[rotation.pk])
    tz = request.GET.get("tz")
    return f"{url}?tz={tz}" if tz else url


@require_POST
@permission_required("oncall.rotate_feed_token", raise_exception=True)
def rotation_feed_token_rotate(request, pk):
    rotation = _rotation_or_404(pk)
    services.rotation_feed_token_rotate(actor=request.user, rotation=rotation)
    messages.success(request, "The calendar feed has a new address; the old one no longer works.")
    return redirect(_schedule_url(rotation, request) + "#feed")


@require_GET
def my_shifts(request):
    now = timezone.now()
    token = services.profile_feed_token_get(user=request.user)
    shifts = selectors.user_shift_list(
        user=request.user,
        start=now,
        end=now + datetime.timedelta(weeks=selectors.SCHEDULE_WEEKS),
    )
    context = {
        "shifts": shifts,
        "now": now,
        "schedule_weeks": selectors.SCHEDULE_WEEKS,
        "feed_url": feeds.person_feed_url(request.user, token),
        "zone_name": zone_name(),
    }
    return render(request, "oncall/my_shifts.html", context)


def profile_edit(request):
    user = request.user
    profile = services.profile_get(user=user)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        formset = ContactMethodFormSet(request.POST, instance=user)
        if form.is_valid() and formset.is_valid():
            try:
                _profile_save(user, form, formset)
            except ValidationError as error:
                _form_errors_from(form, error)
            else:
                messages.success(request, "Profile saved.")
                return redirect("oncall:profile")
        status = 400
    else:
        form = ProfileForm(initial={"time_zone": profile.time_zone})
        formset = ContactMethodFormSet(instance=user)
        status = 200
    context = {
        "form": form,
        "formset": formset,
        "feed_url": feeds.person_feed_url(user, services.profile_feed_token_get(user=user)),
        "zone_name": zone_name(),
    }
    return render(request, "oncall/profile.html", context, status=status)


@transaction.atomic
def _profile_save(user, form, formset) -> None:
    services.profile_update(actor=user, user=user, time_zone=form.cleaned_data["time_zone"])
    for method_form in formset.forms:
        method = method_form.instance
        if method_form.cleaned_data.get("DELETE"):
            if method.pk is not None:
                services.contact_method_delete(actor=user, method=method)
            continue
        if not method_form.has_changed():
            continue
        data = method_form.cleaned_data
        services.contact_method_save(
            actor=user,
            user=user,
            channel=data["channel"],
            address=data["address"],
            position=data["position"],
            method=method if method.pk is not None else None,
        )


@require_POST
def profile_feed_token_rotate(request):
    services.profile_feed_token_rotate(actor=request.user, user=request.user)
    messages.success(request, "Your calendar feed has a new address; the old one no longer works.")
    return redirect(reverse("oncall:profile") + "#feed")


def _feed_response(request, body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _feed_window():
    now = timezone.now()
    return now - feeds.FEED_HISTORY, now + datetime.timedelta(weeks=selectors.SCHEDULE_WEEKS)


@login_not_required
@require_GET
def rotation_feed(request, pk, token):
    rotation = Rotation.objects.select_related("layer").filter(pk=pk).first()
    # Compare in constant time so response timing does not reveal how much of a guess matched.
    if rotation is None or not secrets.compare_digest(rotation.feed_token, token):
        raise Http404("No calendar feed at this address.")
    start, end = _feed_window()
    shifts = selectors.shift_list(rotation=rotation, start=start, end=end)
    body = feeds.calendar_build(name=f"On call: {rotation.name}", shifts=shifts, with_person=True)
    return _feed_response(request, body, f"rotation-{rotation.pk}.ics")


@login_not_required
@require_GET
def person_feed(request, user_pk, token):
    profile = Profile.objects.select_related("user").filter(user_id=user_pk).first()
    if (
        profile is None
        or not profile.feed_token
        or not profile.user.is_active
        or not secrets.compare_digest(profile.feed_token, token)
    ):
        raise Http404("No calendar feed at this address.")
    user = profile.user
    start, end = _feed_window()
    shifts = selectors.user_shift_list(user=user, start=start, end=end)
    name = user.get_full_name() or user.get_username()
    body = feeds.calendar_build(name=f"On-call shifts of {name}", shifts=shifts, with_person=False)
    return _feed_response(request, body, "my-shifts.ics")
