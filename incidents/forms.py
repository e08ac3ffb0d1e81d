"""Forms of the staff web UI. They parse and present input; the rules live in ``incidents.services``."""

from __future__ import annotations

import secrets

from django import forms

from incidents import selectors, services, state
from incidents.models import Incident
from teams.models import Service, Team
from teams.selectors import assignable_user_list


class CatalogueChoiceIterator(forms.models.ModelChoiceIterator):
    """The choices of a small catalogue (teams, services) read with one plain query, kept for the form.

    Django's iterator reads through ``QuerySet.iterator()``, which on PostgreSQL is a server-side cursor (DECLARE,
    FETCH, CLOSE: three round trips) every time the choices are rendered; the incident page renders two such fields
    on every load (bench/README.md, issue 10).
    """

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class CatalogueChoiceField(forms.ModelChoiceField):
    iterator = CatalogueChoiceIterator


class ServiceChoiceField(forms.ModelMultipleChoiceField):
    iterator = CatalogueChoiceIterator

    def label_from_instance(self, obj: Service) -> str:
        return obj.name


def _team_field(**kwargs) -> forms.ModelChoiceField:
    return CatalogueChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="No team yet",
        **kwargs,
    )


def _services_field() -> ServiceChoiceField:
    return ServiceChoiceField(
        queryset=Service.objects.select_related("team").order_by("team__name", "name"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class DeclareForm(forms.Form):
    title = forms.CharField(
        max_length=services.TITLE_MAX,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. Checkout returns 502s for card payments", "autofocus": True}
        ),
        error_messages={"required": "Say in a few words what is wrong."},
    )
    severity = forms.ModelChoiceField(
        queryset=selectors.severity_list(),
        to_field_name="slug",
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Pick a severity: a guess is fine, you can change it later."},
    )
    summary = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What do you see? Since when? Who is affected?"}
        ),
    )
    team = _team_field()
    services = _services_field()
    customer_impact = forms.BooleanField(required=False, label="Customers are affected")
    private = forms.BooleanField(required=False, label="Private (security incident)")
    lead_me = forms.BooleanField(required=False, label="I'll lead this")
    #: One token per rendered form: a second submit of the same form (a double click, a retried POST) is the same
    #: intent and answers the incident the first declared (``incidents.services.incident_declare_once``).
    intent = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    @staticmethod
    def new_intent() -> str:
        return secrets.token_urlsafe(18)


class IncidentFilterForm(forms.Form):
    STATUS_CHOICES = [("", "Any status"), ("open", "Open"), *[(s.value, s.label) for s in state.ORDER]]

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Search title, summary or INC-42"}),
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    severity = forms.ModelChoiceField(
        queryset=selectors.severity_list(), to_field_name="slug", required=False, empty_label="Any severity"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), to_field_name="slug", required=False, empty_label="Any team"
    )
    declared_after = forms.DateField(
        required=False, label="Declared from", widget=forms.DateInput(attrs={"type": "date"})
    )
    declared_before = forms.DateField(
        required=False, label="Declared to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> dict:
        """The valid filters as ``incident_list`` takes them (invalid ones are dropped and shown as errors)."""
        data = getattr(self, "cleaned_data", {}) or {}
        filters: dict = {}
        for key in ("q", "status", "declared_after", "declared_before"):
            if data.get(key):
                filters[key] = data[key]
        for key in ("severity", "team"):
            if data.get(key):
                filters[key] = data[key].slug
        return filters

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("declared_after"), cleaned.get("declared_before")
        if after and before and after > before:
            self.add_error("declared_before", "The end date is before the start date.")
        return cleaned


class VersionedForm(forms.Form):
    """An action on an incident: it carries the incident's version the page was rendered with
    (``{% version_field incident %}``). The web forms always send it; one without it is refused like a stale one
    (a page from before versions existed is just as likely to be showing a state that is gone)."""

    version = forms.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        widget=forms.HiddenInput,
        error_messages={"required": "This page is out of date; here is the current state."},
    )


class TransitionForm(VersionedForm):
    to = forms.ChoiceField(choices=[(s.value, s.label) for s in state.ORDER])
    reason = forms.CharField(required=False, max_length=services.TEXT_MAX)


class SeverityForm(VersionedForm):
    severity = forms.ModelChoiceField(
        queryset=selectors.severity_list(), to_field_name="slug", empty_label=None
    )
    reason = forms.CharField(required=False, max_length=services.TEXT_MAX)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full = obj.get_full_name().strip()
        return f"{full} ({obj.get_username()})" if full else obj.get_username()


class AssignRoleForm(VersionedForm):
    role = forms.ModelChoiceField(queryset=selectors.role_list(), to_field_name="slug")
    user = UserChoiceField(
        queryset=assignable_user_list(),
        error_messages={"required": "Choose who takes the role.", "invalid_choice": "Choose an active user."},
    )


class RelieveRoleForm(VersionedForm):
    role = forms.ModelChoiceField(queryset=selectors.role_list(), to_field_name="slug")


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Add a note: what you tried, what you see…"}),
        error_messages={"required": "Write something first."},
    )


class UpdateForm(VersionedForm):
    text = forms.CharField(
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What we know, what we're doing, when the next update is."}
        ),
        error_messages={"required": "Write the update first."},
    )


class IncidentEditForm(VersionedForm):
    title = forms.CharField(max_length=services.TITLE_MAX)
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    team = _team_field()
    services = _services_field()
    customer_impact = forms.BooleanField(required=False, label="Customers are affected")
    private = forms.BooleanField(required=False, label="Private (security incident)")

    @classmethod
    def for_incident(cls, incident: Incident, **kwargs) -> IncidentEditForm:
        initial = {
            "title": incident.title,
            "summary": incident.summary,
            "team": incident.team.slug if incident.team_id else "",
            "services": [s.slug for s in incident.services.all()],
            "customer_impact": incident.customer_impact,
            "private": incident.private,
        }
        return cls(initial=initial, **kwargs)

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "summary": data["summary"],
            "team": data["team"],
            "services": list(data["services"]),
            "customer_impact": data["customer_impact"],
            "private": data["private"],
        }
