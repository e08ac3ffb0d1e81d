"""Status pages: pages with their components (in groups), public incidents with their public updates, and
scheduled maintenances.

What customers read is written here by hand, never copied from the incident: a public incident may *link* to an
``incidents.Incident`` (which must not be private, ``statuspage.services``), but its name, impact and updates are
its own. Every row shown by the Statuspage-compatible API carries a ``code``: a random 12-character base-36 id, as
Statuspage's ids look, so the API never shows our database ids.
"""

from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.models import Incident
from teams.models import Service, Team

CODE_ALPHABET = string.digits + string.ascii_lowercase
SHORTLINK_ALPHABET = string.digits + string.ascii_letters


def new_code() -> str:
    """A Statuspage-like id: 12 random base-36 characters ("cp306tmzcl0y")."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def new_shortlink() -> str:
    """The short id of a public incident or maintenance ("Q0E" in Statuspage's ``stspg.co/Q0E``), base 62."""
    return "".join(secrets.choice(SHORTLINK_ALPHABET) for _ in range(7))


class ComponentStatus(models.TextChoices):
    """A component's status, with Statuspage's names."""

    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


class Impact(models.TextChoices):
    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class StatusPage(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (anyone, signed out)"
        INTERNAL = "internal", "Internal (signed-in people only)"

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    is_default = models.BooleanField(
        default=False, help_text="Served at /status/ as well as at its own address."
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="status_pages",
        help_text="Its leads and admins manage the page; without a team, only administrators do.",
    )
    support_email = models.EmailField(
        blank=True, help_text="The address the public updates invite questions to."
    )
    url = models.URLField(
        blank=True, help_text="Where customers read the page, if not at this server's /status/."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_status_page"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC


class ComponentGroup(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="groups")
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["page", "position", "id"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A part of the product customers know by name. Its status shown is derived (``statuspage.state``): the
    manual status, unless open public incidents affecting it say worse; ``override`` makes the manual status win."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="components")
    group = models.ForeignKey(
        ComponentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="status_components",
        help_text="Catalog services behind this component.",
    )
    manual_status = models.CharField(
        max_length=25, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    override = models.BooleanField(
        default=False, help_text="Show the manual status whatever the open public incidents say."
    )
    showcase = models.BooleanField(default=True)
    only_show_if_degraded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["page", "position", "id"]

    def __str__(self) -> str:
        return f"{self.page}: {self.name}"


class PublicIncident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        POSTMORTEM = "postmortem", "Postmortem"

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="incidents")
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="public_incidents",
        help_text="The incident this tells customers about (never a private one).",
    )
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    shortlink = models.CharField(max_length=12, unique=True, default=new_shortlink, editable=False)
    name = models.CharField(max_length=200)
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.MINOR)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.INVESTIGATING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    monitoring_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["page", "status"], name="public_incident_page_status")]

    def __str__(self) -> str:
        return self.name


class PublicUpdate(models.Model):
    """One public update: its status, its text, and the components it affects with their status at that time."""

    public_incident = models.ForeignKey(PublicIncident, on_delete=models.CASCADE, related_name="updates")
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    status = models.CharField(max_length=15, choices=PublicIncident.Status.choices)
    body = models.TextField()
    display_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_incident}: {self.status}"


class AffectedComponent(models.Model):
    update = models.ForeignKey(PublicUpdate, on_delete=models.CASCADE, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=25, choices=ComponentStatus.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["update", "component"], name="affected_component_once")
        ]

    def __str__(self) -> str:
        return f"{self.component.name}: {self.status}"


class ScheduledMaintenance(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="maintenances")
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    shortlink = models.CharField(max_length=12, unique=True, default=new_shortlink, editable=False)
    name = models.CharField(max_length=200)
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.NONE)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_for = models.DateTimeField()
    scheduled_until = models.DateTimeField()
    components = models.ManyToManyField(Component, blank=True, related_name="maintenances")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scheduled_until__gt=models.F("scheduled_for")),
                name="maintenance_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MaintenanceUpdate(models.Model):
    maintenance = models.ForeignKey(ScheduledMaintenance, on_delete=models.CASCADE, related_name="updates")
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    status = models.CharField(max_length=15, choices=ScheduledMaintenance.Status.choices)
    body = models.TextField()
    display_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self) -> str:
        return f"{self.maintenance}: {self.status}"


def new_subscriber_token() -> str:
    return secrets.token_urlsafe(32)


class Subscriber(models.Model):
    """An email subscriber of a page: pending until the confirm link is followed (double opt-in), then mailed
    about the components it chose (none chosen: all of them) until it unsubscribes. The token (43 random URL-safe
    characters, 256 bits) is in the confirm link and in the one-click unsubscribe link of every mail."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="subscribers")
    email = models.EmailField(max_length=254)
    components = models.ManyToManyField(
        Component, blank=True, related_name="subscribers", help_text="None: every component of the page."
    )
    token = models.CharField(max_length=64, unique=True, default=new_subscriber_token, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["page", "email"]
        constraints = [
            models.UniqueConstraint(fields=["page", "email"], name="one_subscriber_per_page_email")
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.page})"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None
