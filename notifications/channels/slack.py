"""Slack through the Web API (slack_sdk). ``SLACK_API_URL`` points it at another server (tests, air-gapped proxies).

Each message kind is one operation; ``OPERATIONS`` maps a kind to the function that performs it. Errors are
classified once in ``_call``: HTTP 429 (with Retry-After), 5xx, timeouts and Slack's own transient errors are
retried; every other ``"ok": false`` (``channel_not_found``, ``invalid_auth``, ``not_in_channel`` ...) cannot
succeed by trying again and goes to dead with Slack's error code.
"""

from __future__ import annotations

import contextlib
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from notifications.channels.base import PermanentError, TransientError, Transport

TRANSIENT_SLACK_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "service_unavailable",
    "request_timeout",
    "fatal_error",
}


def client() -> WebClient:
    base = settings.SLACK_API_URL
    if not base.endswith("/"):
        base += "/"
    return WebClient(
        token=settings.SLACK_BOT_TOKEN, base_url=base, timeout=settings.SLACK_TIMEOUT, retry_handlers=[]
    )


def _call(method: Callable[..., Any], **kwargs) -> dict[str, Any]:
    try:
        response = method(**kwargs)
    except SlackApiError as exc:
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = (response.data or {}).get("error", "") if isinstance(response.data, dict) else ""
        if status == 429 or error in TRANSIENT_SLACK_ERRORS or status >= 500:
            retry_after = None
            headers = getattr(response, "headers", {}) or {}
            for key, value in headers.items():
                if key.lower() == "retry-after":
                    with contextlib.suppress(TypeError, ValueError):
                        retry_after = float(value[0] if isinstance(value, list) else value)
            raise TransientError(
                f"Slack answered {status} {error or ''}".strip(), retry_after=retry_after
            ) from exc
        raise PermanentError(f"Slack refused it: {error or status}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, SlackRequestError) as exc:
        raise TransientError(f"Could not reach Slack: {exc.__class__.__name__}: {exc}") from exc
    return response.data if isinstance(response.data, dict) else {}


def user_id_for(web: WebClient, target: str) -> str:
    """A Slack member id for a DM target: the id itself, or ``email:someone@example.com`` looked up by email."""
    if target.startswith("email:"):
        data = _call(web.users_lookupByEmail, email=target.removeprefix("email:"))
        return data["user"]["id"]
    return target


def op_post(web: WebClient, message) -> str:
    kwargs: dict[str, Any] = {"channel": message.target, "text": message.body}
    if message.payload.get("blocks"):
        kwargs["blocks"] = message.payload["blocks"]
    data = _call(web.chat_postMessage, **kwargs)
    return str(data.get("ts", ""))


def op_dm(web: WebClient, message) -> str:
    user = user_id_for(web, message.target)
    data = _call(web.chat_postMessage, channel=user, text=message.body)
    return str(data.get("ts", ""))


OPERATIONS: dict[str, Callable[[WebClient, Any], str]] = {"post": op_post, "dm": op_dm}


class _Session:
    def __init__(self) -> None:
        self.web = client()

    def send(self, message) -> str:
        operation = OPERATIONS.get(message.kind)
        if operation is None:
            raise PermanentError(f"Slack cannot do {message.kind!r}.")
        return operation(self.web, message)


class SlackTransport(Transport):
    name = "slack"
    label = "Slack"

    def enabled(self) -> bool:
        return bool(settings.SLACK_BOT_TOKEN)

    def configuration_error(self) -> str:
        if not self.enabled():
            return "Switched off: set SLACK_BOT_TOKEN to post to Slack."
        return ""

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        yield _Session()

    def send(self, message) -> str:
        return _Session().send(message)
