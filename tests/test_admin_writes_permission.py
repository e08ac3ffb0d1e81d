"""Admin writes of on-call schedules and routing rules follow the services' permission checks, like the API.

A staff user holding every model permission but leading no team is refused, on the form (never a 500), and nothing
is saved; the team's lead (or a superuser) succeeds. Every writable oncall/paging/notifications admin must be covered by
CASES below or be listed as writing through a service tested elsewhere, so a new one is never skipped.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse

from notifications.models import AttentionWindow, Contact, Destination, RoutingRule
from oncall.models import Override, Rotation, RotationMember, Schedule
from oncall.tests.schedule_helpers import lead_of, make_rotation, make_schedule
from paging.models import EscalationPolicy
from tests.factories import MembershipFactory, TeamFactory, UserFactory

REFUSAL = "Only the team&#x27;s leads and admins may change its schedules."
CONTACT_REFUSAL = "Only the person and administrators may change where their messages go."
POLICY_REFUSAL = "Only the team&#x27;s leads and admins can change its escalation policies."
PRIVATE_REFUSAL = "Only administrators may set up a rule that includes private incidents."
STATUSPAGE_REFUSAL = (
    "Only administrators and the leads and admins of its team can create or change a status page."
)
PUBLISH_REFUSAL = (
    "Only the status page&#x27;s managers and those who may act on the incident can publish to it."
)


@pytest.fixture
def world(db):
    security = TeamFactory(name="Security", slug="security")
    payments = TeamFactory(name="Payments", slug="payments")
    outsider = UserFactory(username="pat", is_staff=True)
    outsider.user_permissions.set(Permission.objects.all())
    MembershipFactory(team=payments, user=outsider)
    lead = lead_of(security)
    lead.is_staff = True
    lead.save()
    lead.user_permissions.set(Permission.objects.all())
    schedule = make_schedule(security)
    rotation = make_rotation(schedule, [lead])
    override = Override.objects.create(
        schedule=schedule, user=lead, starts_at="2026-03-01T09:00Z", ends_at="2026-03-02T09:00Z"
    )
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    return {
        "team": security,
        "outsider": outsider,
        "lead": lead,
        "superuser": superuser,
        "schedule": schedule,
        "rotation": rotation,
        "override": override,
    }


def _inlines(prefix: str, initial: int = 0, **rows) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(max(initial, len(rows))), f"{prefix}-INITIAL_FORMS": str(initial)}
    data |= {f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for index, row in rows.items():
        data |= {f"{prefix}-{index}-{k}": v for k, v in row.items()}
    return data


def _rotation_fields(name="Sneaky week"):
    return {
        "name": name,
        "layer": "1",
        "time_zone": "UTC",
        "start_date": "2026-01-05",
        "handoff_time": "09:00",
        "period": "weekly",
        "period_hours": "",
        "ends_on": "",
        "restrictions": "[]",
    }


def _schedule_inlines(w, **override_rows):
    rotation = w["rotation"]
    rotation_row = {"id": str(rotation.pk), "schedule": str(w["schedule"].pk)} | _rotation_fields(
        rotation.name
    )
    rotation_row.pop("restrictions")
    return _inlines("rotations", 1, **{"0": rotation_row}) | _inlines(
        "overrides", 1, **{"0": _override_row(w, w["override"])}, **override_rows
    )


def _override_row(w, override):
    return {
        "id": str(override.pk),
        "schedule": str(w["schedule"].pk),
        "user": str(override.user_id),
        "starts_at_0": "2026-03-01",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-03-02",
        "ends_at_1": "09:00:00",
        "note": override.note,
    }


# Each case: (url, POST data, "was it saved?") built from the world.
def _schedule_add(w):
    data = {"team": w["team"].pk, "name": "Shadow", "time_zone": "UTC", "description": ""}
    return (
        reverse("admin:oncall_schedule_add"),
        data | _inlines("rotations") | _inlines("overrides"),
        lambda: Schedule.objects.filter(name="Shadow").exists(),
    )


def _schedule_change(w):
    s = w["schedule"]
    data = {"name": "Renamed", "time_zone": "UTC", "description": ""} | _schedule_inlines(w)
    return (
        reverse("admin:oncall_schedule_change", args=[s.pk]),
        data,
        lambda: Schedule.objects.filter(name="Renamed").exists(),
    )


def _schedule_inline_override_add(w, user_key="outsider"):
    s = w["schedule"]
    row = {
        "schedule": str(s.pk),
        "user": str(w[user_key].pk),
        "starts_at_0": "2026-04-01",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-04-08",
        "ends_at_1": "09:00:00",
        "note": "me now",
    }
    data = {"name": s.name, "time_zone": "UTC", "description": ""} | _schedule_inlines(w, **{"1": row})
    return (
        reverse("admin:oncall_schedule_change", args=[s.pk]),
        data,
        lambda: Override.objects.filter(note="me now").exists(),
    )


def _schedule_inline_rotation_change(w):
    s = w["schedule"]
    data = {"name": s.name, "time_zone": "UTC", "description": ""} | _schedule_inlines(w)
    data["rotations-0-name"] = "Taken over"
    return (
        reverse("admin:oncall_schedule_change", args=[s.pk]),
        data,
        lambda: Rotation.objects.filter(name="Taken over").exists(),
    )


def _rotation_add(w):
    data = {"schedule": w["schedule"].pk} | _rotation_fields()
    data |= _inlines("members", 0, **{"0": {"user": str(w["outsider"].pk), "position": "0"}})
    return (
        reverse("admin:oncall_rotation_add"),
        data,
        lambda: Rotation.objects.filter(name="Sneaky week").exists(),
    )


def _rotation_change(w):
    r = w["rotation"]
    member = RotationMember.objects.get(rotation=r)
    data = _rotation_fields("Sneaky week") | _inlines(
        "members",
        1,
        **{
            "0": {"id": str(member.pk), "rotation": str(r.pk), "user": str(member.user_id), "position": "0"},
            "1": {"user": str(w["outsider"].pk), "position": "1"},
        },
    )
    return (
        reverse("admin:oncall_rotation_change", args=[r.pk]),
        data,
        lambda: Rotation.objects.filter(name="Sneaky week").exists(),
    )


def _override_add(w, user_key="outsider"):
    row = _override_row(w, w["override"])
    row.pop("id")
    row |= {"user": str(w[user_key].pk), "note": "on call for security"}
    row |= {"starts_at_0": "2026-05-01", "ends_at_0": "2026-05-02"}
    return (
        reverse("admin:oncall_override_add"),
        row,
        lambda: Override.objects.filter(note="on call for security").exists(),
    )


def _override_change(w):
    row = _override_row(w, w["override"])
    row.pop("id")
    row.pop("schedule")
    row |= {"user": str(w["outsider"].pk), "note": "swapped in"}
    return (
        reverse("admin:oncall_override_change", args=[w["override"].pk]),
        row,
        lambda: Override.objects.filter(note="swapped in").exists(),
    )


def _rule_data(name, **extra):
    hook = Destination.objects.get_or_create(name="Hook", defaults={"channel": "email"})[0]
    data = {"name": name, "enabled": "on", "order": "100", "event_kinds": "[]", "include_private": "on"}
    return data | {"destinations": [str(hook.pk)]} | extra


def _rule_add(w):
    return (
        reverse("admin:notifications_routingrule_add"),
        _rule_data("Leak"),
        lambda: RoutingRule.objects.filter(name="Leak").exists(),
    )


def _rule_change(w):
    rule = RoutingRule.objects.create(name="Quiet", include_private=False)
    return (
        reverse("admin:notifications_routingrule_change", args=[rule.pk]),
        _rule_data("Quiet"),
        lambda: RoutingRule.objects.filter(name="Quiet", include_private=True).exists(),
    )


def _policy_steps(w, initial: int = 0, **extra_rows):
    rows = {"0": {"position": "0", "target": "schedule", "schedule": str(w["schedule"].pk), "user": "",
                "wait_minutes": "5"}}  # fmt: skip
    return _inlines("steps", initial, **rows, **extra_rows)


def _policy_add(w):
    data = {"team": w["team"].pk, "name": "Sneaky policy", "repeat": "0", "auto_page_severity": ""}
    return (
        reverse("admin:paging_escalationpolicy_add"),
        data | _policy_steps(w),
        lambda: EscalationPolicy.objects.filter(name="Sneaky policy").exists(),
    )


def _policy_change(w):
    from paging import services

    policy = services.escalation_policy_create(
        team=w["team"], name="Primary", actor=w["lead"], is_default=True,
        steps=[{"target": "schedule", "schedule": w["schedule"], "wait_minutes": 5}],
    )  # fmt: skip
    step = policy.steps.get()
    rows = {"0": {"id": str(step.pk), "policy": str(policy.pk), "position": "0", "target": "user", "schedule": "",
                "user": str(w["lead"].pk), "wait_minutes": "7"}}  # fmt: skip
    data = {"name": "Primary renamed", "repeat": "1", "is_default": "on", "auto_page_severity": ""}
    return (
        reverse("admin:paging_escalationpolicy_change", args=[policy.pk]),
        data | _inlines("steps", 1, **rows),
        lambda: EscalationPolicy.objects.filter(name="Primary renamed", steps__wait_minutes=7).exists(),
    )


def _contact_add(w):
    return (
        reverse("admin:notifications_contact_add"),
        {"user": str(w["lead"].pk), "slack_user_id": "U0EVIL1234"},
        lambda: Contact.objects.filter(user=w["lead"], slack_user_id="U0EVIL1234").exists(),
    )


def _contact_change(w):
    contact = Contact.objects.create(user=w["lead"], slack_user_id="U0LEAD1234")
    return (
        reverse("admin:notifications_contact_change", args=[contact.pk]),
        {"slack_user_id": "U0EVIL1234"},
        lambda: Contact.objects.filter(pk=contact.pk, slack_user_id="U0EVIL1234").exists(),
    )


def _status_page(w):
    from statuspage import services

    return services.status_page_create(
        actor=w["superuser"], name="Security status", slug="sec", team=w["team"]
    )


def _page_data(name, team):
    return {"name": name, "slug": "sneaky", "visibility": "public", "team": str(team.pk), "support_email": "",
            "url": ""}  # fmt: skip


def _statuspage_add(w):
    from statuspage.models import StatusPage

    return (
        reverse("admin:statuspage_statuspage_add"),
        _page_data("Sneaky page", w["team"]),
        lambda: StatusPage.objects.filter(name="Sneaky page").exists(),
    )


def _statuspage_change(w):
    from statuspage.models import StatusPage

    page = _status_page(w)
    return (
        reverse("admin:statuspage_statuspage_change", args=[page.pk]),
        _page_data("Renamed page", w["team"]),
        lambda: StatusPage.objects.filter(name="Renamed page").exists(),
    )


def _component_data(name, status="operational"):
    return {"group": "", "name": name, "description": "", "position": "0", "manual_status": status,
            "showcase": "on"}  # fmt: skip


def _component_add(w):
    from statuspage.models import Component

    page = _status_page(w)
    return (
        reverse("admin:statuspage_component_add"),
        _component_data("Sneaky component") | {"page": str(page.pk)},
        lambda: Component.objects.filter(name="Sneaky component").exists(),
    )


def _component_change(w):
    from statuspage import services
    from statuspage.models import Component

    component = services.component_create(actor=w["superuser"], page=_status_page(w), name="API")
    return (
        reverse("admin:statuspage_component_change", args=[component.pk]),
        _component_data("API", "major_outage"),
        lambda: Component.objects.filter(name="API", manual_status="major_outage").exists(),
    )


def _public_incident_data(name, status, body):
    return {"name": name, "impact": "minor", "update_status": status, "update_body": body,
            "component_status": "partial_outage"}  # fmt: skip


def _public_incident_add(w):
    from statuspage.models import PublicIncident

    data = _public_incident_data("Sneaky incident", "investigating", "We are looking.")
    return (
        reverse("admin:statuspage_publicincident_add"),
        data | {"page": str(_status_page(w).pk), "incident": ""} | _inlines("updates"),
        lambda: PublicIncident.objects.filter(name="Sneaky incident").exists(),
    )


def _public_incident_change(w):
    from statuspage import services
    from statuspage.models import PublicIncident

    public = services.public_incident_create(
        actor=w["superuser"], page=_status_page(w), name="Errors", body="Looking."
    )
    data = _public_incident_data("Errors", "identified", "We found it.") | _inlines("updates", 1)
    return (
        reverse("admin:statuspage_publicincident_change", args=[public.pk]),
        data,
        lambda: PublicIncident.objects.filter(pk=public.pk, status="identified").exists(),
    )


def _group_add(w):
    from statuspage.models import ComponentGroup

    data = {"page": str(_status_page(w).pk), "name": "Sneaky group", "description": "", "position": "0"}
    return (
        reverse("admin:statuspage_componentgroup_add"),
        data,
        lambda: ComponentGroup.objects.filter(name="Sneaky group").exists(),
    )


def _group_change(w):
    from statuspage import services
    from statuspage.models import ComponentGroup

    group = services.component_group_create(actor=w["superuser"], page=_status_page(w), name="Storage")
    return (
        reverse("admin:statuspage_componentgroup_change", args=[group.pk]),
        {"name": "Renamed group", "description": "", "position": "0"},
        lambda: ComponentGroup.objects.filter(name="Renamed group").exists(),
    )


def _maintenance_add(w):
    from statuspage.models import ScheduledMaintenance

    data = {"page": str(_status_page(w).pk), "name": "Sneaky maintenance", "impact": "none",
            "scheduled_for_0": "2026-06-01", "scheduled_for_1": "22:00:00", "scheduled_until_0": "2026-06-01",
            "scheduled_until_1": "23:00:00", "update_body": "Routine work."}  # fmt: skip
    return (
        reverse("admin:statuspage_scheduledmaintenance_add"),
        data | _inlines("updates"),
        lambda: ScheduledMaintenance.objects.filter(name="Sneaky maintenance").exists(),
    )


def _maintenance_change(w):
    from datetime import UTC, datetime

    from statuspage import services
    from statuspage.models import ScheduledMaintenance

    maintenance = services.maintenance_create(
        actor=w["superuser"], page=_status_page(w), name="Upgrade", body="Routine work.",
        scheduled_for=datetime(2026, 6, 1, 22, tzinfo=UTC), scheduled_until=datetime(2026, 6, 1, 23, tzinfo=UTC),
    )  # fmt: skip
    data = {"update_status": "in_progress", "update_body": "Started."} | _inlines("updates", 1)
    return (
        reverse("admin:statuspage_scheduledmaintenance_change", args=[maintenance.pk]),
        data,
        lambda: ScheduledMaintenance.objects.filter(pk=maintenance.pk, status="in_progress").exists(),
    )


ONCALL = "oncall"
CASES = {
    "notifications.Contact": [_contact_add, _contact_change],
    "paging.EscalationPolicy": [_policy_add, _policy_change],
    "oncall.Schedule": [
        _schedule_add,
        _schedule_change,
        _schedule_inline_override_add,
        _schedule_inline_rotation_change,
    ],
    "oncall.Rotation": [_rotation_add, _rotation_change],
    "oncall.Override": [_override_add, _override_change],
    "notifications.RoutingRule": [_rule_add, _rule_change],
    "statuspage.StatusPage": [_statuspage_add, _statuspage_change],
    "statuspage.Component": [_component_add, _component_change],
    "statuspage.PublicIncident": [_public_incident_add, _public_incident_change],
    "statuspage.ComponentGroup": [_group_add, _group_change],
    "statuspage.ScheduledMaintenance": [_maintenance_add, _maintenance_change],
}
# Writable admins whose writes go through a service with its own tests (notifications/tests/test_admin_writes.py).
SERVICE_TESTED_ELSEWHERE = {Destination._meta.label, AttentionWindow._meta.label, "notifications.Message"}
# Read-only but for the Acknowledge action, which calls paging.services.page_acknowledge (paging/tests).
READ_ONLY_WITH_ACTIONS = {"paging.Page"}

ALL_CASES = [
    pytest.param(label, build, id=f"{label}:{build.__name__.strip('_')}")
    for label, builders in CASES.items()
    for build in builders
]


def _writable(model_admin, user) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    if model_admin.has_add_permission(request):
        return True
    if not model_admin.has_change_permission(request):
        return False
    fields = set(model_admin.get_fields(request)) - set(model_admin.get_readonly_fields(request))
    return bool(fields) or bool(model_admin.list_editable)


def test_every_writable_oncall_paging_notifications_and_statuspage_admin_is_covered(world):
    uncovered = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        if model._meta.app_label not in ("oncall", "paging", "notifications", "statuspage"):
            continue
        if not _writable(model_admin, world["superuser"]):
            continue
        if label in CASES or label in SERVICE_TESTED_ELSEWHERE | READ_ONLY_WITH_ACTIONS:
            continue
        uncovered.append(label)
    assert not uncovered, f"Writable admins without a permission test in this file: {uncovered}"


@pytest.mark.parametrize(("label", "build"), ALL_CASES)
def test_a_non_lead_with_every_model_permission_is_refused(client, world, label, build):
    url, data, saved = build(world)
    client.force_login(world["outsider"])
    response = client.post(url, data)
    assert response.status_code == 200, response.status_code
    body = response.content.decode()
    expected = {
        "notifications.Contact": CONTACT_REFUSAL,
        "notifications": PRIVATE_REFUSAL,
        "paging.EscalationPolicy": POLICY_REFUSAL,
        "statuspage.PublicIncident": PUBLISH_REFUSAL,
        "statuspage": STATUSPAGE_REFUSAL,
    }
    assert next((v for k, v in expected.items() if label.startswith(k)), REFUSAL) in body
    assert not saved()
    assert world["schedule"].overrides.count() == 1
    assert RotationMember.objects.filter(user=world["outsider"]).count() == 0


@pytest.mark.parametrize(("label", "build"), ALL_CASES)
def test_a_lead_or_superuser_succeeds(client, world, label, build):
    if build in (_override_add, _schedule_inline_override_add):
        url, data, saved = build(world, user_key="lead")
    else:
        url, data, saved = build(world)
    client.force_login(world["superuser"] if label.startswith("notifications.") else world["lead"])
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert saved()


def test_a_second_default_policy_takes_the_default_instead_of_failing_on_a_constraint(client, world):
    from paging import services

    first = services.escalation_policy_create(
        team=world["team"], name="First", actor=world["lead"], is_default=True,
        steps=[{"target": "schedule", "schedule": world["schedule"], "wait_minutes": 5}],
    )  # fmt: skip
    url, data, _ = _policy_add(world)
    client.force_login(world["lead"])
    response = client.post(url, data | {"is_default": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    first.refresh_from_db()
    assert not first.is_default
    assert EscalationPolicy.objects.get(name="Sneaky policy").is_default


def test_a_duplicate_policy_name_is_a_form_error(client, world):
    from paging import services

    services.escalation_policy_create(
        team=world["team"], name="Sneaky policy", actor=world["lead"],
        steps=[{"target": "schedule", "schedule": world["schedule"], "wait_minutes": 5}],
    )  # fmt: skip
    url, data, _ = _policy_add(world)
    client.force_login(world["lead"])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "already has a policy with that name" in response.content.decode()
