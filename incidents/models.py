from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import TimeStampedModel
from incidents.state import OPEN_STATUSES, Status
from teams.models import Service, Team


class Severity(models.Model):
    """How bad it is. Seeded with critical / major / minor; rank 1 is the most severe."""

    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe.")
    colour = models.CharField(max_length=7, default="#6b7280", help_text="Hex colour of the severity chip.")
    description = models.TextField(blank=True)
    uses_incident_process = models.BooleanField(
        default=True,
        help_text="Off for severities that go to normal support instead of the incident workflow.",
    )
    update_interval_minutes = models.PositiveSmallIntegerField(
        default=30,
        help_text="Customer-impact incidents of this severity remind the messenger when no customer-facing "
        "update has been posted for this many minutes.",
    )

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """An incident role: incident lead, messenger, resolution owner, scribe..."""

    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SLACK = "slack", "Slack"
    ALERT = "alert", "Alert"
    INTEGRATION = "integration", "Integration"
    SYSTEM = "system", "System"


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=[s.value for s in OPEN_STATUSES])


class Incident(TimeStampedModel):
    Status = models.TextChoices("Status", [(s.name, (s.value, s.label)) for s in Status])

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRIAGE)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents")
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    customer_impact = models.BooleanField(default=False)
    private = models.BooleanField(
        default=False, help_text="Security incident: visible only to participants and admins."
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="declared_incidents",
    )
    declared_at = models.DateTimeField(default=timezone.now, db_index=True)
    # One timestamp per milestone: the last time the incident entered the status.
    investigating_at = models.DateTimeField(null=True, blank=True)
    identified_at = models.DateTimeField(null=True, blank=True)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Bumped by every change of the incident's state (everything on its timeline but notes), under "
        "its row lock; forms and API clients send the version they were shown (incidents.versions).",
    )

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-declared_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-declared_at"], name="incident_status_declared"),
            models.Index(fields=["team", "status"], name="incident_team_status"),
            models.Index(fields=["private"], name="incident_private"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        """What people call the incident: "INC-12"."""
        return self.reference_for(self.pk)

    @staticmethod
    def reference_for(pk: int | None) -> str:
        """The reference of the incident with id ``pk`` ("INC-new" before it is saved), where only the id is at
        hand."""
        return f"INC-{pk}" if pk else "INC-new"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def get_absolute_url(self) -> str:
        # Reversed once per URLconf and script prefix, then formatted: every row of the lists and the dashboard
        # asks for it, and a reverse() each was a measurable share of those pages (bench/README.md, issue 10).
        from django.urls import get_script_prefix, get_urlconf, reverse

        key = (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
        parts = _DETAIL_URL_PARTS.get(key)
        if parts is None:
            head, _, tail = reverse("incidents:detail", args=[_PK_MARK]).partition(str(_PK_MARK))
            parts = _DETAIL_URL_PARTS[key] = (head, tail)
        return f"{parts[0]}{int(self.pk)}{parts[1]}"


_PK_MARK = 987654321987654321
_DETAIL_URL_PARTS: dict[tuple, tuple[str, str]] = {}


class RoleAssignment(models.Model):
    """Who holds a role on an incident, and when. Hand-offs relieve the old holder and keep the history."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_roles"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    relieved_at = models.DateTimeField(null=True, blank=True)
    relieved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["role__order", "assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=Q(relieved_at__isnull=True),
                name="one_current_holder_per_role",
            )
        ]
        indexes = [models.Index(fields=["user", "incident"], name="roleassignment_user_incident")]

    def __str__(self) -> str:
        return f"{self.role} on {self.incident.reference}: {self.user}"

    @property
    def is_current(self) -> bool:
        return self.relieved_at is None


class Participant(models.Model):
    """Someone brought into an incident who is neither its declarer, on its team nor a role holder: a person paged
    for it, someone invited. Participants see a private incident like its team does."""

    class Reason(models.TextChoices):
        PAGED = "paged", "Paged"
        INVITED = "invited", "Invited"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_participations"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="one_participation_per_user")
        ]
        indexes = [models.Index(fields=["user", "incident"], name="participant_user_incident")]

    def __str__(self) -> str:
        return f"{self.user} on {self.incident.reference} ({self.reason})"


class EventKind(models.TextChoices):
    """The incident core's own event kinds. Other apps register theirs in ``incidents.kinds``: a stored kind is a
    plain string, so a wing adds kinds without a migration here."""

    DECLARED = "declared", "Declared"
    STATUS_CHANGED = "status_changed", "Status changed"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    ROLE_RELIEVED = "role_relieved", "Role relieved"
    NOTE_ADDED = "note_added", "Note"
    UPDATE_POSTED = "update_posted", "Update posted"
    FIELDS_CHANGED = "fields_changed", "Details changed"
    PARTICIPANTS_ADDED = "participants_added", "Participants added"


class ImmutableError(Exception):
    pass


class TimelineEvent(models.Model):
    """One immutable fact about an incident. The timeline is the incident's history and the outbox of domain events."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(
        max_length=40, db_index=True, help_text="A registered event kind (incidents.kinds)."
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.SYSTEM)
    via = models.CharField(
        max_length=100,
        blank=True,
        help_text="The integration that acted, when no person did (Alertmanager, the Slack app ...).",
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    text = models.TextField(blank=True, help_text="The note or update text, when there is one.")
    data = models.JSONField(
        default=dict, blank=True, help_text="Old and new values, and what else the kind needs."
    )
    incident_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The incident's version this event made (empty for notes, which do not change its state).",
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at", "id"], name="event_incident_time")]

    def __str__(self) -> str:
        return f"{self.kind_label} on {Incident.reference_for(self.incident_id)} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ImmutableError("Timeline events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Timeline events are immutable.")

    @property
    def kind_label(self) -> str:
        from incidents.kinds import get_kind

        return get_kind(self.kind).label

    @property
    def recap_template(self) -> str:
        """The template of the event's one-line recap (chat, mail), when its kind registered one."""
        from incidents.kinds import get_kind

        return get_kind(self.kind).recap_template


class ConsumerRun(models.Model):
    """One record per (timeline event, consumer): the consumer's reaction to the event runs exactly once.

    Written in the same transaction as the event, so a lost broker message or a killed worker only delays the
    reaction: the sweeper re-dispatches runs that have not finished.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(TimelineEvent, on_delete=models.CASCADE, related_name="consumer_runs")
    consumer = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "consumer"], name="consumerrun_unique_event_consumer")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="consumerrun_pending_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer} for event {self.event_id} ({self.status})"


class IdempotencyKey(models.Model):
    """A retried request carries the same key: the first one's incident is returned instead of a second one.

    Unique per source, caller and key. The row is committed before the incident is declared (``incident`` empty
    while that runs), so a concurrent repeat sees it and is told the first is still in progress.
    """

    source = models.CharField(max_length=12, choices=Source.choices)
    scope = models.CharField(max_length=120, help_text="Who sent it: user:<id> or integration:<name>.")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "scope", "key"], name="idempotency_key_unique_per_caller"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.scope} {self.key}"
