"""One Slack channel per incident, with a live summary message kept in step with the incident.

``on_event`` is a timeline consumer. Like every consumer it only writes outbox rows, in the consumer run's
transaction: declaring an incident never waits for Slack, and a Slack outage only delays the channel.

* ``declared``: an ``IncidentSlackChannel`` row, then ``channel.create`` (``inc-123-checkout-errors``; private
  incidents get private channels), ``channel.invite`` of the declarer and the role holders (the lead), and
  ``summary.post``.
* ``status_changed``, ``severity_changed``, ``role_assigned``, ``role_relieved``, ``fields_changed``:
  ``summary.update`` (one per event). The summary is rendered from the incident's state when the edit is
  delivered, not when the event happened, so edits delivered late or out of order still end on the current state.
  A new role holder is invited too.
* ``update_posted``: ``channel.post`` of the update's text.
* ``status_changed`` to *closed* (or *declined*, the other final status): ``channel.archive``.

An incident made private after its public channel was created stops feeding that channel: the summary is replaced
by a redacted one and updates are no longer posted there (Slack cannot make a public channel private).

The Slack operations themselves live in ``notifications.channels.slack``; they call back into the small writes
below (channel created, summary posted, archived) in short transactions of their own. An operation that needs the
channel id or the summary's ts before they exist raises ``TransientError``: the outbox retries it with backoff,
and if it gave up waiting it is revived once the channel or the summary exists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from incidents import selectors as incident_selectors
from incidents.models import EventKind, Incident, TimelineEvent
from incidents.state import FINAL_STATUSES
from notifications import channels
from notifications.channels import slack
from notifications.models import Channel, IncidentSlackChannel, Message
from notifications.recipients import slack_target
from notifications.render import incident_url, render
from notifications.services import Draft, messages_enqueue

logger = logging.getLogger(__name__)

CONSUMER = "notifications.incident_channel"
KINDS = frozenset(
    {
        EventKind.DECLARED,
        EventKind.STATUS_CHANGED,
        EventKind.SEVERITY_CHANGED,
        EventKind.ROLE_ASSIGNED,
        EventKind.ROLE_RELIEVED,
        EventKind.FIELDS_CHANGED,
        EventKind.UPDATE_POSTED,
    }
)
#: Events that change what the live summary shows.
SUMMARY_KINDS = KINDS - {EventKind.DECLARED, EventKind.UPDATE_POSTED}

NAME_MAX = 80  # Slack's limit for channel names
#: What a message of the incident channel waits for (``Message.blocked_on``).
BLOCKED_ON_CHANNEL = "slack.incident_channel"
BLOCKED_ON_SUMMARY = "slack.incident_summary"
WAITING_FOR_CHANNEL = "The incident channel is not created yet; retrying later."
WAITING_FOR_SUMMARY = "The incident summary is not posted yet; retrying later."
CHANNEL_FAILED = "The incident channel could not be created (its channel.create message is dead)."
SUMMARY_FAILED = "The incident summary was never posted (its summary.post message is dead)."
#: Operations that wait for the channel id; the summary edit also waits for the summary's ts.
NEEDS_CHANNEL = ("channel.invite", "summary.post", "summary.update", "channel.archive", "channel.post")


def enabled() -> bool:
    """Incident channels are on when Slack is configured and ``SLACK_INCIDENT_CHANNELS`` is true."""
    return bool(settings.SLACK_INCIDENT_CHANNELS) and channels.get(Channel.SLACK).enabled()


# --- Names -------------------------------------------------------------------------------------------


def channel_name(incident: Incident) -> str:
    """``inc-<id>-<slugified title>``: lower case letters, digits, hyphens and underscores, at most 80 chars."""
    prefix = f"inc-{incident.pk}"
    slug = slugify(incident.title or "").strip("-_")
    if not slug:
        return prefix
    return f"{prefix}-{slug}"[:NAME_MAX].rstrip("-_")


def name_with_suffix(name: str, attempt: int) -> str:
    """The name for the ``attempt``-th try: the name itself, then ``name-2``, ``name-3`` ... within 80 chars."""
    if attempt <= 1:
        return name[:NAME_MAX]
    suffix = f"-{attempt}"
    return name[: NAME_MAX - len(suffix)].rstrip("-_") + suffix


# --- The consumer ------------------------------------------------------------------------------------


def dedupe_key(incident_id: int, *parts) -> str:
    return ":".join(["slackchan", str(incident_id), *(str(p) for p in parts)])


def on_event(event: TimelineEvent) -> None:
    """Timeline consumer: write the outbox rows that keep the incident's Slack channel in step."""
    if not enabled():
        return
    event = (
        TimelineEvent.objects.select_related("incident", "incident__severity", "incident__team", "actor")
        .filter(pk=event.pk)
        .first()
    )
    if event is None:
        return
    if event.kind == EventKind.DECLARED:
        drafts = list(_declared_drafts(event))
    else:
        row = IncidentSlackChannel.objects.filter(incident_id=event.incident_id).first()
        drafts = []
        if row is None:
            if event.incident.status in FINAL_STATUSES:
                return  # no channel to open just to archive it
            # This event's run came before the declaration's (its broker message was lost and the sweeper is
            # bringing it later, or channels were switched on since): open the channel now. The declaration's
            # run writes the same dedupe keys, so nothing is sent twice whichever runs first.
            drafts = list(_declared_drafts(event))
            row = IncidentSlackChannel.objects.get(incident_id=event.incident_id)
        if row.archived_at is not None:
            return
        drafts += list(_follow_up_drafts(event, row))
    if drafts:
        messages_enqueue(drafts)


