import django_filters
from django.db.models import Q

from .models import Incident, Phase, Service, Severity


class IncidentFilter(django_filters.FilterSet):
    STATE_CHOICES = (("open", "Open"), ("resolved", "Resolved"), ("all", "All"))

    q = django_filters.CharFilter(method="filter_text", label="Search")
    state = django_filters.ChoiceFilter(
        choices=STATE_CHOICES, method="filter_state", label="State", empty_label=None
    )
    severity = django_filters.ModelMultipleChoiceFilter(
        queryset=Severity.objects.all(), field_name="severity"
    )
    phase = django_filters.MultipleChoiceFilter(choices=Phase.choices)
    service = django_filters.ModelChoiceFilter(
        queryset=Service.objects.all(), field_name="services", label="Service"
    )

    class Meta:
        model = Incident
        fields = ["q", "state", "severity", "phase", "service"]

    def __init__(self, data=None, *args, **kwargs):
        # Resolved incidents are hidden unless asked for, so the list starts with live work.
        data = data.copy() if data is not None else {}
        data.setdefault("state", "open")
        super().__init__(data, *args, **kwargs)

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = (
            Q(title__icontains=value)
            | Q(description__icontains=value)
            | Q(channel_name__icontains=value)
        )
        reference = value.upper().removeprefix("INC-")
        if reference.isdigit():
            condition |= Q(pk=int(reference))
        return queryset.filter(condition)

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset
