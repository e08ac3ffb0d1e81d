"""Reads of the outbox: what is due, what an incident sent, how delivery is doing."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from core.validation import parse_id
from notifications.models import AttentionWindow, Channel, Destination, Message


def message_ids_pending_for_event(*, event_id: int) -> list[int]:
    return list(
        Message.objects.filter(event_id=event_id, status=Message.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def message_ids_overdue(*, grace: timedelta, limit: int = 5000, now: datetime | None = None) -> list[int]:
    """Pending rows nobody picked up within ``grace``, failed rows whose retry is due, and rows whose
    delivering worker died (``sending`` past its lease)."""
    now = now or timezone.now()
    due = (
        Q(status=Message.Status.PENDING, next_attempt_at__lte=now - grace)
        | Q(status=Message.Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Message.Status.SENDING, lease_until__lt=now)
    )
    return list(
        Message.objects.filter(due).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )


def message_list(*, incident_id: int | None = None, status: str | None = None) -> QuerySet[Message]:
    # A destination can hold thousands of addresses: a list of messages never needs them.
    qs = Message.objects.select_related("destination", "recipient").defer(
        "html", "payload", "destination__email_addresses", "destination__webhook_secret"
    )
    if incident_id is not None:
        qs = qs.filter(incident_id=incident_id)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def attention_window_active(*, at: datetime | None = None) -> AttentionWindow | None:
    at = at or timezone.now()
    return AttentionWindow.objects.filter(starts_at__lte=at, ends_at__gt=at).order_by("starts_at").first()


def delivery_health(*, now: datetime | None = None) -> list[dict]:
    """Per channel: counts by status, the oldest pending message's age, and the transport's configuration."""
    from notifications import channels

    now = now or timezone.now()
    counts = {
        row["channel"]: row
        for row in Message.objects.values("channel").annotate(
            pending=Count("pk", filter=Q(status=Message.Status.PENDING)),
            sending=Count("pk", filter=Q(status=Message.Status.SENDING)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            dead=Count("pk", filter=Q(status=Message.Status.DEAD)),
            sent=Count("pk", filter=Q(status=Message.Status.SENT)),
            oldest_pending=Min(
                "created_at",
                filter=Q(status__in=[Message.Status.PENDING, Message.Status.FAILED, Message.Status.SENDING]),
            ),
        )
    }
    transports = channels.registry()
    rows = []
    for value, label in channels.choices():
        row = counts.get(value, {})
        transport = transports.get(value)
        oldest = row.get("oldest_pending")
        rows.append(
            {
                "channel": value,
                "label": label,
                "enabled": bool(transport and transport.enabled()),
                "configuration_error": transport.configuration_error() if transport else "Unknown channel.",
                "pending": row.get("pending", 0),
                "sending": row.get("sending", 0),
                "failed": row.get("failed", 0),
                "dead": row.get("dead", 0),
                "sent": row.get("sent", 0),
                "oldest_pending_age": (now - oldest) if oldest else None,
            }
        )
    return rows


def destinations_with_errors() -> QuerySet[Destination]:
    return Destination.objects.exclude(last_error="").order_by("-last_error_at")


# --- Reads for the web UI, the admin and the API (visibility follows the incident's) -------------------


def message_visible_q(user) -> Q:
    """Messages ``user`` may see: those of incidents they may see; messages tied to no incident only for staff."""
    from incidents.permissions import visible_q

    incident_q = Q(incident__isnull=False) & visible_q(user, prefix="incident__")
    if getattr(user, "is_staff", False) and user.is_active:
        return incident_q | Q(incident__isnull=True)
    return incident_q


def message_get(*, user, pk: int | str) -> Message:
    """One message ``user`` may see, with its incident, or ``NotFound`` (also for a hidden incident's message)."""
    from core.errors import NotFound

    pk = parse_id(pk, what="message")
    message = (
        Message.objects.select_related("incident", "destination", "recipient")
        .defer("html", "payload")
        .filter(pk=pk)
        .filter(message_visible_q(user))
        .first()
    )
    if message is None:
        raise NotFound("No such message.")
    return message


def message_counts(*, incident_id: int) -> dict[str, int]:
    """How many of an incident's messages are in each status, plus ``total``: one query."""
    row = Message.objects.filter(incident_id=incident_id).aggregate(
        total=Count("pk"),
        **{status: Count("pk", filter=Q(status=status)) for status in Message.Status.values},
    )
    return {key: value or 0 for key, value in row.items()}


def channel_last_errors() -> dict[str, dict]:
    """Per channel, the newest dead message's error and when it was written: what a bad configuration
    (an unknown Slack channel, a refused token) looks like from the outside. Two queries."""
    from django.db.models import Max

    newest = (
        Message.objects.filter(status=Message.Status.DEAD)
        .values("channel")
        .annotate(last_id=Max("pk"))
        .values_list("last_id", flat=True)
    )
    rows = Message.objects.filter(pk__in=list(newest)).values("channel", "last_error", "created_at")
    return {row["channel"]: {"error": row["last_error"], "at": row["created_at"]} for row in rows}


AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired")


def channel_hint(channel: str, error: str) -> str:
    """A sentence saying what to fix for a known delivery error ('' when there is none to give)."""
    text = error or ""
    if channel == Channel.SLACK:
        if any(code in text for code in AUTH_ERRORS):
            return "Slack refuses the bot token: check SLACK_BOT_TOKEN (and that the app is still installed)."
        if "channel_not_found" in text:
            return "A Slack channel does not exist or the bot cannot see it: fix the destination's channel."
        if "not_in_channel" in text:
            return "The bot is not in the channel: invite it (/invite @Muster) or fix the destination."
    if channel == Channel.EMAIL and ("Connection refused" in text or "SMTP" in text):
        return "The mail server refused or could not be reached: check EMAIL_URL."
    return ""


def delivery_health_report(*, user, dead_limit: int = 20, now: datetime | None = None) -> dict:
    """Everything the delivery health page and API show, in a constant number of queries."""
    channels_rows = delivery_health(now=now)
    last_errors = channel_last_errors()
    for row in channels_rows:
        last = last_errors.get(row["channel"])
        row["last_error"] = last["error"] if last else ""
        row["last_error_at"] = last["at"] if last else None
        row["hint"] = channel_hint(row["channel"], row["last_error"]) if last else ""
    dead = list(
        Message.objects.filter(status=Message.Status.DEAD)
        .filter(message_visible_q(user))
        .select_related("incident", "destination")
        .defer("html", "payload", "body", "incident__summary")
        .order_by("-id")[:dead_limit]
    )
    return {
        "channels": channels_rows,
        "destinations": list(destinations_with_errors()),
        "dead": dead,
        "attention_window": attention_window_active(at=now),
    }