def _draft(row: IncidentSlackChannel, event: TimelineEvent, kind: str, key: str, **fields) -> Draft:
    return Draft(
        channel=Channel.SLACK,
        kind=kind,
        target=fields.pop("target", f"#{row.name}"),
        dedupe_key=key,
        incident_id=row.incident_id,
        event_id=event.pk,
        **fields,
    )


def _invite(row: IncidentSlackChannel, event: TimelineEvent, user) -> Draft | None:
    """One invite per person per incident, whatever brought them in."""
    if user is None or not user.is_active:
        return None
    target = slack_target(user)
    if not target:
        return None
    return _draft(
        row,
        event,
        "channel.invite",
        dedupe_key(row.incident_id, "invite", f"u{user.pk}"),
        target=target,
        recipient_id=user.pk,
    )


def _declared_drafts(event: TimelineEvent) -> Iterator[Draft]:
    incident = event.incident
    row, _ = IncidentSlackChannel.objects.get_or_create(
        incident=incident, defaults={"name": channel_name(incident), "is_private": incident.private}
    )
    yield _draft(row, event, "channel.create", dedupe_key(incident.pk, "create"), payload={"name": row.name})
    # The declarer and whoever holds a role by now (the lead named in the declare form, or roles handed out
    # while this consumer waited: their own events found no channel row yet).
    holders = [a.user for a in incident_selectors.current_roles(incident).values()]
    people = [incident.declared_by, *holders]
    seen: set[int] = set()
    for user in people:
        if user is not None and user.pk not in seen:
            seen.add(user.pk)
            draft = _invite(row, event, user)
            if draft is not None:
                yield draft
    yield _draft(row, event, "summary.post", dedupe_key(incident.pk, "summary"), body=summary_text(row))


def _follow_up_drafts(event: TimelineEvent, row: IncidentSlackChannel) -> Iterator[Draft]:
    incident = event.incident
    if event.kind == EventKind.ROLE_ASSIGNED:
        user_id = (event.data or {}).get("new_user_id")
        if user_id:
            draft = _invite(row, event, get_user_model().objects.filter(pk=user_id).first())
            if draft is not None:
                yield draft
    if event.kind in SUMMARY_KINDS:
        # The body is a record of the state when the event happened; delivery renders the state then.
        yield _draft(
            row,
            event,
            "summary.update",
            dedupe_key(incident.pk, "summary", f"ev{event.pk}"),
            body=summary_text(row),
        )
    if event.kind == EventKind.UPDATE_POSTED and not leaks(row, incident):
        text = render("slack", "channel_update", {"event": event, "incident": incident}).text
        yield _draft(row, event, "channel.post", dedupe_key(incident.pk, "post", f"ev{event.pk}"), body=text)
    if event.kind == EventKind.STATUS_CHANGED and (event.data or {}).get("new") in FINAL_STATUSES:
        yield _draft(row, event, "channel.archive", dedupe_key(incident.pk, "archive"))


# --- Rendering -----------------------------------------------------------------------------------------


def leaks(row: IncidentSlackChannel, incident: Incident | None = None) -> bool:
    """True when the incident was made private after its channel was created as a public one: from then on the
    channel gets no details (Slack cannot turn a public channel private)."""
    if row.is_private:
        return False
    if incident is None:
        return Incident.objects.filter(pk=row.incident_id, private=True).exists()
    return incident.private


