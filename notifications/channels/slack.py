"""Slack through the Web API (slack_sdk). ``SLACK_API_URL`` points it at another server (tests, air-gapped proxies).

Each message kind is one operation; ``OPERATIONS`` maps a kind to the function that performs it. Errors are
classified once in ``_call``: HTTP 429 (with Retry-After), 5xx, timeouts and Slack's own transient errors are
retried; every other ``"ok": false`` (``channel_not_found``, ``invalid_auth``, ``not_in_channel`` ...) cannot
succeed by trying again and goes to dead with Slack's error code.

The incident channel operations (``channel.create``, ``channel.invite``, ``summary.post``, ``summary.update``,
``channel.archive``, ``channel.post``) act on the incident's ``IncidentSlackChannel`` row: they read the channel
id and the summary's ts from it at delivery time and store what Slack answers in a short transaction of their
own. One that needs an id that does not exist yet raises ``TransientError``, so the outbox retries it later
instead of losing it. See ``notifications.incident_channel``.
"""

from __future__ import annotations

import contextlib
import re
import urllib.error
from collections.abc import Callable, Collection, Iterator
from typing import Any

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from core import outbound
from notifications.channels.base import PermanentError, TransientError, Transport
from notifications.escaping import slack_mention

SLACK_CHANNEL_RE = re.compile(r"^(#[a-z0-9][a-z0-9_\-]{0,79}|[CGD][A-Z0-9]{6,20})$")

TRANSIENT_SLACK_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "service_unavailable",
    "request_timeout",
    "fatal_error",
}


class GuardedWebClient(WebClient):
    """slack_sdk's client whose connections go through ``core.outbound``: ``SLACK_API_URL`` and any redirect
    cannot point the workers inside the network unless ``OUTBOUND_ALLOWED_NETWORKS`` allows it."""

    def _perform_urllib_http_request_internal(self, url: str, req) -> dict[str, Any]:
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        resp = outbound.urllib_opener(self.ssl).open(req, timeout=self.timeout)
        body: bytes | str = resp.read()
        if resp.headers.get_content_type() != "application/gzip":
            body = body.decode(resp.headers.get_content_charset() or "utf-8")
        return {"status": resp.code, "headers": resp.headers, "body": body}


def client() -> WebClient:
    base = settings.SLACK_API_URL
    if not base.endswith("/"):
        base += "/"
    return GuardedWebClient(
        token=settings.SLACK_BOT_TOKEN, base_url=base, timeout=settings.SLACK_TIMEOUT, retry_handlers=[]
    )


def call(method: Callable[..., Any], *, accept: Collection[str] = (), **kwargs) -> dict[str, Any]:
    """Call one Web API method. Slack errors named in ``accept`` (``name_taken``, ``already_in_channel`` ...) are
    answers the caller handles: their ``{"ok": false, "error": ...}`` body is returned instead of raised."""
    try:
        response = method(**kwargs)
    except SlackApiError as exc:
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = (response.data or {}).get("error", "") if isinstance(response.data, dict) else ""
        if status == 200 and error and error in accept:
            return response.data
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
        blocked = outbound.refused(exc)
        if blocked is not None:  # trying again cannot help: SLACK_API_URL points inside the network
            raise PermanentError(f"Refused: {blocked}") from exc
        raise TransientError(f"Could not reach Slack: {exc.__class__.__name__}: {exc}") from exc
    return response.data if isinstance(response.data, dict) else {}


def user_id_for(web: WebClient, target: str) -> str:
    """A Slack member id for a DM target: the id itself, or ``email:someone@example.com`` looked up by email."""
    if target.startswith("email:"):
        data = call(web.users_lookupByEmail, email=target.removeprefix("email:"))
        return data["user"]["id"]
    return target


def op_post(web: WebClient, message) -> str:
    kwargs: dict[str, Any] = {"channel": message.target, "text": message.body}
    if message.payload.get("blocks"):
        kwargs["blocks"] = message.payload["blocks"]
    data = call(web.chat_postMessage, **kwargs)
    return str(data.get("ts", ""))


def op_dm(web: WebClient, message) -> str:
    user = user_id_for(web, message.target)
    data = call(web.chat_postMessage, channel=user, text=message.body)
    return str(data.get("ts", ""))


Operation = Callable[[WebClient, Any], str]

#: The message kinds this transport performs. Features built on Slack (the incident channel) add theirs with
#: ``register_operation``: the transport carries them and knows nothing of what they are for.
OPERATIONS: dict[str, Operation] = {
    "post": op_post,
    "dm": op_dm,
}


def register_operation(kind: str, operation: Operation) -> None:
    existing = OPERATIONS.get(kind)
    if existing is not None and existing is not operation:
        raise ValueError(f"A Slack operation {kind!r} is already registered.")
    OPERATIONS[kind] = operation


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

    def check_destination(self, destination) -> None:
        from core.errors import ValidationError

        if not SLACK_CHANNEL_RE.match((destination.slack_channel or "").strip()):
            raise ValidationError(
                "Give a Slack channel as #name (lower case, no spaces) or as a channel id like C0123ABCD.",
                field="slack_channel",
            )
        from notifications.escaping import MENTION_RE

        mention = (destination.mention or "").strip()
        if mention and not MENTION_RE.fullmatch(mention):
            raise ValidationError(
                "A mention is @name, <!subteam^S0123ABCD>, <@U0123ABCD>, <!here> or <!channel>, separated by spaces.",
                field="mention",
            )
        destination.mention = mention

    def describe(self, destination) -> str:
        return f"{destination.mention} {destination.slack_channel}".strip()

    def route(self, destination, *, event, context, render):
        text = render("slack").text
        yield {
            "kind": "post",
            "target": destination.slack_channel,
            "body": f"{slack_mention(destination.mention)} {text}" if destination.mention else text,
        }
