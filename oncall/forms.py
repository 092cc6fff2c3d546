from django import forms
from django.contrib.auth import get_user_model
from django.forms import inlineformset_factory
from timezone_field import TimeZoneFormField

from incidents.forms import LocalDateTimeInput, UserChoiceField
from notifications.models import ContactMethod

User = get_user_model()


class OverrideForm(forms.Form):
    user = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        label="Who covers",
    )
    start = forms.DateTimeField(widget=LocalDateTimeInput(), label="From")
    end = forms.DateTimeField(widget=LocalDateTimeInput(), label="Until")
    reason = forms.CharField(
        max_length=200, required=False, help_text="For example: swap with Alice for her holiday."
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The end must be after the start.")
        return data


class ProfileForm(forms.Form):
    time_zone = TimeZoneFormField(
        help_text="Pages, notices and your calendar feed show times in this zone."
    )


ContactMethodFormSet = inlineformset_factory(
    User,
    ContactMethod,
    fields=["channel", "address", "position"],
    extra=1,
    can_delete=True,
)


class ZoneForm(forms.Form):
    """The schedule page's zone switcher, read from ?tz=."""

    tz = TimeZoneFormField(label="Show times in")