def summary_text(row: IncidentSlackChannel) -> str:
    """The live summary, from the incident's state now (redacted in a public channel of a now private incident)."""
    incident = Incident.objects.select_related("severity", "team", "declared_by").get(pk=row.incident_id)
    if leaks(row, incident):
        return render("slack", "summary_private", {"incident": incident, "url": incident_url(incident)}).text
    roles = incident_selectors.current_roles(incident)
    lead = roles.get("lead")
    messenger = roles.get("messenger")
    others = [a for slug, a in roles.items() if slug not in ("lead", "messenger")]
    return render(
        "slack",
        "summary",
        {
            "incident": incident,
            "lead": lead.user if lead else None,
            "messenger": messenger.user if messenger else None,
            "other_roles": others,
            "url": incident_url(incident),
            "now": timezone.now(),
        },
    ).text


# --- Called by the Slack operations at delivery time ------------------------------------------------


def channel_for_message(message) -> IncidentSlackChannel:
    row = IncidentSlackChannel.objects.filter(incident_id=message.incident_id).first()
    if row is None:
        raise channels.PermanentError("The incident has no Slack channel record.")
    return row


def operation_dead(row: IncidentSlackChannel, kind: str) -> bool:
    """True when the operation ``kind`` for this incident's channel gave up (so waiting for it is pointless)."""
    return Message.objects.filter(
        incident_id=row.incident_id, channel=Channel.SLACK, kind=kind, status=Message.Status.DEAD
    ).exists()


def channel_created(row: IncidentSlackChannel, *, channel_id: str, name: str) -> str:
    """Store the new channel's id (and the name it got). Returns the id now on the row."""
    with transaction.atomic():
        stored = IncidentSlackChannel.objects.filter(pk=row.pk, channel_id="").update(
            channel_id=channel_id, name=name
        )
        if not stored:  # another attempt got there first: keep its channel
            channel_id = IncidentSlackChannel.objects.values_list("channel_id", flat=True).get(pk=row.pk)
        else:
            _revive(row, kinds=NEEDS_CHANNEL, blocked_on=BLOCKED_ON_CHANNEL)
    row.channel_id, row.name = channel_id, name if stored else row.name
    return channel_id


def summary_posted(row: IncidentSlackChannel, *, ts: str, replace: str = "") -> str:
    """Store the summary's ts (``replace``: the ts of a summary deleted in Slack). Returns the ts now stored."""
    with transaction.atomic():
        stored = IncidentSlackChannel.objects.filter(pk=row.pk, summary_ts=replace).update(summary_ts=ts)
        if not stored:
            ts = IncidentSlackChannel.objects.values_list("summary_ts", flat=True).get(pk=row.pk)
        else:
            _revive(row, kinds=("summary.update",), blocked_on=BLOCKED_ON_SUMMARY)
    row.summary_ts = ts
    return ts


def channel_archived(row: IncidentSlackChannel) -> None:
    now = timezone.now()
    with transaction.atomic():
        IncidentSlackChannel.objects.filter(pk=row.pk, archived_at__isnull=True).update(archived_at=now)
    row.archived_at = row.archived_at or now


def _revive(row: IncidentSlackChannel, *, kinds, blocked_on: str) -> None:
    """Put back in the queue, due now, the operations that were waiting for what now exists: those backing off
    (their next try could be half a minute away), those that died waiting after a long Slack outage, and those
    dead because an admin resent a dead ``channel.create`` that then succeeded."""
    revived = Message.objects.filter(
        blocked_on=blocked_on,
        incident_id=row.incident_id,
        channel=Channel.SLACK,
        kind__in=list(kinds),
        status__in=[Message.Status.DEAD, Message.Status.FAILED],
    )
    ids = list(revived.values_list("pk", flat=True))
    if not ids:
        return
    Message.objects.filter(pk__in=ids, status__in=[Message.Status.DEAD, Message.Status.FAILED]).update(
        status=Message.Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        last_error="",
        blocked_on="",
    )
    transaction.on_commit(lambda: _deliver_later(ids))


def _deliver_later(ids: list[int]) -> None:
    from notifications import tasks

    try:
        tasks.deliver_messages.delay(ids)
    except Exception:
        logger.warning("Could not queue incident channel messages %s; the sweeper will.", ids, exc_info=True)


# --- The Slack operations of the incident channel (carried by the Slack transport) ------------------------------------------------------------------------

#: How many names (``name``, ``name-2`` ... ) channel.create tries before giving up on a taken name.
NAME_ATTEMPTS = 20


def _channel_row(message):
    return channel_for_message(message)


