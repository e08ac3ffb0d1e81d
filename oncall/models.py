"""On-call: schedules (layered rotations, restrictions, overrides), escalation policies and pages.

Rotations are defined in their own IANA time zone (a start date, a local hand-off time, a period), so a weekly
hand-off at Monday 09:00 Europe/London stays at 09:00 local across daylight-saving changes; final shifts are
computed in UTC by ``oncall.shifts``.
"""

from __future__ import annotations

import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from incidents.models import Incident, Severity
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


class EscalationPolicy(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="escalation_policies")
    name = models.CharField(max_length=100)
    repeat = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many times the whole policy runs again after its last step when nobody acknowledges.",
    )
    is_default = models.BooleanField(default=False, help_text="Used when the team is paged.")
    auto_page_severity = models.ForeignKey(
        Severity,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Page the team automatically when an incident at least this severe is declared for it.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team__name", "name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=models.Q(is_default=True), name="one_default_policy_per_team"
            )
        ]

    def __str__(self) -> str:
        return f"{self.team.name}: {self.name}"


class EscalationStep(models.Model):
    class Target(models.TextChoices):
        SCHEDULE = "schedule", "The on-call of a schedule"
        USER = "user", "A person"
        TEAM = "team", "The whole team"

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    target = models.CharField(max_length=10, choices=Target.choices)
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wait_minutes = models.PositiveSmallIntegerField(
        default=5, help_text="Minutes to wait for an acknowledgement before the next step."
    )

    class Meta:
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_position")
        ]

    def __str__(self) -> str:
        return f"Step {self.position + 1} of {self.policy}"


class Page(models.Model):
    """A call for help on an incident: to a team (through its escalation policy) or to one person.

    The next escalation is stored in ``next_escalation_at``; a Celery countdown wakes it and a beat sweeper catches
    lost wake-ups. ``wake_token`` is replaced at every step, so a stale wake-up is refused.
    """

    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        EXHAUSTED = "exhausted", "Nobody acknowledged"
        CANCELLED = "cancelled", "Cancelled"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="pages")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="pages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pages_received",
    )
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="pages"
    )
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRIGGERED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    round = models.PositiveSmallIntegerField(
        default=0, help_text="How many times the policy has started over."
    )
    step = models.PositiveSmallIntegerField(default=0, help_text="The step last notified.")
    next_escalation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    wake_token = models.UUIDField(default=uuid.uuid4)
    ack_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_escalation_at"], name="page_due")]

    def __str__(self) -> str:
        return f"Page {self.pk} on {Incident.reference_for(self.incident_id)} ({self.status})"


class PageStep(models.Model):
    """One notified step of a page: unique per (page, round, step), so a step is never sent twice."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="steps")
    round = models.PositiveSmallIntegerField()
    step = models.PositiveSmallIntegerField()
    notified = models.JSONField(default=list, help_text="User ids notified at this step.")
    notified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page", "round", "step"]
        constraints = [models.UniqueConstraint(fields=["page", "round", "step"], name="page_step_once")]

    def __str__(self) -> str:
        return f"Page {self.page_id} round {self.round} step {self.step}"
