import zoneinfo

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from .models import (
    ChecklistItem,
    Customer,
    Level,
    Phase,
    ResponseRole,
    Service,
    Severity,
    SeverityCriterion,
    TimelineEntry,
    UpdateStatus,
)

User = get_user_model()


class LocalDateTimeInput(forms.DateTimeInput):
    """A datetime-local input read and shown in the viewer's active time zone."""

    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _people():
    return User.objects.filter(is_active=True).order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        full_name = user.get_full_name()
        return f"{full_name} ({user.username})" if full_name else user.username


class DeclareIncidentForm(forms.Form):
    title = forms.CharField(
        max_length=200, help_text="What is broken, as customers would see it.", strip=True
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Symptoms, first signals and anything already tried.",
    )
    impact = forms.ChoiceField(choices=Level.choices, widget=forms.RadioSelect)
    urgency = forms.ChoiceField(choices=Level.choices, widget=forms.RadioSelect)
    criteria = forms.ModelMultipleChoiceField(
        queryset=SeverityCriterion.objects.select_related("severity"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick every criterion that holds; any one raises the suggested severity.",
    )
    severity = forms.ModelChoiceField(
        queryset=Severity.objects.all(),
        required=False,
        empty_label="Use the suggested severity",
    )
    severity_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for overriding the suggestion",
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    customers = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text="Affected customers, if known.",
    )
    detected_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput(),
        label="Detected at",
        help_text="Leave empty for now. Read in your time zone.",
    )
    commander = UserChoiceField(queryset=_people(), required=False, label="Incident commander")

    def clean_detected_at(self):
        detected_at = self.cleaned_data["detected_at"]
        if detected_at is not None and detected_at > timezone.now():
            raise forms.ValidationError("Detected time is in the future; enter when it began.")
        return detected_at


class SeverityChangeForm(forms.Form):
    severity = forms.ModelChoiceField(queryset=Severity.objects.all(), empty_label=None)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class RoleAssignForm(forms.Form):
    role = forms.ModelChoiceField(queryset=ResponseRole.objects.all(), empty_label=None)
    user = UserChoiceField(queryset=_people(), label="Person")


class ChecklistTickForm(forms.Form):
    item = forms.ModelChoiceField(queryset=ChecklistItem.objects.all(), widget=forms.HiddenInput)
    ticked = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        if incident is not None:
            self.fields["item"].queryset = incident.checklist_items.all()


class PhaseChangeForm(forms.Form):
    phase = forms.ChoiceField(choices=Phase.choices, widget=forms.HiddenInput)
    confirm_skip = forms.BooleanField(
        required=False, label="Move on and record the unticked items as skipped"
    )


class StatusUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=UpdateStatus.choices)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="Update text")
    is_public = forms.BooleanField(
        required=False,
        initial=True,
        label="Public: show on the status page",
    )


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Note")
    occurred_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput(),
        label="Happened at",
        help_text="Only for a late note; read in your time zone.",
    )


class StarForm(forms.Form):
    entry = forms.ModelChoiceField(queryset=TimelineEntry.objects.all(), widget=forms.HiddenInput)
    is_starred = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        if incident is not None:
            self.fields["entry"].queryset = incident.timeline.all()


class RoleUnassignForm(forms.Form):
    assignment = forms.IntegerField(widget=forms.HiddenInput)


def zone_name() -> str:
    zone = timezone.get_current_timezone()
    return zone.key if isinstance(zone, zoneinfo.ZoneInfo) else str(zone)
