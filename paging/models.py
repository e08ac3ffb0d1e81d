"""Paging: escalation policies (ordered steps, repeats, one default per team) and pages with their notified steps.

The tables were created by the on-call app and moved here (``paging/migrations/0001_initial.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import Incident, Severity
from oncall.models import Schedule, new_token
from teams.models import Team


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