def _channel_id(row) -> str:
    """The created channel's id, or TransientError (retry later) while channel.create has not succeeded."""
    if row.channel_id:
        return row.channel_id
    if operation_dead(row, "channel.create"):
        raise channels.PermanentError(CHANNEL_FAILED, blocked_on=BLOCKED_ON_CHANNEL)
    raise channels.Blocked(WAITING_FOR_CHANNEL, on=BLOCKED_ON_CHANNEL)


def op_channel_create(web, message) -> str:
    """conversations.create with the incident's channel name; a taken name gets a -2, -3 ... suffix."""
    row = _channel_row(message)
    if row.channel_id:  # created by an earlier attempt whose "sent" mark was lost
        return row.channel_id
    for attempt in range(1, NAME_ATTEMPTS + 1):
        name = name_with_suffix(row.name, attempt)
        data = slack.call(
            web.conversations_create, name=name, is_private=row.is_private, accept={"name_taken"}
        )
        if data.get("error") == "name_taken":
            continue
        channel_id = str((data.get("channel") or {}).get("id", ""))
        if not channel_id:
            raise channels.TransientError("Slack created the channel but answered no id.")
        return channel_created(row, channel_id=channel_id, name=name)
    raise channels.PermanentError(f"Slack channel names {row.name} to {name} are all taken.")


def op_channel_invite(web, message) -> str:
    """conversations.invite of one person (``message.target`` is a member id or ``email:...``)."""
    channel_id = _channel_id(_channel_row(message))
    user = slack.user_id_for(web, message.target)
    slack.call(
        web.conversations_invite,
        channel=channel_id,
        users=user,
        accept={"already_in_channel", "cant_invite_self"},
    )
    return channel_id


def op_summary_post(web, message) -> str:
    """Post the live summary, rendered from the incident's state now, and keep its ts for later edits."""
    row = _channel_row(message)
    if row.summary_ts:  # posted by an earlier attempt whose "sent" mark was lost
        return row.summary_ts
    channel_id = _channel_id(row)
    data = slack.call(web.chat_postMessage, channel=channel_id, text=summary_text(row))
    return summary_posted(row, ts=str(data.get("ts", "")))


#: How many times one summary edit re-sends when the incident changed while it was on its way.
SUMMARY_EDITS = 3


def op_summary_update(web, message) -> str:
    """chat.update of the live summary with the incident's state *now*, so edits delivered out of order still
    end on the current state. A summary deleted in Slack is posted again.

    Two workers editing at once could land in Slack in the other order than they read the incident; so after an
    edit the summary is rendered again, and sent again if the incident changed meanwhile. The last edit to land
    then always carries the state as it was after the last change.
    """
    row = _channel_row(message)
    channel_id = _channel_id(row)
    if not row.summary_ts:
        if operation_dead(row, "summary.post"):
            raise channels.PermanentError(SUMMARY_FAILED, blocked_on=BLOCKED_ON_SUMMARY)
        raise channels.Blocked(WAITING_FOR_SUMMARY, on=BLOCKED_ON_SUMMARY)
    text = summary_text(row)
    for _ in range(SUMMARY_EDITS):
        data = slack.call(
            web.chat_update, channel=channel_id, ts=row.summary_ts, text=text, accept={"message_not_found"}
        )
        if data.get("error") == "message_not_found":
            posted = slack.call(web.chat_postMessage, channel=channel_id, text=text)
            summary_posted(row, ts=str(posted.get("ts", "")), replace=row.summary_ts)
        latest = summary_text(row)
        if latest == text:
            break
        text = latest
    return row.summary_ts


def op_channel_archive(web, message) -> str:
    row = _channel_row(message)
    channel_id = _channel_id(row)
    if row.archived_at is None:
        slack.call(web.conversations_archive, channel=channel_id, accept={"already_archived"})
        channel_archived(row)
    return channel_id


def op_channel_post(web, message) -> str:
    """Post ``message.body`` (an incident update) into the incident's channel."""
    row = _channel_row(message)
    channel_id = _channel_id(row)
    if leaks(row):
        raise channels.PermanentError(
            "The incident was made private; its public channel gets no more updates."
        )
    data = slack.call(web.chat_postMessage, channel=channel_id, text=message.body)
    return str(data.get("ts", ""))


def register_operations() -> None:
    for kind, operation in (
        ("channel.create", op_channel_create),
        ("channel.invite", op_channel_invite),
        ("summary.post", op_summary_post),
        ("summary.update", op_summary_update),
        ("channel.archive", op_channel_archive),
        ("channel.post", op_channel_post),
    ):
        slack.register_operation(kind, operation)
