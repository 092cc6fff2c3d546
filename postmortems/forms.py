from django import forms
from django.contrib.auth import get_user_model

from incidents.forms import LocalDateTimeInput, UserChoiceField

from .models import ActionItem, ActionItemPriority, Postmortem, Team

User = get_user_model()


def _people():
    return User.objects.filter(is_active=True).order_by("username")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class PostmortemForm(forms.ModelForm):
    author = UserChoiceField(queryset=_people(), required=False)
    reviewers = forms.ModelMultipleChoiceField(
        queryset=_people(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Reviewers may publish the post-mortem.",
    )
    review_meeting_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput(),
        label="Blameless review meeting",
        help_text="Read in your time zone.",
    )

    class Meta:
        model = Postmortem
        fields = [
            "author",
            "reviewers",
            "review_meeting_at",
            "executive_summary",
            "customers_affected",
            "requests_failed",
            "impact_duration_minutes",
            "financial_impact",
            "sla_impact",
            "root_cause",
            "contributing_factors",
            "what_went_well",
            "what_went_poorly",
            "lessons_learned",
            "customer_summary",
        ]
        labels = {"impact_duration_minutes": "Duration (minutes)", "sla_impact": "SLA impact"}
        widgets = {
            name: forms.Textarea(attrs={"rows": 4})
            for name in [
                "executive_summary",
                "root_cause",
                "contributing_factors",
                "what_went_well",
                "what_went_poorly",
                "lessons_learned",
                "customer_summary",
            ]
        }


class TimelineRowForm(forms.Form):
    occurred_at = forms.DateTimeField(widget=LocalDateTimeInput(), label="Time")
    event = forms.CharField(max_length=300)


TimelineFormSet = forms.formset_factory(TimelineRowForm, extra=2, can_delete=True)


class StateChangeForm(forms.Form):
    state = forms.ChoiceField(choices=Postmortem.State.choices, widget=forms.HiddenInput)


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    owner = UserChoiceField(queryset=_people())
    priority = forms.ModelChoiceField(queryset=ActionItemPriority.objects.all(), empty_label=None)
    due_date = forms.DateField(widget=DateInput())
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, help_text="Empty: the owner's team."
    )


class ActionItemUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    wont_do_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Reason for won't do",
    )
    owner = UserChoiceField(queryset=_people())
    priority = forms.ModelChoiceField(queryset=ActionItemPriority.objects.all(), empty_label=None)
    due_date = forms.DateField(widget=DateInput())
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ReviewItemForm(forms.Form):
    """One row of the weekly review: reassign, move the due date, comment."""

    item = forms.IntegerField(widget=forms.HiddenInput)
    owner = UserChoiceField(queryset=_people())
    due_date = forms.DateField(widget=DateInput())
    comment = forms.CharField(required=False, max_length=1000)


class ReviewCompleteForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class BulkStatusForm(forms.Form):
    items = forms.ModelMultipleChoiceField(
        queryset=ActionItem.objects.all(), widget=forms.MultipleHiddenInput
    )
    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    reason = forms.CharField(required=False, label="Reason (for won't do)")
    next = forms.CharField(required=False, widget=forms.HiddenInput)
