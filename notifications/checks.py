"""Test messages: the quickest way for an operator to find out whether a destination works (a refused Slack token
answers ``invalid_auth``, an unknown channel ``channel_not_found``) before an incident depends on it.

A test message is an ordinary outbox row (no incident), delivered, retried and marked like any other, so its
outcome shows in the admin's Messages, on the delivery health page and in the destination's last error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.utils import timezone

from core.db import atomic
from core.timeutils import format_utc
from notifications.escaping import mrkdwn, slack_mention
from notifications.models import Channel, Destination
from notifications.services import Draft, messages_enqueue, parse_addresses

TEXT = (
    'Test message from Muster, sent by {who} at {when}. If you can read this, the destination "{name}" works.'
)


def _drafts(destination: Destination, *, actor, run: str) -> Iterator[Draft]:
    who = actor.get_username() if actor is not None else "Muster"
    values = {"who": who, "when": format_utc(timezone.now()), "name": destination.name}
    text = TEXT.format(**values)
    key = f"test:{run}:dest:{destination.pk}"
    common = {"destination_id": destination.pk}
    if destination.channel == Channel.SLACK:
        text = mrkdwn(TEXT, **values)
        # The mention is mrkdwn the admin configured (``<!subteam^S0123>``), kept only when it is mentions alone.
        body = f"{slack_mention(destination.mention)} {text}" if destination.mention else text
        yield Draft(
            channel=Channel.SLACK,
            kind="post",
            target=destination.slack_channel,
            body=body,
            dedupe_key=key,
            **common,
        )
    elif destination.channel == Channel.EMAIL:
        for address in parse_addresses(destination.email_addresses):
            yield Draft(
                channel=Channel.EMAIL,
                kind="email",
                target=address,
                subject="Muster test message",
                body=text,
                dedupe_key=f"{key}:{address.lower()}",
                **common,
            )
    elif destination.channel == Channel.WEBHOOK:
        payload = {"type": "test", "destination": destination.name, "text": text}
        yield Draft(
            channel=Channel.WEBHOOK,
            kind="webhook",
            target=destination.webhook_url,
            body=text,
            payload=payload,
            dedupe_key=key,
            **common,
        )


@atomic
def destinations_send_test(*, destinations: list[Destination], actor=None) -> int:
    """Queue one test message per destination (per address for email lists); returns how many were queued."""
    run = uuid.uuid4().hex[:12]
    return messages_enqueue(
        d for destination in destinations for d in _drafts(destination, actor=actor, run=run)
    )
