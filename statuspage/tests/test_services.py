"""The status page services: private incidents refused, permissions as a table, transitions, validation, and the
cache invalidated only after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from statuspage import cache, selectors, services
from statuspage.models import AffectedComponent, PublicIncident, PublicUpdate, StatusPage
from tests.factories import IncidentFactory, MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def people(db):
    team = TeamFactory(name="Web", slug="web")
    lead = UserFactory(username="lead")
    MembershipFactory(team=team, user=lead, role="lead")
    member = UserFactory(username="member")
    MembershipFactory(team=team, user=member)
    return {
        "team": team,
        "admin": UserFactory(username="root", is_superuser=True, is_staff=True),
        "lead": lead,
        "member": member,
        "stranger": UserFactory(username="stranger"),
    }


@pytest.fixture
def page(people):
    return services.status_page_create(actor=people["admin"], name="Web", slug="web", team=people["team"])


def test_a_private_incident_is_refused_with_a_clear_error(people, page):
    secret = IncidentFactory(private=True, team=people["team"])
    with pytest.raises(ValidationError) as exc:
        services.public_incident_create(
            actor=people["admin"], page=page, incident=secret, name="Outage", body="Investigating."
        )
    assert exc.value.code == "private_incident"
    assert exc.value.field == "incident"
    assert "private incident can never be published" in str(exc.value)
    assert not PublicIncident.objects.exists()


def test_an_incident_made_private_later_takes_no_more_updates(people, page):
    incident = IncidentFactory(team=people["team"])
    public = services.public_incident_create(
        actor=people["admin"], page=page, incident=incident, name="Outage", body="Investigating."
    )
    type(incident).objects.filter(pk=incident.pk).update(private=True)
    with pytest.raises(ValidationError):
        services.public_update_publish(
            actor=people["admin"], public_incident=public, status="identified", body="x"
        )
    assert public.updates.count() == 1
    assert not selectors.public_incident_queryset().filter(pk=public.pk).exists()


# who -> (may create a page of the team, may manage the page, may publish unlinked, may publish linked)
PERMISSIONS = {
    "admin": (True, True, True, True),
    "lead": (True, True, True, True),
    "member": (False, False, False, True),  # acts on the team's incident: the messenger publishes
    "stranger": (False, False, False, False),
}


@pytest.mark.parametrize("who", sorted(PERMISSIONS))
def test_permissions(people, page, who):
    create, manage, publish, publish_linked = PERMISSIONS[who]
    actor = people[who]
    incident = IncidentFactory(team=people["team"])

    def attempt(fn) -> bool:
        try:
            fn()
        except PermissionDenied:
            return False
        return True

    assert (
        attempt(
            lambda: services.status_page_create(actor=actor, name="X", slug=f"x-{who}", team=people["team"])
        )
        is create
    )
    assert attempt(lambda: services.component_create(actor=actor, page=page, name=f"C {who}")) is manage
    assert attempt(lambda: services.status_page_update(actor=actor, page=page, name=f"Web {who}")) is manage
    assert (
        attempt(lambda: services.public_incident_create(actor=actor, page=page, name="Unlinked", body="b"))
        is publish
    )
    assert (
        attempt(
            lambda: services.public_incident_create(
                actor=actor, page=page, name="Linked", body="b", incident=incident
            )
        )
        is publish_linked
    )
    assert StatusPage.objects.filter(slug=f"x-{who}").exists() is create


def test_a_page_without_team_is_for_administrators(people):
    with pytest.raises(PermissionDenied):
        services.status_page_create(actor=people["lead"], name="Corp", slug="corp")
    assert services.status_page_create(actor=people["admin"], name="Corp", slug="corp").team is None


def test_an_invisible_incident_is_not_found(people, page):
    secret = IncidentFactory(private=True, team=TeamFactory(name="Sec"))
    with pytest.raises(NotFound):
        services.public_incident_create(actor=people["lead"], page=page, incident=secret, name="x", body="y")


def test_updates_follow_the_transition_table_and_stamp_times(people, page):
    api = services.component_create(actor=people["admin"], page=page, name="API")
    public = services.public_incident_create(
        actor=people["lead"], page=page, name="Errors", body="Looking.", components={api: "major_outage"}
    )
    assert public.status == "investigating" and public.resolved_at is None
    update = services.public_update_publish(
        actor=people["lead"], public_incident=public, status="monitoring", body="Fix out."
    )
    # No component list: the last update's components and statuses carry over.
    assert list(update.affected.values_list("component__name", "status")) == [("API", "major_outage")]
    public.refresh_from_db()
    assert public.status == "monitoring" and public.monitoring_at is not None
    with pytest.raises(InvalidTransition):
        services.public_update_publish(
            actor=people["lead"], public_incident=public, status="postmortem", body="x"
        )
    services.public_update_publish(
        actor=people["lead"], public_incident=public, status="resolved", body="Done."
    )
    public.refresh_from_db()
    assert public.resolved_at is not None
    services.public_update_publish(
        actor=people["lead"], public_incident=public, status="postmortem", body="Report."
    )
    with pytest.raises(InvalidTransition):
        services.public_update_publish(
            actor=people["lead"], public_incident=public, status="investigating", body="x"
        )
    assert public.updates.count() == 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"body": "   "}, "body"),
        ({"body": "a\x00b"}, "body"),
        ({"status": "exploded"}, "status"),
        ({"impact": "apocalyptic"}, "impact"),
        ({"components": {"not a component": "major_outage"}}, "components"),
    ],
)
def test_bad_input_is_a_validation_error(people, page, changes, field):
    data = {"name": "Errors", "body": "Looking."} | changes
    with pytest.raises(ValidationError) as exc:
        services.public_incident_create(actor=people["admin"], page=page, **data)
    assert exc.value.field == field
    assert not PublicUpdate.objects.exists()


def test_components_of_another_page_are_refused(people, page):
    other = services.status_page_create(actor=people["admin"], name="Other", slug="other")
    foreign = services.component_create(actor=people["admin"], page=other, name="Theirs")
    with pytest.raises(ValidationError):
        services.public_incident_create(
            actor=people["admin"], page=page, name="x", body="y", components={foreign: "major_outage"}
        )
    assert not AffectedComponent.objects.exists()


def test_slugs_are_unique_and_one_page_is_default(people):
    first = services.status_page_create(actor=people["admin"], name="A", slug="a", is_default=True)
    with pytest.raises(ValidationError) as exc:
        services.status_page_create(actor=people["admin"], name="B", slug="a")
    assert exc.value.field == "slug"
    with pytest.raises(ValidationError):
        services.status_page_create(actor=people["admin"], name="B", slug="not a slug!")
    second = services.status_page_create(actor=people["admin"], name="B", slug="b", is_default=True)
    first.refresh_from_db()
    assert not first.is_default and second.is_default
    assert selectors.page_default() == second


def test_maintenance_checks_its_window_and_status(people, page):
    now = timezone.now()
    with pytest.raises(ValidationError):
        services.maintenance_create(
            actor=people["lead"], page=page, name="M", body="b", scheduled_for=now, scheduled_until=now
        )
    maintenance = services.maintenance_create(
        actor=people["lead"],
        page=page,
        name="M",
        body="b",
        scheduled_for=now,
        scheduled_until=now + timedelta(hours=1),
    )
    services.maintenance_update_publish(
        actor=people["lead"], maintenance=maintenance, status="completed", body="Done."
    )
    maintenance.refresh_from_db()
    assert maintenance.resolved_at is not None
    with pytest.raises(InvalidTransition):
        services.maintenance_update_publish(
            actor=people["lead"], maintenance=maintenance, status="in_progress", body="x"
        )
    with pytest.raises(PermissionDenied):
        services.maintenance_create(
            actor=people["member"],
            page=page,
            name="M",
            body="b",
            scheduled_for=now,
            scheduled_until=now + timedelta(hours=1),
        )


def test_every_write_invalidates_after_commit_only(people, page, django_capture_on_commit_callbacks):
    before = cache.generation("web")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        component = services.component_create(actor=people["admin"], page=page, name="API")
    assert cache.generation("web") == before  # nothing until the commit
    for callback in callbacks:
        callback()
    after = cache.generation("web")
    assert after != before
    with django_capture_on_commit_callbacks(execute=True):
        services.status_page_update(actor=people["admin"], page=page, slug="web2")
    assert cache.generation("web") != after  # the old address is dropped too
    page.refresh_from_db()
    assert page.updated_at >= component.updated_at


@pytest.mark.parametrize("position", ["abc", -1, 40000, None])
def test_a_bad_position_is_a_validation_error(people, page, position):
    with pytest.raises(ValidationError) as exc:
        services.component_group_create(actor=people["admin"], page=page, name="G", position=position)
    assert exc.value.field == "position"
    component = services.component_create(actor=people["admin"], page=page, name="C")
    if position is not None:
        with pytest.raises(ValidationError):
            services.component_update(actor=people["admin"], component=component, position=position)


def test_deleting_a_group_keeps_its_components(people, page):
    group = services.component_group_create(actor=people["lead"], page=page, name="Storage")
    component = services.component_create(actor=people["lead"], page=page, name="Blobs", group=group)
    services.component_group_update(actor=people["lead"], group=group, name="Object storage")
    group.refresh_from_db()
    assert group.name == "Object storage"
    with pytest.raises(PermissionDenied):
        services.component_group_delete(actor=people["member"], group=group)
    services.component_group_delete(actor=people["lead"], group=group)
    component.refresh_from_db()
    assert component.group_id is None
