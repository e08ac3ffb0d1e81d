"""Reads of the outbox: what is due, what an incident sent, how delivery is doing."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

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
    qs = Message.objects.select_related("destination", "recipient").defer("html", "payload")
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
    for value, label in Channel.choices:
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
