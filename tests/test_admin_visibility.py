"""Every admin whose rows point at an incident hides the rows of private incidents from those who may not see them.

The admins are enumerated from ``admin.site._registry``: each registered model with a foreign-key path to
``incidents.Incident`` (or Incident itself) gets a row on a private incident, built by the table below. A registered
model without a builder fails the test, so a new admin is never skipped silently.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse

from incidents.models import ConsumerRun, Incident, RoleAssignment, TimelineEvent
from tests.factories import IncidentFactory, TeamFactory, UserFactory, role

SECRET_TITLE = "Quietly acquiring Zebracorp"
MAX_DEPTH = 3


def incident_path(model, depth: int = MAX_DEPTH, seen: tuple = ()) -> str | None:
    """The lookup from ``model`` to its incident through foreign keys, or None."""
    if model is Incident:
        return ""
    if depth == 0:
        return None
    for field in model._meta.concrete_fields:
        if field.is_relation and (field.many_to_one or field.one_to_one) and field.related_model not in seen:
            rest = incident_path(field.related_model, depth - 1, (*seen, model))
            if rest is not None:
                return field.name + (f"__{rest}" if rest else "")
    return None


def _event(incident):
    return TimelineEvent.objects.create(incident=incident, kind="note", text="merger talks")


def _build_message(incident):
    from notifications.models import Message

    return Message.objects.create(
        incident=incident, channel="email", target="ceo@example.com", dedupe_key=f"t-{incident.pk}"
    )


def _build_reminder(incident):
    from notifications.models import Reminder

    return Reminder.objects.create(incident=incident, key=f"r-{incident.pk}", kind="update")


def _build_slack_channel(incident):
    from notifications.models import IncidentSlackChannel

    return IncidentSlackChannel.objects.create(incident=incident, name="inc-secret")


def _build_page(incident):
    from paging.models import Page

    return Page.objects.create(incident=incident, team=incident.team)


def _build_public_incident(incident):
    # Straight into the table: the service refuses to link a private incident (statuspage/tests/test_services.py),
    # this is the row of one made private afterwards.
    from statuspage.models import PublicIncident, StatusPage

    page = StatusPage.objects.get_or_create(slug="visibility", defaults={"name": "Visibility"})[0]
    return PublicIncident.objects.create(page=page, incident=incident, name="Customer-facing name")


BUILDERS = {
    "incidents.Incident": lambda incident: incident,
    "incidents.TimelineEvent": _event,
    "incidents.RoleAssignment": lambda incident: RoleAssignment.objects.create(
        incident=incident, role=role("messenger"), user=UserFactory()
    ),
    "incidents.ConsumerRun": lambda incident: ConsumerRun.objects.create(
        event=_event(incident), consumer="test"
    ),
    "notifications.Message": _build_message,
    "notifications.Reminder": _build_reminder,
    "notifications.IncidentSlackChannel": _build_slack_channel,
    "paging.Page": _build_page,
    "statuspage.PublicIncident": _build_public_incident,
}


def _admins_pointing_at_incidents():
    params = []
    for model in admin.site._registry:
        if incident_path(model) is None:
            continue
        label = model._meta.label
        params.append(pytest.param(model, id=label))
    return params


ADMINS = _admins_pointing_at_incidents()


def test_the_enumeration_finds_the_known_admins():
    labels = {p.values[0]._meta.label for p in ADMINS}
    assert {"incidents.Incident", "incidents.TimelineEvent", "notifications.Message"} <= labels


@pytest.fixture
def private_incident(db):
    return IncidentFactory(title=SECRET_TITLE, private=True, team=TeamFactory(name="Corp dev"))


@pytest.fixture
def staff_with_every_permission(db):
    user = UserFactory(username="nosy", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


def _row(model, incident):
    label = model._meta.label
    if label not in BUILDERS:
        pytest.fail(f"No builder for the registered admin of {label}: add one to BUILDERS in this file.")
    row = BUILDERS[label](incident)
    assert isinstance(row, model)
    return row


def _urls(model, row):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    return changelist, change


def _listed(client, url, row, **params) -> bool:
    response = client.get(url, params)
    assert response.status_code == 200
    return row.pk in {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("model", ADMINS)
def test_rows_of_a_private_incident_are_hidden_from_a_non_participant(
    client, model, private_incident, staff_with_every_permission
):
    row = _row(model, private_incident)
    changelist, change = _urls(model, row)
    client.force_login(staff_with_every_permission)

    assert not _listed(client, changelist, row)
    assert not _listed(client, changelist, row, q=SECRET_TITLE)
    assert not _listed(client, changelist, row, q=private_incident.reference)
    response = client.get(change)
    assert response.status_code in (302, 404)
    assert SECRET_TITLE not in response.content.decode()

    # Incident choices on the admin's forms list only visible incidents.
    model_admin = admin.site._registry[model]
    request = RequestFactory().get(change)
    request.user = staff_with_every_permission
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model is Incident:
            formfield = model_admin.formfield_for_dbfield(field, request)
            if formfield is not None and hasattr(formfield, "queryset"):
                assert private_incident not in formfield.queryset


@pytest.mark.parametrize("model", [p for p in ADMINS if not p.marks])
def test_rows_of_a_private_incident_are_shown_to_a_superuser(client, model, private_incident):
    row = _row(model, private_incident)
    changelist, change = _urls(model, row)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    assert _listed(client, changelist, row)
    if any("title" in name for name in admin.site._registry[model].search_fields):
        assert _listed(client, changelist, row, q=SECRET_TITLE)
    assert client.get(change).status_code == 200


def test_the_incident_autocomplete_hides_private_incidents(
    client, private_incident, staff_with_every_permission
):
    client.force_login(staff_with_every_permission)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "notifications", "model_name": "message", "field_name": "incident", "term": "Zebra"},
    )
    assert SECRET_TITLE not in response.content.decode()
