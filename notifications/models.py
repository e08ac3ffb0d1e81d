"""The notifications outbox: where messages go (destinations), when (routing rules, attention windows), and every
message Muster sends, one row each, with its delivery state."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from incidents.models import Incident, Severity, TimelineEvent
from teams.models import Service, Team


class Channel(models.TextChoices):
    """The transports the house ships. A channel is stored as the name of any registered transport
    (``notifications.channels.register_transport``), so these are names, not the closed set of values."""

    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


CHANNEL_HELP = "The name of a registered transport (slack, email, webhook, or one an app adds)."


class Destination(models.Model):
    """A place messages go: a Slack channel, an email list or an outgoing webhook endpoint."""

    name = models.CharField(max_length=100, unique=True)
    channel = models.CharField(max_length=40, help_text=CHANNEL_HELP)
    slack_channel = models.CharField(
        max_length=80, blank=True, help_text="Slack channel name (#incidents) or id (C0123ABCD)."
    )
    email_addresses = models.TextField(
        blank=True, help_text="Email addresses, one per line or separated by commas."
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    address = models.CharField(
        max_length=500, blank=True, help_text="Where a transport added by an app delivers, in its own format."
    )
    webhook_secret = models.CharField(
        max_length=200, blank=True, help_text="Signs each delivery with HMAC-SHA256 (X-Muster-Signature)."
    )
    mention = models.CharField(
        max_length=100,
        blank=True,
        help_text="Text put before Slack messages, e.g. @marketing-incident or <!subteam^S0123>.",
    )
    active = models.BooleanField(default=True)
    last_error = models.TextField(blank=True, help_text="The last permanent delivery error, if any.")
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_label})"

    @property
    def channel_label(self) -> str:
        from notifications import channels

        return channels.label(self.channel)

    def clean(self) -> None:
        from notifications import services

        try:
            services.destination_check(self)
        except Exception as exc:  # DomainError with a field
            field = getattr(exc, "field", None)
            raise ValidationError({field: str(exc)} if field else str(exc)) from exc


class RoutingRule(models.Model):
    """When an incident event matches every condition set here, a message goes to each destination.

    Conditions left empty match everything. A rule with ``during_attention_window`` matches only while a
    heightened-attention window is active, and then whatever the severity.
    """

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_rules",
        help_text="Empty: a global rule, for every team's incidents.",
    )
    event_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text="Timeline event kinds this rule reacts to; empty means declared, status and severity "
        "changes and posted updates.",
    )
    min_severity = models.ForeignKey(
        Severity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only incidents at least this severe. Empty: any severity.",
    )
    customer_impact_only = models.BooleanField(default=False)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    during_attention_window = models.BooleanField(
        default=False,
        help_text="Only while a heightened-attention window is active (launch day): then every incident matches.",
    )
    include_private = models.BooleanField(
        default=False, help_text="Private (security) incidents are not announced unless this is on."
    )
    destinations = models.ManyToManyField(Destination, related_name="rules")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class AttentionWindow(models.Model):
    """A heightened-attention period (launch, funding announcement): every incident also goes to marketing."""

    note = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="attention_window_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.note} ({self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M} UTC)"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The window must end after it starts."})

    @property
    def is_active(self) -> bool:
        return self.starts_at <= timezone.now() < self.ends_at


class Contact(models.Model):
    """How to reach a person outside Muster."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact")
    slack_user_id = models.CharField(
        max_length=30, blank=True, help_text="Slack member id (U0123ABCD); found by email when empty."
    )

    def __str__(self) -> str:
        return f"Contact for {self.user}"


class Message(models.Model):
    """One message to one target, written in the transaction that decided to send it and delivered after commit.

    ``uid`` is the message's stable identity at the receiver (email Message-ID, webhook delivery id), so a
    delivery repeated after a worker died between the peer's acceptance and the ``sent`` mark can be dropped.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=40, help_text=CHANNEL_HELP)
    kind = models.CharField(
        max_length=40,
        default="post",
        help_text="What the transport does: post, dm, email, webhook, or a Slack channel operation.",
    )
    target = models.CharField(
        max_length=500, help_text="Slack channel or user, email address or webhook URL."
    )
    destination = models.ForeignKey(
        Destination, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    event = models.ForeignKey(
        TimelineEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=255, unique=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True, help_text="Slack ts, SMTP Message-ID ...")
    last_error = models.TextField(blank=True)
    blocked_on = models.CharField(
        max_length=40,
        blank=True,
        help_text="What the message waits for before it can go (the incident's Slack channel, its summary).",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="message_due"),
            models.Index(fields=["incident", "id"], name="message_incident"),
            models.Index(fields=["event", "status"], name="message_event"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_label} {self.kind} to {self.target} ({self.status})"

    @property
    def channel_label(self) -> str:
        from notifications import channels

        return channels.label(self.channel)


class Reminder(models.Model):
    """One row per reminder sent: its unique key makes every nudge wake-up idempotent."""

    key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=40)
    event = models.ForeignKey(
        TimelineEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.key


class IncidentSlackChannel(models.Model):
    """The Slack channel an incident is worked in, and the live summary message pinned to its state.

    The row is written when the incident is declared; ``channel_id`` and ``summary_ts`` stay blank until the
    outbox has created the channel and posted the summary. Operations that need them retry until then.
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="slack_channel")
    name = models.CharField(
        max_length=80, help_text="The channel's name, with a -2, -3 ... suffix when taken."
    )
    is_private = models.BooleanField(default=False, help_text="Private incidents get private channels.")
    channel_id = models.CharField(max_length=30, blank=True, help_text="Blank until the channel is created.")
    summary_ts = models.CharField(
        max_length=40, blank=True, help_text="The live summary message's ts; blank until it is posted."
    )
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.name} for {Incident.reference_for(self.incident_id)}"
