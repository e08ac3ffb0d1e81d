"""Transports: an open registry behind the interface in ``base``.

Each transport registers itself (``register_transport``) in its app's ``AppConfig.ready()``; the outbox stores a
message's channel as the plain name of a registered transport, and the delivery code knows only the interface.
The three the house ships (Slack, email, webhook) are registered by ``NotificationsConfig.ready()``. Nothing
outside ``notifications`` sends through a transport directly: every app writes outbox rows with
``notifications.services.message_enqueue``.
"""

from __future__ import annotations

from notifications.channels.base import Blocked, PermanentError, TransientError, Transport

__all__ = [
    "Blocked",
    "PermanentError",
    "TransientError",
    "Transport",
    "choices",
    "get",
    "register_transport",
    "registry",
    "unregister_transport",
]

_registry: dict[str, Transport] = {}


def register_transport(transport: Transport) -> Transport:
    name = transport.name
    if not name or len(name) > 40 or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"A transport needs a name of 1 to 40 letters, digits, '-' or '_': {name!r}.")
    existing = _registry.get(name)
    if existing is not None and type(existing) is not type(transport):
        raise ValueError(f"A transport named {name!r} is already registered.")
    _registry[name] = transport
    return transport


def unregister_transport(name: str) -> None:
    _registry.pop(name, None)


def registry() -> dict[str, Transport]:
    return dict(_registry)


def choices() -> list[tuple[str, str]]:
    return [(t.name, t.label or t.name) for t in _registry.values()]


def label(name: str) -> str:
    transport = _registry.get(name)
    return (transport.label or transport.name) if transport is not None else name


def get(channel: str) -> Transport:
    transport = _registry.get(channel)
    if transport is None:
        raise PermanentError(f"Unknown channel {channel!r}.")
    return transport


def register_builtin() -> None:
    from notifications.channels.email import EmailTransport
    from notifications.channels.slack import SlackTransport
    from notifications.channels.webhook import WebhookTransport

    for transport in (SlackTransport(), EmailTransport(), WebhookTransport()):
        register_transport(transport)
