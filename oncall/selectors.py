"""Reads of schedules: their final shifts (through the pure engine in ``oncall.shifts``) and who is on call.

Rotations and overrides are loaded with their people in a fixed number of queries (whatever the number of
schedules), turned into the engine's plain dataclasses with the ``User`` objects as members, and computed in UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.validation import to_id
from oncall import shifts as engine
from oncall.models import CalendarFeed, Override, Rotation, RotationMember, Schedule

log = logging.getLogger(__name__)

# Who is on call at an instant: the shift found is looked up within this much time either side of it.
NOW_HORIZON = timedelta(days=14)
PREVIEW_DAYS = 14
FEED_PAST = timedelta(days=7)
FEED_FUTURE = timedelta(days=90)
# A feed is computed from further back, so a shift that began before the feed's first day keeps its real start
# (and its UID) instead of being cut at the edge.
FEED_LEAD = timedelta(days=30)


# --- Loading -------------------------------------------------------------------------------------------


def rotation_queryset() -> QuerySet[Rotation]:
    return Rotation.objects.prefetch_related(
        Prefetch("members", queryset=RotationMember.objects.select_related("user").order_by("position", "id"))
    ).order_by("-layer", "id")


def schedule_queryset() -> QuerySet[Schedule]:
    return Schedule.objects.select_related("team").prefetch_related(
        Prefetch("rotations", queryset=rotation_queryset())
    )


def schedule_list(*, team=None) -> QuerySet[Schedule]:
    qs = schedule_queryset().order_by("team__name", "name", "id")
    if team is not None:
        qs = qs.filter(team=team)
    return qs


def schedule_get(*, pk) -> Schedule | None:
    pk = to_id(pk)
    if pk is None:
        return None
    return schedule_queryset().filter(pk=pk).first()


def rotation_get(*, schedule: Schedule, pk) -> Rotation | None:
    pk = to_id(pk)
    if pk is None:
        return None
    return rotation_queryset().filter(schedule=schedule, pk=pk).first()


def override_get(*, schedule: Schedule, pk) -> Override | None:
    pk = to_id(pk)
    if pk is None:
        return None
    return Override.objects.select_related("user", "created_by").filter(schedule=schedule, pk=pk).first()


def override_list(*, schedule: Schedule, start: datetime | None = None, end: datetime | None = None):
    qs = (
        Override.objects.filter(schedule=schedule)
        .select_related("user", "created_by")
        .order_by("starts_at", "id")
    )
    if start is not None:
        qs = qs.filter(ends_at__gt=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return qs


def _load_overrides(schedules: Sequence[Schedule], start: datetime, end: datetime) -> None:
    """Attach the overrides overlapping [start, end) to each schedule as ``window_overrides`` (one query)."""
    by_schedule: dict[int, list[Override]] = {s.pk: [] for s in schedules}
    if by_schedule:
        for o in Override.objects.filter(
            schedule_id__in=list(by_schedule), ends_at__gt=start, starts_at__lt=end
        ).select_related("user"):
            by_schedule[o.schedule_id].append(o)
    for s in schedules:
        s.window_overrides = by_schedule[s.pk]


# --- Model -> engine -------------------------------------------------------------------------------------


def rotation_spec(rotation: Rotation, members: Sequence | None = None) -> engine.RotationSpec | None:
    """The engine's view of a rotation (people as User objects); None when it cannot produce shifts."""
    from oncall.services import EARLIEST, LATEST

    if not EARLIEST <= rotation.start_date < LATEST:  # saved around the checks (e.g. a raw import)
        return None
    if members is None:
        members = [m.user for m in rotation.members.all()]
    try:
        restrictions = engine.parse_restrictions(rotation.restrictions)
    except ValueError:
        log.warning("Rotation %s has malformed restrictions; ignoring them.", rotation.pk)
        restrictions = ()
    spec = engine.RotationSpec(
        id=rotation.pk or 0,
        layer=rotation.layer,
        time_zone=rotation.time_zone,
        start_date=rotation.start_date,
        handoff_time=rotation.handoff_time.replace(tzinfo=None),
        members=tuple(members),
        period=rotation.period,
        period_hours=rotation.period_hours,
        ends_on=rotation.ends_on if rotation.ends_on and rotation.ends_on < LATEST else None,
        restrictions=restrictions,
    )
    try:
        engine.period_step(spec)
        engine.zone(spec.time_zone)
    except (ValueError, LookupError):
        return None
    return spec


def override_spec(override: Override) -> engine.OverrideSpec:
    return engine.OverrideSpec(override.pk or 0, override.user, override.starts_at, override.ends_at)


def schedule_timeline(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    rotations: Iterable[Rotation] | None = None,
    overrides: Iterable[Override] | None = None,
    extra_rotation: engine.RotationSpec | None = None,
    replace_rotation_id: int | None = None,
) -> engine.Timeline:
    """The final shifts and gaps of ``schedule`` in [start, end) (shift users are User objects).

    ``extra_rotation`` (with ``replace_rotation_id``) computes a preview: a rotation not saved yet, or an edited
    one in place of its saved version.
    """
    if rotations is None:
        rotations = schedule.rotations.all()
    if overrides is None:
        overrides = getattr(schedule, "window_overrides", None)
        if overrides is None:
            overrides = list(override_list(schedule=schedule, start=start, end=end))
    specs = [
        spec
        for r in rotations
        if r.pk != replace_rotation_id or replace_rotation_id is None
        if (spec := rotation_spec(r)) is not None
    ]
    if extra_rotation is not None:
        specs.append(extra_rotation)
    return engine.compute(specs, [override_spec(o) for o in overrides], start, end)


