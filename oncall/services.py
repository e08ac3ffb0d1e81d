"""Writes of schedules, rotations, overrides and calendar feeds (escalation policies and pages are ``paging``'s).

Anyone signed in reads schedules; a team's leads and admins (and superusers) edit that team's schedules.
Every check is here, so the API, the web UI and the admin refuse the same things with the same messages.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from core.db import atomic
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.validation import contains_nul
from oncall import shifts as engine
from oncall.models import CalendarFeed, Override, Rotation, RotationMember, Schedule, new_token
from teams.models import Membership
from teams.selectors import user_is_admin, user_team_role

NAME_MAX = 100
DESCRIPTION_MAX = 2000
NOTE_MAX = 200
LAYER_MAX = 100
MEMBERS_MAX = 100
PERIOD_HOURS_MAX = 24 * 366
OVERRIDE_MAX = timedelta(days=366)
# Dates a schedule may use: far enough from datetime's limits that a year of hand-offs never overflows.
EARLIEST = date(1970, 1, 1)
LATEST = date(2200, 1, 1)
EDITOR_ROLES = {Membership.Role.LEAD, Membership.Role.ADMIN}


# --- Permissions ------------------------------------------------------------------------------------------


def can_edit_schedules(user, team) -> bool:
    """A team's leads and admins, and superusers, edit its schedules."""
    if user_is_admin(user):
        return True
    return user_team_role(user, team) in EDITOR_ROLES


def can_reset_feed(user, schedule: Schedule) -> bool:
    """Who may reset a schedule's secret iCal feed (``schedule_reset_token``), and so the only ones shown its URL:
    the schedule's editors. Everyone else subscribes to their personal feed."""
    return can_edit_schedules(user, schedule.team)


def feed_reset_checker(user) -> Callable[[Schedule], bool]:
    """``can_reset_feed`` for many schedules at the cost of one query (a list of schedules)."""
    if user_is_admin(user):
        return lambda schedule: True
    if not user or not user.is_authenticated:
        return lambda schedule: False
    team_ids = set(
        Membership.objects.filter(user_id=user.pk, role__in=EDITOR_ROLES).values_list("team_id", flat=True)
    )
    return lambda schedule: schedule.team_id in team_ids


def _require_editor(actor, team) -> None:
    if not can_edit_schedules(actor, team):
        raise PermissionDenied("Only the team's leads and admins may change its schedules.")


# --- Checks -------------------------------------------------------------------------------------------------


def clean_name(value, *, field: str = "name") -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value:
        raise ValidationError("A name is required.", code="required", field=field)
    if len(value) > NAME_MAX:
        raise ValidationError(f"At most {NAME_MAX} characters.", field=field)
    return value


def clean_time_zone(value, *, field: str = "time_zone") -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value or len(value) > 64 or contains_nul(value):
        raise ValidationError("An IANA time zone is required (e.g. Europe/London).", field=field)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"'{value}' is not an IANA time zone (e.g. Europe/London).", field=field
        ) from None
    return value


def clean_restrictions(value) -> list:
    try:
        engine.parse_restrictions(value)
    except ValueError as exc:
        raise ValidationError(str(exc), field="restrictions") from None
    return list(value or [])


def clean_members(members) -> list:
    members = list(members or [])
    if not members:
        raise ValidationError("A rotation needs at least one person.", code="required", field="members")
    if len(members) > MEMBERS_MAX:
        raise ValidationError(f"At most {MEMBERS_MAX} people.", field="members")
    for user in members:
        if not user.is_active:
            raise ValidationError(f"'{user.get_username()}' is not an active user.", field="members")
    return members


@dataclass(frozen=True)
class RotationFields:
    name: str
    layer: int
    time_zone: str
    start_date: date
    handoff_time: time
    period: str
    period_hours: int | None
    ends_on: date | None
    restrictions: list


