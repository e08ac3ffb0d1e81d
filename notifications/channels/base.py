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
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Message


class DeliveryError(Exception):
    permanent = False

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    permanent = False


class PermanentError(DeliveryError):
    permanent = True


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
        raise NotImplementedError
