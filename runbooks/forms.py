from django import forms

from .models import Runbook


class RunbookStepRunForm(forms.Form):
    runbook = forms.ModelChoiceField(queryset=Runbook.objects.all(), widget=forms.HiddenInput)
    step_number = forms.TypedChoiceField(coerce=int, choices=(), label="Step")
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="What it showed",
        help_text="Optional; recorded on the timeline with the step.",
    )

    def __init__(self, *args, steps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["step_number"].choices = [
            (step.number, f"{step.number}. {step.title}") for step in steps
        ]