# --- Who is on call ----------------------------------------------------------------------------------------


@dataclass
class ScheduleOncall:
    schedule: Schedule
    shift: engine.Shift | None  # the shift containing ``at`` (None: a gap)
    next_shift: engine.Shift | None  # the next one with someone else (or after the gap)
    at: datetime

    @property
    def user(self):
        return self.shift.user if self.shift else None


def _oncall(schedule: Schedule, at: datetime) -> ScheduleOncall:
    timeline = schedule_timeline(schedule, at - NOW_HORIZON, at + NOW_HORIZON)
    shift = timeline.at(at)
    upcoming = [sh for sh in timeline.shifts if sh.start > at and (shift is None or sh.user != shift.user)]
    return ScheduleOncall(schedule=schedule, shift=shift, next_shift=upcoming[0] if upcoming else None, at=at)


def teams_oncall_entries(teams: Iterable, at: datetime | None = None) -> dict[int, list[ScheduleOncall]]:
    """Per team id, who is on call on each of its schedules at ``at`` (now by default), in four queries."""
    at = at or timezone.now()
    team_ids = [t.pk for t in teams]
    schedules = list(schedule_list().filter(team_id__in=team_ids))
    _load_overrides(schedules, at - NOW_HORIZON, at + NOW_HORIZON)
    out: dict[int, list[ScheduleOncall]] = {pk: [] for pk in team_ids}
    for schedule in schedules:
        out[schedule.team_id].append(_oncall(schedule, at))
    return out


def team_oncall_entries(team, at: datetime | None = None) -> list[ScheduleOncall]:
    """Who is on call on each of ``team``'s schedules at ``at`` (now by default)."""
    return teams_oncall_entries([team], at)[team.pk]


def schedule_oncall(schedule: Schedule, at: datetime | None = None) -> list:
    """The people on call for ``schedule`` at ``at`` (a list of one, or empty in a gap)."""
    at = at or timezone.now()
    schedule = schedule_get(pk=schedule.pk) or schedule
    entry = _oncall(schedule, at)
    return [entry.user] if entry.user is not None else []


def team_oncall(team, at: datetime | None = None) -> list:
    """The resolver for ``notifications.recipients``: the distinct active people on call on ``team``'s
    schedules at ``at``."""
    seen, people = set(), []
    for entry in team_oncall_entries(team, at):
        user = entry.user
        if user is not None and user.is_active and user.pk not in seen:
            seen.add(user.pk)
            people.append(user)
    return people


# --- A person's shifts -----------------------------------------------------------------------------------


def user_schedules(user) -> QuerySet[Schedule]:
    """The schedules ``user`` takes part in: a rotation member, or covering an override."""
    return (
        schedule_queryset()
        .filter(Q(rotations__members__user=user) | Q(overrides__user=user))
        .distinct()
        .order_by("team__name", "name", "id")
    )


@dataclass
class UserShift:
    schedule: Schedule
    shift: engine.Shift


def user_shifts(user, start: datetime, end: datetime) -> list[UserShift]:
    """The final shifts ``user`` holds on any schedule in [start, end), by start."""
    schedules = list(user_schedules(user))
    _load_overrides(schedules, start, end)
    out = []
    for schedule in schedules:
        for sh in schedule_timeline(schedule, start, end).shifts:
            if sh.user.pk == user.pk:
                out.append(UserShift(schedule, sh))
    out.sort(key=lambda us: (us.shift.start, us.schedule.pk))
    return out


def feed_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """From 7 days back to (at least) 90 days ahead, in whole UTC days: the feed is the same all day long."""
    today = (now or timezone.now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - FEED_PAST, today + FEED_FUTURE + timedelta(days=1)


def schedule_feed_shifts(schedule: Schedule, now: datetime | None = None) -> list[engine.Shift]:
    """The shifts of a schedule's iCal feed: from 7 days back to 90 ahead, each with its real start."""
    start, end = feed_window(now)
    timeline = schedule_timeline(schedule, start - FEED_LEAD, end)
    return [sh for sh in timeline.shifts if sh.end > start]


def user_feed_shifts(user, now: datetime | None = None) -> list[UserShift]:
    start, end = feed_window(now)
    return [us for us in user_shifts(user, start - FEED_LEAD, end) if us.shift.end > start]


def schedule_by_token(token: str) -> Schedule | None:
    if not token or len(token) > 64:
        return None
    return schedule_queryset().filter(ical_token=token).first()


def feed_by_token(token: str) -> CalendarFeed | None:
    if not token or len(token) > 64:
        return None
    return CalendarFeed.objects.select_related("user").filter(token=token, user__is_active=True).first()


def calendar_feed_find(*, user) -> CalendarFeed | None:
    """The person's calendar feed, or None before they asked for one (a page view never creates it)."""
    if not user or not user.is_authenticated:
        return None
    return CalendarFeed.objects.filter(user=user).first()
