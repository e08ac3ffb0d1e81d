"""Template tags of the outbox's web pages: a message status pill and the incident page's "Messages" summary."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from notifications import selectors
from notifications.models import IncidentSlackChannel, Message

register = template.Library()

STATUS_LABELS = {
    Message.Status.PENDING: "Pending",
    Message.Status.SENDING: "Sending",
    Message.Status.SENT: "Sent",
    Message.Status.FAILED: "Retrying",
    Message.Status.DEAD: "Dead",
}


@register.simple_tag
def message_status(status) -> str:
    """A pill for a message status; failed reads 'Retrying' (it will be tried again), dead is final."""
    value = str(getattr(status, "value", status) or "")
    if value not in STATUS_LABELS:
        return ""
    return format_html(
        '<span class="pill pill-sm msg-{}" data-status="{}"><span class="pill-dot" aria-hidden="true"></span>{}</span>',
        value,
        value,
        STATUS_LABELS[value],
    )


@register.inclusion_tag("notifications/web/incident_summary.html", takes_context=True)
def incident_messages_summary(context, incident) -> dict:
    """The "Messages (N sent, M failed)" line of the incident page: one query."""
    counts = selectors.message_counts(incident_id=incident.pk)
    slack_channel = (
        IncidentSlackChannel.objects.filter(incident_id=incident.pk).first() if counts.get("total") else None
    )
    return {
        "incident": incident,
        "slack_channel": slack_channel,
        "counts": counts,
        "problems": counts.get("dead", 0) + counts.get("failed", 0),
        "in_flight": counts.get("pending", 0) + counts.get("sending", 0),
    }


@register.filter
def get_count(counts, key) -> int:
    """``counts|get_count:"dead"``: a dict lookup by a variable key."""
    try:
        return int(counts.get(str(key), 0))
    except (AttributeError, TypeError, ValueError):
        return 0