def clean_rotation(values: dict) -> RotationFields:
    """The checked fields of a rotation (from a whole set of values: a create, or an update merged over the
    saved rotation)."""
    name = clean_name(values.get("name"))
    layer = values.get("layer", 1)
    if not isinstance(layer, int) or isinstance(layer, bool) or not 1 <= layer <= LAYER_MAX:
        raise ValidationError(f"A layer is a number from 1 to {LAYER_MAX}.", field="layer")
    period = values.get("period") or Rotation.Period.WEEKLY
    if period not in Rotation.Period.values:
        raise ValidationError("The period is daily, weekly or custom.", field="period")
    period_hours = values.get("period_hours")
    if period == Rotation.Period.CUSTOM:
        if (
            not isinstance(period_hours, int)
            or isinstance(period_hours, bool)
            or not 1 <= period_hours <= PERIOD_HOURS_MAX
        ):
            raise ValidationError(
                f"A custom rotation needs a shift length of 1 to {PERIOD_HOURS_MAX} hours.",
                field="period_hours",
            )
    else:
        period_hours = None
    start_date = values.get("start_date")
    if not isinstance(start_date, date):
        raise ValidationError("A start date is required.", code="required", field="start_date")
    if not EARLIEST <= start_date < LATEST:
        raise ValidationError(f"Between {EARLIEST.year} and {LATEST.year - 1}.", field="start_date")
    handoff_time = values.get("handoff_time")
    if not isinstance(handoff_time, time):
        raise ValidationError("A hand-off time is required.", code="required", field="handoff_time")
    ends_on = values.get("ends_on")
    if ends_on is not None and ends_on <= start_date:
        raise ValidationError("The rotation must end after its start date.", field="ends_on")
    if ends_on is not None and ends_on >= LATEST:
        raise ValidationError(f"Before {LATEST.year}.", field="ends_on")
    return RotationFields(
        name=name,
        layer=layer,
        time_zone=clean_time_zone(values.get("time_zone") or "UTC"),
        start_date=start_date,
        handoff_time=handoff_time.replace(tzinfo=None, second=0, microsecond=0),
        period=period,
        period_hours=period_hours,
        ends_on=ends_on,
        restrictions=clean_restrictions(values.get("restrictions")),
    )


