"""Outgoing webhooks: a JSON POST signed with HMAC-SHA256 under the endpoint's own secret.

Headers a receiver checks:

* ``X-Muster-Delivery``: the message's stable uid; the same delivery repeated carries the same id.
* ``X-Muster-Timestamp``: Unix seconds when this attempt was signed.
* ``X-Muster-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"`` with the endpoint's secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import requests
from django.conf import settings

from core import outbound
from notifications.channels.base import PermanentError, TransientError, Transport


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _head(response: requests.Response, limit: int = 300) -> str:
    """The first ``limit`` characters of an error answer, for the message's last error."""
    try:
        data = response.raw.read(limit * 4, decode_content=True) or b""
    except Exception:  # a body that breaks off says nothing more useful than the status
        return ""
    return data.decode(response.encoding or "utf-8", errors="replace")[:limit]


class _Session:
    def __init__(self) -> None:
        self.http = outbound.session()  # refuses internal addresses (server-side request forgery)
        self.http.headers["User-Agent"] = "Muster-Webhooks/1"

    def send(self, message) -> str:
        body = json.dumps(message.payload, sort_keys=True, separators=(",", ":"), default=str).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Muster-Delivery": str(message.uid),
            "X-Muster-Timestamp": timestamp,
        }
        secret = message.destination.webhook_secret if message.destination else ""
        if secret:
            headers["X-Muster-Signature"] = sign(secret, timestamp, body)
        try:
            response = self.http.post(
                message.target,
                data=body,
                headers=headers,
                timeout=settings.WEBHOOK_TIMEOUT,
                allow_redirects=False,
                stream=True,  # the body is not downloaded unless read: a receiver cannot make us buffer megabytes
            )
        except requests.RequestException as exc:
            blocked = outbound.refused(exc)
            if blocked is not None:  # trying again cannot help: the URL points inside the network
                raise PermanentError(f"Refused: {blocked}") from exc
            raise TransientError(f"Could not reach the webhook: {exc.__class__.__name__}: {exc}") from exc
        try:
            status = response.status_code
            if 200 <= status < 300:
                return str(message.uid)
            snippet = _head(response)
        finally:
            response.close()
        if status == 429 or status >= 500 or status == 408:
            raise TransientError(
                f"The webhook answered {status}: {snippet}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        raise PermanentError(f"The webhook answered {status}: {snippet}")

    def close(self) -> None:
        self.http.close()


class WebhookTransport(Transport):
    name = "webhook"
    label = "Webhook"

    def enabled(self) -> bool:
        return True

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        with contextlib.closing(_Session()) as session:
            yield session

    def check_destination(self, destination) -> None:
        from django.core.exceptions import ValidationError as DjangoValidationError
        from django.core.validators import URLValidator

        from core.errors import ValidationError

        try:
            URLValidator(schemes=["http", "https"])(destination.webhook_url or "")
        except DjangoValidationError:
            raise ValidationError("Give the webhook's http(s) URL.", field="webhook_url") from None

    def describe(self, destination) -> str:
        url = destination.webhook_url or ""
        url = url if len(url) <= 60 else url[:59] + "…"
        return url + (" (signed)" if destination.webhook_secret else "")

    def route(self, destination, *, event, context, render):
        from notifications.routing import webhook_payload

        text = render("webhook").text
        yield {
            "kind": "webhook",
            "target": destination.webhook_url,
            "body": text,
            "payload": webhook_payload(event, text),
        }
