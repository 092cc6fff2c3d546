from django import forms

from .models import Alert, Feedback

CLEAR = "clear"


class AlertMarkForm(forms.Form):
    """Mark the selected alerts, or the one alert of a row button, useful or noisy."""

    alert = forms.ModelMultipleChoiceField(
        queryset=Alert.objects.all(), required=False, label="Alerts"
    )
    feedback = forms.ChoiceField(
        choices=[*Feedback.choices, (CLEAR, "Clear the mark")], label="Mark selected as"
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("alert"):
            self.add_error("alert", "Select at least one alert to mark.")
        return cleaned

    def feedback_value(self) -> str:
        value = self.cleaned_data["feedback"]
        return "" if value == CLEAR else value
