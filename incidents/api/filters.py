"""Query filters of the incident list.

The FilterSet only validates and documents the query string: bad values answer 400 naming the parameter (never 500,
never a silently empty list: ``?severity=nope`` is refused like ``?status=bogus``), and the OpenAPI schema lists
every parameter. The filtering itself is ``incidents.selectors.apply_filters``, the same
code the web list uses.
"""

from datetime import UTC, date, datetime

import django_filters
from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from incidents import selectors, state
from incidents.models import Incident, Severity
from teams.models import Service, Team

STATUS_CHOICES = [("open", "Open (triage, investigating, identified or monitoring)")] + [
    (s.value, s.label) for s in state.ORDER
]


def _text(field: forms.Field, value, max_length: int) -> str:
    """The raw query value as stripped text, refusing what is too long to be valid anyway."""
    value = "" if value in field.empty_values else str(value).strip()
    if len(value) > max_length:
        raise forms.ValidationError(field.error_messages["invalid"], code="invalid")
    return value


class DateOrDateTimeField(forms.Field):
    """An ISO 8601 date (``2025-01-31``) or datetime (``2025-01-31T12:00:00Z``)."""

    default_error_messages = {"invalid": "Enter an ISO 8601 date (YYYY-MM-DD) or datetime."}

    def to_python(self, value) -> date | datetime | None:
        value = _text(self, value, 40)
        if not value:
            return None
        try:
            # A date first: Python reads "2025-01-31" as a datetime at midnight too, which would cut the day short.
            parsed = parse_date(value) or parse_datetime(value)
            if isinstance(parsed, datetime) and parsed.tzinfo is not None:
                parsed.astimezone(UTC)  # out of range once in UTC (year 1 or 9999 with an offset)
        except (ValueError, OverflowError):  # well-formed but impossible, e.g. 2025-02-30
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or 1/0, yes/no); anything else is an error rather than silently ignored."""

    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})
    default_error_messages = {"invalid": "Enter true or false."}

    def to_python(self, value) -> bool | None:
        value = _text(self, value, 5).lower()
        if not value:
            return None
        if value in self.TRUE:
            return True
        if value in self.FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class KnownSlugField(forms.CharField):
    """The slug of an existing row of ``model`` (one ``EXISTS`` query); an unknown one is an error naming it."""

    def __init__(self, *, model, what: str, **kwargs):
        self.model = model
        self.what = what
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)  # length first: a slug too long to exist is refused without a query
        if value and not self.model._default_manager.filter(slug=value).exists():
            raise forms.ValidationError(
                # The user's value goes in through params only: Django %-formats the message with them, so a
                # value in the message itself ("%s", "%(x)s", a lone "%") would be a format string.
                "Unknown %(what)s '%(value)s'.",
                code=f"unknown_{self.what}",
                params={"what": self.what, "value": value},
            )
        return value


@extend_schema_field(OpenApiTypes.STR)
class KnownSlugFilter(django_filters.CharFilter):
    field_class = KnownSlugField


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=STATUS_CHOICES, help_text="A status, or `open` for every open status. Repeat for several."
    )
    severity = KnownSlugFilter(
        model=Severity,
        what="severity",
        max_length=50,
        help_text="A severity slug (critical, major, minor...); an unknown one is a 400.",
    )
    team = KnownSlugFilter(
        model=Team, what="team", max_length=50, help_text="A team slug; an unknown one is a 400."
    )
    service = KnownSlugFilter(
        model=Service, what="service", max_length=50, help_text="A service slug; an unknown one is a 400."
    )
    q = django_filters.CharFilter(
        max_length=200, help_text="Text in the title or summary, or a reference such as INC-12."
    )
    declared_after = DateOrDateTimeFilter(
        help_text="ISO 8601 date or datetime (UTC when no offset is given)."
    )
    declared_before = DateOrDateTimeFilter(
        help_text="ISO 8601 date (the whole day is included) or datetime (UTC when no offset is given)."
    )
    private = StrictBooleanFilter(
        help_text="true: only private (security) incidents; false: only the others."
    )
    customer_impact = StrictBooleanFilter(help_text="Filter on customer impact.")

    class Meta:
        model = Incident
        fields = [
            "status",
            "severity",
            "team",
            "service",
            "q",
            "declared_after",
            "declared_before",
            "private",
            "customer_impact",
        ]

    def filter_queryset(self, queryset):
        return selectors.apply_filters(queryset, self.form.cleaned_data)
