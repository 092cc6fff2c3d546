from django import forms

from .models import EscalationPage
from .selectors import escalation_trigger_list


class EscalateForm(forms.Form):
    trigger = forms.ModelChoiceField(
        queryset=escalation_trigger_list(),
        empty_label=None,
        label="Reason",
        help_text="The policy's reasons for escalating to the next level.",
    )
    note = forms.CharField(
        required=False,
        max_length=EscalationPage._meta.get_field("note").max_length,
        label="Note",
        help_text="Optional: what the next level should know.",
    )
