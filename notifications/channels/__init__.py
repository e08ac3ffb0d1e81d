"""Transports, one per channel, behind the interface in ``base``. Nothing outside ``notifications`` sends through a
transport directly: every app writes outbox rows with ``notifications.services.message_enqueue``."""

from __future__ import annotations

from notifications.channels.base import PermanentError, TransientError, Transport

__all__ = ["PermanentError", "TransientError", "Transport", "get", "registry"]


def registry() -> dict[str, Transport]:
    from notifications.channels.email import EmailTransport
    from notifications.channels.slack import SlackTransport
    from notifications.channels.webhook import WebhookTransport

    return {t.name: t for t in (SlackTransport(), EmailTransport(), WebhookTransport())}


def get(channel: str) -> Transport:
    transport = registry().get(channel)
    if transport is None:
        raise PermanentError(f"Unknown channel {channel!r}.")
    return transport
