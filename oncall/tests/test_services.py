"""Schedule services: who may edit (a role x action table), the checks, and who is on call through the resolver."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.errors import Conflict, PermissionDenied, ValidationError
from notifications.recipients import team_oncall
from oncall import selectors, services
from oncall.models import CalendarFeed, Override, Rotation
from oncall.tests.schedule_helpers import make_override, make_rotation, make_schedule
from teams.models import Membership
from tests.factories import AdminFactory, MembershipFactory, TeamFactory, UserFactory


def utc(*args):
    return datetime(*args, tzinfo=UTC)


ROTATION = {
    "name": "Primary week",
    "layer": 1,
    "time_zone": "Europe/London",
    "start_date": date(2026, 1, 5),
    "handoff_time": time(9),
    "period": "weekly",
}


def actor_with(role, team):
    if role == "superuser":
        return AdminFactory(username="root")
    if role == "outsider":
        return UserFactory(username="outsider")
    if role == "other-team-lead":
        other = TeamFactory(name="Other", slug="other")
        return MembershipFactory(
            team=other, user=UserFactory(username="otherlead"), role=Membership.Role.LEAD
        ).user
    return MembershipFactory(team=team, user=UserFactory(username=f"r-{role}"), role=role).user


def do(action, actor, team, schedule, target):
    if action == "schedule_create":
        services.schedule_create(actor=actor, team=team, name="Secondary")
    elif action == "schedule_update":
        services.schedule_update(actor=actor, schedule=schedule, name="Renamed")
    elif action == "schedule_delete":
        services.schedule_delete(actor=actor, schedule=schedule)
    elif action == "schedule_reset_token":
        services.schedule_reset_token(actor=actor, schedule=schedule)
    elif action == "rotation_create":
        services.rotation_create(actor=actor, schedule=schedule, members=[target], **ROTATION)
    elif action == "rotation_update":
        rotation = make_rotation(schedule, [target])
        services.rotation_update(actor=actor, rotation=rotation, layer=2)
    elif action == "rotation_delete":
        services.rotation_delete(actor=actor, rotation=make_rotation(schedule, [target]))
    elif action == "override_create":
        services.override_create(
            actor=actor, schedule=schedule, user=target, starts_at=utc(2026, 6, 1), ends_at=utc(2026, 6, 2)
        )
    elif action == "override_delete":
        override = make_override(schedule, target, utc(2026, 6, 1), utc(2026, 6, 2))
        services.override_delete(actor=actor, override=override)


ACTIONS = [
    "schedule_create",
    "schedule_update",
    "schedule_delete",
    "schedule_reset_token",
    "rotation_create",
    "rotation_update",
    "rotation_delete",
    "override_create",
    "override_delete",
]
ROLES = {
    "outsider": False,
    "other-team-lead": False,
    Membership.Role.MEMBER: False,
    Membership.Role.LEAD: True,
    Membership.Role.ADMIN: True,
    "superuser": True,
}


@pytest.mark.django_db
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role, allowed", list(ROLES.items()))
def test_permission_table(team, role, allowed, action):
    actor = actor_with(role, team)
    schedule = make_schedule(team)
    target = UserFactory(username="target")
    if allowed:
        do(action, actor, team, schedule, target)
    else:
        with pytest.raises(PermissionDenied):
            do(action, actor, team, schedule, target)


@pytest.fixture
def lead(team):
    return MembershipFactory(team=team, user=UserFactory(username="lena"), role=Membership.Role.LEAD).user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"layer": 0}, "layer"),
        ({"period": "monthly"}, "period"),
        ({"period": "custom"}, "period_hours"),
        ({"period": "custom", "period_hours": 0}, "period_hours"),
        ({"ends_on": date(2026, 1, 5)}, "ends_on"),
        ({"restrictions": [{"days": [9], "start": "09:00", "end": "17:00"}]}, "restrictions"),
        ({"restrictions": "weekdays"}, "restrictions"),
    ],
)
def test_rotation_checks(team, lead, changes, field):
    schedule = make_schedule(team)
    with pytest.raises(ValidationError) as exc:
        services.rotation_create(actor=lead, schedule=schedule, members=[lead], **{**ROTATION, **changes})
    assert exc.value.field == field
    assert not Rotation.objects.exists()


@pytest.mark.django_db
def test_rotation_needs_active_members(team, lead):
    schedule = make_schedule(team)
    with pytest.raises(ValidationError) as exc:
        services.rotation_create(actor=lead, schedule=schedule, members=[], **ROTATION)
    assert exc.value.field == "members"
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(ValidationError):
        services.rotation_create(actor=lead, schedule=schedule, members=[gone], **ROTATION)


@pytest.mark.django_db
def test_rotation_update_replaces_members_in_order(team, lead):
    schedule = make_schedule(team)
    a, b, c = (UserFactory(username=n) for n in ("ann", "ben", "cat"))
    rotation = services.rotation_create(actor=lead, schedule=schedule, members=[a, b], **ROTATION)
    services.rotation_update(actor=lead, rotation=rotation, members=[c, a], period="daily")
    rotation.refresh_from_db()
    assert [m.user.username for m in rotation.members.order_by("position")] == ["cat", "ann"]
    assert rotation.period == "daily" and rotation.period_hours is None


@pytest.mark.django_db
def test_override_checks(team, lead):
    schedule = make_schedule(team)
    with pytest.raises(ValidationError) as exc:
        services.override_create(
            actor=lead, schedule=schedule, user=lead, starts_at=utc(2026, 6, 2), ends_at=utc(2026, 6, 1)
        )
    assert exc.value.field == "ends_at"
    with pytest.raises(ValidationError):
        services.override_create(
            actor=lead, schedule=schedule, user=lead, starts_at=utc(2026, 1, 1), ends_at=utc(2027, 6, 1)
        )
    assert not Override.objects.exists()


@pytest.mark.django_db
def test_schedule_names_are_unique_per_team(team, lead):
    services.schedule_create(actor=lead, team=team, name="Primary")
    with pytest.raises(Conflict):
        services.schedule_create(actor=lead, team=team, name="primary")


@pytest.mark.django_db
def test_rotation_preview_computes_without_saving(team, lead):
    schedule = make_schedule(team)
    a = UserFactory(username="ann")
    before = Rotation.objects.count()
    timeline = services.rotation_preview(
        schedule=schedule,
        members=[a],
        days=14,
        **{**ROTATION, "start_date": date.today() - timedelta(days=1)},
    )
    assert Rotation.objects.count() == before
    assert [sh.user for sh in timeline.shifts] == [a]
    assert timeline.shifts[0].end - timeline.shifts[0].start == timedelta(days=14)


@pytest.mark.django_db
def test_preview_of_an_edit_replaces_the_saved_rotation(team, lead):
    schedule = make_schedule(team)
    a, b = UserFactory(username="ann"), UserFactory(username="ben")
    rotation = make_rotation(schedule, [a], start_date=date.today() - timedelta(days=3), period="daily")
    timeline = services.rotation_preview(schedule=schedule, rotation=rotation, members=[b])
    assert {sh.user for sh in timeline.shifts} == {b}
    rotation.refresh_from_db()
    assert [m.user for m in rotation.members.all()] == [a]


@pytest.mark.django_db
def test_resolver_answers_team_oncall_with_the_schedules_people(team, lead):
    schedule = make_schedule(team)
    a, b = UserFactory(username="ann"), UserFactory(username="ben")
    make_rotation(schedule, [a, b], period="daily", start_date=date(2026, 6, 1), handoff_time=time(9))
    assert team_oncall(team, at=utc(2026, 6, 1, 12)) == [a]
    assert team_oncall(team, at=utc(2026, 6, 2, 12)) == [b]
    make_override(schedule, lead, utc(2026, 6, 2, 10), utc(2026, 6, 2, 14))
    assert team_oncall(team, at=utc(2026, 6, 2, 12)) == [lead]
    assert selectors.schedule_oncall(schedule, utc(2026, 6, 2, 12)) == [lead]


@pytest.mark.django_db
def test_resolver_falls_back_to_leads_in_a_gap(team, lead):
    schedule = make_schedule(team)
    make_rotation(schedule, [UserFactory(username="ann")], start_date=date(2026, 6, 1))
    assert team_oncall(team, at=utc(2026, 5, 1)) == [lead]  # before the rotation starts: nobody, so the leads


@pytest.mark.django_db
def test_oncall_for_many_teams_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    teams = []
    for i in range(5):
        team = TeamFactory(name=f"T{i}", slug=f"t{i}")
        schedule = make_schedule(team)
        users = [UserFactory(username=f"u{i}{j}") for j in range(3)]
        make_rotation(schedule, users, layer=1)
        make_rotation(
            schedule,
            users[:2],
            layer=2,
            name="Day",
            restrictions=[{"days": [0], "start": "09:00", "end": "17:00"}],
        )
        make_override(schedule, users[0], utc(2026, 6, 1), utc(2026, 6, 2))
        teams.append(team)
    with django_assert_max_num_queries(4):
        result = selectors.teams_oncall_entries(teams, utc(2026, 6, 1, 12))
    assert all(entries[0].user is not None for entries in result.values())


@pytest.mark.django_db
def test_calendar_feed_reset_changes_the_token(user):
    first = services.calendar_feed_ensure(user=user).token
    assert services.calendar_feed_reset(user=user).token != first
    assert CalendarFeed.objects.get(user=user).token != first
