from django import forms
from django.contrib.auth import get_user_model

from arka_portal.groups import SECURITY_GROUP
from incidents.forms import LocalDateTimeInput, UserChoiceField

from .models import Regulation, SecurityClass, SecurityRole

User = get_user_model()


def _security_members():
    return (
        User.objects.filter(is_active=True)
        .filter(groups__name=SECURITY_GROUP)
        .distinct()
        .order_by("username")
    )


class SecurityMarkForm(forms.Form):
    security_class = forms.ModelChoiceField(
        queryset=SecurityClass.objects.all(), empty_label=None, label="Security class"
    )
    aware_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput(),
        label="Aware since",
        help_text="When the team became aware of the breach; empty for now. Regulatory "
        "deadlines count from here. Read in your time zone.",
    )


class SecurityUpdateForm(forms.Form):
    security_class = forms.ModelChoiceField(
        queryset=SecurityClass.objects.all(), empty_label=None, label="Security class"
    )
    aware_at = forms.DateTimeField(
        widget=LocalDateTimeInput(),
        label="Aware since",
        help_text="Open regulatory deadlines move with it. Read in your time zone.",
    )


class SecurityRoleAssignForm(forms.Form):
    role = forms.ModelChoiceField(queryset=SecurityRole.objects.all(), empty_label=None)
    user = UserChoiceField(
        queryset=_security_members(), label="Person", help_text="Security group members only."
    )


class ProcedureStepTickForm(forms.Form):
    record = forms.IntegerField(widget=forms.HiddenInput)
    done = forms.BooleanField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=500, label="Note")


class EvidenceItemForm(forms.Form):
    description = forms.CharField(max_length=300)
    location = forms.CharField(
        max_length=300, label="Kept at", help_text="Where the evidence is stored."
    )
    sha256 = forms.CharField(
        max_length=64, required=False, label="SHA-256", help_text="64 hexadecimal digits."
    )
    collected_by = UserChoiceField(queryset=_security_members(), label="Collected by")
    collected_at = forms.DateTimeField(
        required=False,
        widget=LocalDateTimeInput(),
        label="Collected at",
        help_text="Empty for now. Read in your time zone.",
    )
    custody_notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Chain of custody",
        help_text="Who holds it now and how it got there.",
    )


class CustodyNoteForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    text = forms.CharField(max_length=500, label="Hand-over note")


class RegulationsForm(forms.Form):
    regulations = forms.ModelMultipleChoiceField(
        queryset=Regulation.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="Regulations that apply",
    )


class ObligationCloseForm(forms.Form):
    obligation = forms.IntegerField(widget=forms.HiddenInput)
    notified_at = forms.DateTimeField(
        widget=LocalDateTimeInput(), label="Notice sent at", help_text="Read in your time zone."
    )
    notice_method = forms.CharField(
        max_length=200,
        label="Sent by",
        help_text="For example the authority's online form, or email to its breach address.",
    )
    notice_reference = forms.CharField(
        max_length=200, required=False, label="Reference", help_text="Case number, if given."
    )
