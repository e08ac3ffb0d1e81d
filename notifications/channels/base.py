"""The one interface every transport implements.

A transport delivers one ``Message`` row. It returns the receiver's id for it (Slack ``ts``, the email
Message-ID, the webhook delivery id) or raises:

* ``TransientError`` for timeouts, connection errors, 5xx and 429 (with ``retry_after`` seconds when the peer
  said how long to wait): the message is retried with backoff;
* ``PermanentError`` for what cannot succeed by trying again (4xx, Slack ``ok: false`` such as
  ``channel_not_found`` or ``invalid_auth``): the message goes to dead at once, with the error kept.

``session()`` lets a worker deliver a batch over one connection (one SMTP session for thousands of mails).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Destination, Message


class DeliveryError(Exception):
    permanent = False

    def __init__(self, message: str, *, retry_after: float | None = None, blocked_on: str = ""):
        super().__init__(message)
        self.retry_after = retry_after
        # What the message waits for (kept on ``Message.blocked_on``), when that is why it failed.
        self.blocked_on = blocked_on


class TransientError(DeliveryError):
    permanent = False


class PermanentError(DeliveryError):
    permanent = True


class Blocked(TransientError):
    """Cannot go yet because something it needs does not exist yet (the incident's Slack channel, its summary).

    The message waits with ``blocked_on`` set to ``on``; whoever creates the missing thing revives the messages
    blocked on it instead of leaving them to their backoff.
    """

    def __init__(self, message: str, *, on: str, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after, blocked_on=on)


class Transport:
    name: str = ""
    label: str = ""

    def enabled(self) -> bool:
        """Switched on by configuration."""
        return False

    def configuration_error(self) -> str:
        """What is wrong with the configuration, for the health page ('' when nothing is)."""
        return ""

    @contextlib.contextmanager
    def session(self) -> Iterator[Transport]:
        yield self

    def send(self, message: Message) -> str:
        """Deliver one message in a session of its own (a batch shares one: ``with t.session() as s: s.send(m)``)."""
        with self.session() as session:
            if session is self:
                raise NotImplementedError(f"The {self.name} transport implements neither send nor session.")
            return session.send(message)

    # --- Destinations and routing (a transport that routing rules can use) --------------------------------

    def check_destination(self, destination: Destination) -> None:
        """Raise ``core.errors.ValidationError`` (with the field) when the destination cannot work as configured."""

    def describe(self, destination: Destination) -> str:
        """Where the destination delivers, in a few words (admin lists, the health page)."""
        return destination.address

    def route(self, destination: Destination, *, event, context: dict, render) -> Iterable[dict]:
        """The messages one routed timeline event makes for ``destination``: dicts of ``Draft`` fields (``kind``,
        ``target``, ``body``, ``subject``, ``html``, ``payload``) and ``key``, a suffix that keeps each message of
        the destination apart (an address). ``render(fmt, html=..., subject=...)`` renders the event once per
        format for all destinations."""
        return ()
