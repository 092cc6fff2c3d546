import datetime

import django_filters
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Severity

from .models import ActionItem, ActionItemPriority, Team
from .selectors import review_today

User = get_user_model()


class ActionItemFilter(django_filters.FilterSet):
    STATE_CHOICES = (
        ("open", "Open or in progress"),
        ("closed", "Done or won't do"),
        ("all", "All"),
    )

    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label="Search")
    state = django_filters.ChoiceFilter(
        choices=STATE_CHOICES, method="filter_state", label="Open or closed", empty_label=None
    )
    status = django_filters.MultipleChoiceFilter(choices=ActionItem.Status.choices)
    owner = django_filters.ModelChoiceFilter(
        queryset=User.objects.filter(is_active=True).order_by("username")
    )
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    mine = django_filters.ChoiceFilter(
        choices=(("yes", "Only my teams"),),
        method="filter_mine",
        label="Managed by me",
        empty_label="Any team",
    )
    priority = django_filters.ModelMultipleChoiceFilter(queryset=ActionItemPriority.objects.all())
    overdue = django_filters.ChoiceFilter(
        choices=(("yes", "Overdue only"), ("no", "Not overdue")),
        method="filter_overdue",
        label="Overdue",
        empty_label="Any",
    )
    severity = django_filters.ModelMultipleChoiceFilter(
        queryset=Severity.objects.all(), field_name="incident__severity", label="Incident severity"
    )
    due = django_filters.DateFromToRangeFilter(
        field_name="due_date",
        label="Due between",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )

    class Meta:
        model = ActionItem
        fields = [
            "q", "state", "status", "owner", "team", "mine", "priority", "overdue", "severity", "due"
        ]  # fmt: skip

    def __init__(self, data=None, *args, **kwargs):
        # Closed items are hidden unless asked for, so the page starts with the work left.
        data = data.copy() if data is not None else {}
        data.setdefault("state", "open")
        super().__init__(data, *args, **kwargs)

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=ActionItem.OPEN_STATUSES)
        if value == "closed":
            return queryset.exclude(status__in=ActionItem.OPEN_STATUSES)
        return queryset

    def filter_overdue(self, queryset, name, value):
        overdue = {"status__in": ActionItem.OPEN_STATUSES, "due_date__lt": self.today()}
        return queryset.filter(**overdue) if value == "yes" else queryset.exclude(**overdue)

    def filter_mine(self, queryset, name, value):
        if value != "yes" or self.request is None:
            return queryset
        return queryset.filter(team__managers=self.request.user).distinct()

    @staticmethod
    def today() -> datetime.date:
        return review_today(timezone.now())
