"""On-call: schedules (layered rotations, restrictions, overrides), who is on call, and calendar feeds.

Escalation policies and pages are the ``paging`` app's.

Rotations are defined in their own IANA time zone (a start date, a local hand-off time, a period), so a weekly
hand-off at Monday 09:00 Europe/London stays at 09:00 local across daylight-saving changes; final shifts are
computed in UTC by ``oncall.shifts``.
"""

from __future__ import annotations

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from teams.models import Team


def new_token() -> str:
    return secrets.token_urlsafe(24)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. Europe/London).") from None


class Schedule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Shown times and the iCal feed.",
    )
    ical_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="schedule_slug_per_team")]

    def __str__(self) -> str:
        return f"{self.team.name}: {self.name}"


class Rotation(models.Model):
    """One layer of a schedule: members take turns, handing over at ``handoff_time`` local time.

    A higher ``layer`` wins where it has someone on call. ``restrictions`` limit when the layer is on call, as a
    list of ``{"days": [0..6 (Monday=0)], "start": "09:00", "end": "17:00"}`` windows in the rotation's time zone.
    """

    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        CUSTOM = "custom", "Custom length"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    layer = models.PositiveSmallIntegerField(
        default=1, help_text="Higher layers win where they have someone."
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    start_date = models.DateField(help_text="The first hand-off's date, in the rotation's time zone.")
    handoff_time = models.TimeField(help_text="Local time of each hand-off.")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.WEEKLY)
    period_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Shift length in hours, for custom rotations (a multiple of 24 keeps "
        "hand-offs at the same local time).",
    )
    ends_on = models.DateField(null=True, blank=True, help_text="No shifts from this local date on.")
    restrictions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["schedule", "-layer", "id"]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name} (layer {self.layer})"


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rotation", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "position"], name="rotation_member_position"),
        ]

    def __str__(self) -> str:
        return f"{self.user} #{self.position} in {self.rotation}"


class Override(models.Model):
    """One person covers a span of a schedule, above every layer."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["schedule", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["schedule", "starts_at", "ends_at"], name="override_span")]

    def __str__(self) -> str:
        return f"{self.user} covers {self.schedule} {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M} UTC"


class CalendarFeed(models.Model):
    """A person's secret iCal feed URL token (their shifts on every schedule)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
