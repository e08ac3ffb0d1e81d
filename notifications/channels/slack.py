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
import urllib.error
from collections.abc import Callable, Collection, Iterator
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


def _call(method: Callable[..., Any], *, accept: Collection[str] = (), **kwargs) -> dict[str, Any]:
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


# --- Incident channel operations ------------------------------------------------------------------------

#: How many names (``name``, ``name-2`` ... ) channel.create tries before giving up on a taken name.
NAME_ATTEMPTS = 20


def _channel_row(message):
    from notifications import incident_channel

    return incident_channel.channel_for_message(message)


def _channel_id(row) -> str:
    """The created channel's id, or TransientError (retry later) while channel.create has not succeeded."""
    from notifications import incident_channel

    if row.channel_id:
        return row.channel_id
    if incident_channel.operation_dead(row, "channel.create"):
        raise PermanentError(incident_channel.CHANNEL_FAILED)
    raise TransientError(incident_channel.WAITING_FOR_CHANNEL)


def op_channel_create(web: WebClient, message) -> str:
    """conversations.create with the incident's channel name; a taken name gets a -2, -3 ... suffix."""
    from notifications import incident_channel

    row = _channel_row(message)
    if row.channel_id:  # created by an earlier attempt whose "sent" mark was lost
        return row.channel_id
    for attempt in range(1, NAME_ATTEMPTS + 1):
        name = incident_channel.name_with_suffix(row.name, attempt)
        data = _call(web.conversations_create, name=name, is_private=row.is_private, accept={"name_taken"})
        if data.get("error") == "name_taken":
            continue
        channel_id = str((data.get("channel") or {}).get("id", ""))
        if not channel_id:
            raise TransientError("Slack created the channel but answered no id.")
        return incident_channel.channel_created(row, channel_id=channel_id, name=name)
    raise PermanentError(f"Slack channel names {row.name} to {name} are all taken.")


def op_channel_invite(web: WebClient, message) -> str:
    """conversations.invite of one person (``message.target`` is a member id or ``email:...``)."""
    channel_id = _channel_id(_channel_row(message))
    user = user_id_for(web, message.target)
    _call(
        web.conversations_invite,
        channel=channel_id,
        users=user,
        accept={"already_in_channel", "cant_invite_self"},
    )
    return channel_id


def op_summary_post(web: WebClient, message) -> str:
    """Post the live summary, rendered from the incident's state now, and keep its ts for later edits."""
    from notifications import incident_channel

    row = _channel_row(message)
    if row.summary_ts:  # posted by an earlier attempt whose "sent" mark was lost
        return row.summary_ts
    channel_id = _channel_id(row)
    data = _call(web.chat_postMessage, channel=channel_id, text=incident_channel.summary_text(row))
    return incident_channel.summary_posted(row, ts=str(data.get("ts", "")))


#: How many times one summary edit re-sends when the incident changed while it was on its way.
SUMMARY_EDITS = 3


def op_summary_update(web: WebClient, message) -> str:
    """chat.update of the live summary with the incident's state *now*, so edits delivered out of order still
    end on the current state. A summary deleted in Slack is posted again.

    Two workers editing at once could land in Slack in the other order than they read the incident; so after an
    edit the summary is rendered again, and sent again if the incident changed meanwhile. The last edit to land
    then always carries the state as it was after the last change.
    """
    from notifications import incident_channel

    row = _channel_row(message)
    channel_id = _channel_id(row)
    if not row.summary_ts:
        if incident_channel.operation_dead(row, "summary.post"):
            raise PermanentError(incident_channel.SUMMARY_FAILED)
        raise TransientError(incident_channel.WAITING_FOR_SUMMARY)
    text = incident_channel.summary_text(row)
    for _ in range(SUMMARY_EDITS):
        data = _call(
            web.chat_update, channel=channel_id, ts=row.summary_ts, text=text, accept={"message_not_found"}
        )
        if data.get("error") == "message_not_found":
            posted = _call(web.chat_postMessage, channel=channel_id, text=text)
            incident_channel.summary_posted(row, ts=str(posted.get("ts", "")), replace=row.summary_ts)
        latest = incident_channel.summary_text(row)
        if latest == text:
            break
        text = latest
    return row.summary_ts


def op_channel_archive(web: WebClient, message) -> str:
    from notifications import incident_channel

    row = _channel_row(message)
    channel_id = _channel_id(row)
    if row.archived_at is None:
        _call(web.conversations_archive, channel=channel_id, accept={"already_archived"})
        incident_channel.channel_archived(row)
    return channel_id


def op_channel_post(web: WebClient, message) -> str:
    """Post ``message.body`` (an incident update) into the incident's channel."""
    from notifications import incident_channel

    row = _channel_row(message)
    channel_id = _channel_id(row)
    if incident_channel.leaks(row):
        raise PermanentError("The incident was made private; its public channel gets no more updates.")
    data = _call(web.chat_postMessage, channel=channel_id, text=message.body)
    return str(data.get("ts", ""))


OPERATIONS: dict[str, Callable[[WebClient, Any], str]] = {
    "post": op_post,
    "dm": op_dm,
    "channel.create": op_channel_create,
    "channel.invite": op_channel_invite,
    "summary.post": op_summary_post,
    "summary.update": op_summary_update,
    "channel.archive": op_channel_archive,
    "channel.post": op_channel_post,
}


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
