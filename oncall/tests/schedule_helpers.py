"""Builders for schedule tests: a schedule with rotations and overrides, straight into the database."""

from __future__ import annotations

from datetime import date, time

from oncall.models import Override, Rotation, RotationMember, Schedule
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory


def lead_of(team, username: str = "lena"):
    return MembershipFactory(team=team, user=UserFactory(username=username), role=Membership.Role.LEAD).user


def make_schedule(team, name: str = "Primary", time_zone: str = "UTC") -> Schedule:
    from django.utils.text import slugify

    return Schedule.objects.create(team=team, name=name, slug=slugify(name), time_zone=time_zone)


def make_rotation(
    schedule,
    users,
    *,
    name: str = "Week",
    layer: int = 1,
    time_zone: str = "UTC",
    start_date: date = date(2026, 1, 5),
    handoff_time: time = time(9),
    period: str = "weekly",
    period_hours: int | None = None,
    restrictions=None,
    ends_on=None,
) -> Rotation:
    rotation = Rotation.objects.create(
        schedule=schedule,
        name=name,
        layer=layer,
        time_zone=time_zone,
        start_date=start_date,
        handoff_time=handoff_time,
        period=period,
        period_hours=period_hours,
        restrictions=restrictions or [],
        ends_on=ends_on,
    )
    RotationMember.objects.bulk_create(
        [RotationMember(rotation=rotation, user=u, position=i) for i, u in enumerate(users)]
    )
    return rotation


def make_override(schedule, user, starts_at, ends_at, note: str = "") -> Override:
    return Override.objects.create(
        schedule=schedule, user=user, starts_at=starts_at, ends_at=ends_at, note=note
    )
