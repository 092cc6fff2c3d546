import django_filters
from django.db.models import Q

from incidents.models import Service

from .models import Runbook


class RunbookFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    service = django_filters.ModelChoiceFilter(
        queryset=Service.objects.all(), field_name="services", label="Service"
    )
    alert_rule = django_filters.CharFilter(
        field_name="alert_rules__rule_name", label="Alert rule", distinct=True
    )

    class Meta:
        model = Runbook
        fields = ["q", "service", "alert_rule"]

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value) | Q(trigger__icontains=value) | Q(body__icontains=value)
        )
