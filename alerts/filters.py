import django_filters
from django import forms
from django.db.models import Q

from incidents.models import Severity

from .models import Alert, AlertRule, AlertStatus, Feedback, Integration, IntegrationKind

UNMARKED = "unmarked"


class AlertFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    source = django_filters.ChoiceFilter(choices=IntegrationKind.choices, label="Source")
    status = django_filters.MultipleChoiceFilter(
        choices=AlertStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    severity = django_filters.ModelMultipleChoiceFilter(
        queryset=Severity.objects.order_by("level"), widget=forms.CheckboxSelectMultiple
    )
    integration = django_filters.ModelChoiceFilter(queryset=Integration.objects.all())
    incident = django_filters.NumberFilter(field_name="incident", label="Incident number")
    rule = django_filters.ModelChoiceFilter(queryset=AlertRule.objects.all(), label="Alert rule")
    feedback = django_filters.ChoiceFilter(
        choices=[*Feedback.choices, (UNMARKED, "Not marked")], method="filter_feedback"
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="last_seen_at",
        lookup_expr="gte",
        label="Last seen from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="last_seen_at",
        lookup_expr="lt",
        label="Last seen before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = Alert
        fields = [
            "q",
            "source",
            "status",
            "severity",
            "integration",
            "incident",
            "rule",
            "feedback",
        ]

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(identity__icontains=value)
            | Q(service__icontains=value)
            | Q(name__icontains=value)
        )

    def filter_feedback(self, queryset, name, value):
        return queryset.filter(feedback="" if value == UNMARKED else value)