def _aware(value, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError("A date and time is required.", code="required", field=field)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value.replace(microsecond=0)  # calendars (iCal) keep whole seconds


def clean_override(*, user, starts_at, ends_at) -> tuple[datetime, datetime]:
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not EARLIEST.year <= value.astimezone(UTC).year < LATEST.year:
            raise ValidationError(f"Between {EARLIEST.year} and {LATEST.year - 1}.", field=name)
    if ends_at <= starts_at:
        raise ValidationError("The override must end after it starts.", field="ends_at")
    if ends_at - starts_at > OVERRIDE_MAX:
        raise ValidationError("An override spans at most 366 days.", field="ends_at")
    if user is None or not user.is_active:
        raise ValidationError("An active user is required.", field="user")
    return starts_at, ends_at


# --- Schedules -------------------------------------------------------------------------------------------


def _unique_slug(team, name: str, *, exclude_pk=None) -> str:
    base = (slugify(name) or "schedule")[:90]
    slug, n = base, 2
    qs = Schedule.objects.filter(team=team)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    while qs.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_name_free(team, name: str, *, exclude_pk=None) -> None:
    qs = Schedule.objects.filter(team=team, name__iexact=name)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(f"{team.name} already has a schedule named '{name}'.", code="duplicate", field="name")


@atomic
def schedule_create(*, actor, team, name: str, time_zone: str = "UTC", description: str = "") -> Schedule:
    _require_editor(actor, team)
    name = clean_name(name)
    if len(description or "") > DESCRIPTION_MAX:
        raise ValidationError(f"At most {DESCRIPTION_MAX} characters.", field="description")
    _check_name_free(team, name)
    return Schedule.objects.create(
        team=team,
        name=name,
        slug=_unique_slug(team, name),
        time_zone=clean_time_zone(time_zone),
        description=description or "",
    )


@atomic
def schedule_update(*, actor, schedule: Schedule, **changes) -> Schedule:
    _require_editor(actor, schedule.team)
    if "name" in changes:
        name = clean_name(changes["name"])
        if name != schedule.name:
            _check_name_free(schedule.team, name, exclude_pk=schedule.pk)
            schedule.name = name
            schedule.slug = _unique_slug(schedule.team, name, exclude_pk=schedule.pk)
    if "time_zone" in changes:
        schedule.time_zone = clean_time_zone(changes["time_zone"])
    if "description" in changes:
        description = changes["description"] or ""
        if len(description) > DESCRIPTION_MAX:
            raise ValidationError(f"At most {DESCRIPTION_MAX} characters.", field="description")
        schedule.description = description
    schedule.save()
    return schedule


@atomic
def schedule_delete(*, actor, schedule: Schedule) -> None:
    _require_editor(actor, schedule.team)
    try:
        with transaction.atomic():
            schedule.delete()
    except (ProtectedError, IntegrityError):
        raise Conflict(
            "An escalation policy pages this schedule: change that policy first.", code="in_use"
        ) from None


@atomic
def schedule_reset_token(*, actor, schedule: Schedule) -> Schedule:
    _require_editor(actor, schedule.team)
    schedule.ical_token = new_token()
    schedule.save(update_fields=["ical_token"])
    return schedule


# --- Rotations -------------------------------------------------------------------------------------------


def _set_members(rotation: Rotation, members) -> None:
    RotationMember.objects.filter(rotation=rotation).delete()
    RotationMember.objects.bulk_create(
        [RotationMember(rotation=rotation, user=user, position=i) for i, user in enumerate(members)]
    )


ROTATION_FIELDS = list(RotationFields.__dataclass_fields__)


@atomic
def rotation_create(*, actor, schedule: Schedule, members, **values) -> Rotation:
    _require_editor(actor, schedule.team)
    fields = clean_rotation(values)
    members = clean_members(members)
    rotation = Rotation.objects.create(schedule=schedule, **fields.__dict__)
    _set_members(rotation, members)
    return rotation


@atomic
def rotation_update(*, actor, rotation: Rotation, members=None, **changes) -> Rotation:
    _require_editor(actor, rotation.schedule.team)
    current = {name: getattr(rotation, name) for name in ROTATION_FIELDS}
    fields = clean_rotation({**current, **changes})
    for name, value in fields.__dict__.items():
        setattr(rotation, name, value)
    rotation.save()
    if members is not None:
        _set_members(rotation, clean_members(members))
    return rotation


@atomic
def rotation_delete(*, actor, rotation: Rotation) -> None:
    _require_editor(actor, rotation.schedule.team)
    rotation.delete()


def rotation_preview(
    *, schedule: Schedule, members, rotation: Rotation | None = None, days: int = 14, **values
):
    """The final shifts of ``schedule`` for the next ``days`` days as they would be with this rotation (new, or
    ``rotation`` edited) saved; nothing is written. Raises ValidationError like ``rotation_create``."""
    from oncall import selectors

    if rotation is not None:
        values = {**{name: getattr(rotation, name) for name in ROTATION_FIELDS}, **values}
    fields = clean_rotation(values)
    members = clean_members(members)
    spec = engine.RotationSpec(
        id=rotation.pk if rotation is not None else 2**62,
        layer=fields.layer,
        time_zone=fields.time_zone,
        start_date=fields.start_date,
        handoff_time=fields.handoff_time,
        members=tuple(members),
        period=fields.period,
        period_hours=fields.period_hours,
        ends_on=fields.ends_on,
        restrictions=engine.parse_restrictions(fields.restrictions),
    )
    start = timezone.now().replace(second=0, microsecond=0)
    return selectors.schedule_timeline(
        schedule,
        start,
        start + timedelta(days=days),
        extra_rotation=spec,
        replace_rotation_id=rotation.pk if rotation is not None else None,
    )


# --- Overrides -------------------------------------------------------------------------------------------


@atomic
def override_create(*, actor, schedule: Schedule, user, starts_at, ends_at, note: str = "") -> Override:
    _require_editor(actor, schedule.team)
    starts_at, ends_at = clean_override(user=user, starts_at=starts_at, ends_at=ends_at)
    if len(note or "") > NOTE_MAX:
        raise ValidationError(f"At most {NOTE_MAX} characters.", field="note")
    return Override.objects.create(
        schedule=schedule,
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note or "",
        created_by=actor if actor and actor.is_authenticated else None,
    )


@atomic
def override_update(*, actor, override: Override, **changes) -> Override:
    _require_editor(actor, override.schedule.team)
    user = changes.get("user", override.user)
    starts_at, ends_at = clean_override(
        user=user,
        starts_at=changes.get("starts_at", override.starts_at),
        ends_at=changes.get("ends_at", override.ends_at),
    )
    note = changes.get("note", override.note) or ""
    if len(note) > NOTE_MAX:
        raise ValidationError(f"At most {NOTE_MAX} characters.", field="note")
    override.user, override.starts_at, override.ends_at, override.note = user, starts_at, ends_at, note
    override.save()
    return override


@atomic
def override_delete(*, actor, override: Override) -> None:
    _require_editor(actor, override.schedule.team)
    override.delete()


# --- Calendar feeds ----------------------------------------------------------------------------------------


@atomic
def calendar_feed_ensure(*, user) -> CalendarFeed:
    """The person's calendar feed, created with a secret URL the first time (a write: POST only)."""
    if not user or not user.is_authenticated:
        raise NotFound("No such calendar feed.")
    feed, _ = CalendarFeed.objects.get_or_create(user=user)
    return feed


@atomic
def calendar_feed_reset(*, user) -> CalendarFeed:
    """A new secret URL for ``user``'s feed (the first one when there is none); the old one stops working."""
    feed, created = (
        CalendarFeed.objects.get_or_create(user=user) if user and user.is_authenticated else (None, 0)
    )
    if feed is None:
        raise NotFound("No such calendar feed.")
    if not created:
        feed.token = new_token()
        feed.save(update_fields=["token"])
    return feed
