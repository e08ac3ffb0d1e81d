"""Every write of the notifications outbox: enqueue, claim, deliver, mark, resend.

Delivery never holds a database lock across a network call. A worker *claims* a message with one conditional
UPDATE (status -> sending, a fresh claim token, a lease), talks to the peer outside any transaction, then marks
the outcome with another conditional UPDATE that only succeeds if its claim token is still the row's. A worker
killed mid-delivery leaves the row in ``sending`` until its lease runs out; the sweeper then hands it to another
worker. The only duplicate this allows is a kill after the peer accepted and before the ``sent`` mark, and the
message's ``uid`` (Message-ID, delivery id) lets the receiver drop it.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.db import atomic
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.validation import reject_nul
from notifications import channels
from notifications.models import AttentionWindow, Contact, Destination, Message, RoutingRule

logger = logging.getLogger(__name__)


# --- Enqueue ----------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What a delivery attempt came to besides a message status (``Message.Status`` values are outcomes too)."""

    LOST = "lost"  # the claim was lost: another worker took the message over after the lease ran out


@dataclass(frozen=True)
class Draft:
    """A message about to be written. ``dedupe_key`` makes writing it twice a no-op."""

    channel: str
    target: str
    dedupe_key: str
    kind: str = "post"
    body: str = ""
    subject: str = ""
    html: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    incident_id: int | None = None
    event_id: int | None = None
    destination_id: int | None = None
    recipient_id: int | None = None

    def to_row(self, now) -> Message:
        return Message(
            channel=self.channel,
            kind=self.kind,
            target=self.target[:500],
            dedupe_key=self.dedupe_key[:255],
            body=self.body,
            subject=self.subject[:255],
            html=self.html,
            payload=self.payload,
            incident_id=self.incident_id,
            event_id=self.event_id,
            destination_id=self.destination_id,
            recipient_id=self.recipient_id,
            created_at=now,
            next_attempt_at=now,
        )


def messages_enqueue(drafts: Iterable[Draft], *, batch_size: int = 500) -> int:
    """Write outbox rows inside the caller's transaction and queue their delivery after it commits.

    Rows whose ``dedupe_key`` already exists are skipped. ``drafts`` may be a generator: rows are written in
    batches, so fanning out to thousands of recipients keeps memory flat. Returns how many drafts were offered.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("messages_enqueue must run inside the transaction that decides to send.")
    now = timezone.now()
    offered = 0
    event_ids: set[int] = set()
    batch: list[Message] = []
    no_event_keys: list[str] = []
    for draft in drafts:
        offered += 1
        batch.append(draft.to_row(now))
        if draft.event_id is not None:
            event_ids.add(draft.event_id)
        else:
            no_event_keys.append(draft.dedupe_key[:255])
        if len(batch) >= batch_size:
            Message.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        Message.objects.bulk_create(batch, ignore_conflicts=True)
    if offered:
        events = sorted(event_ids)
        keys = list(no_event_keys)
        transaction.on_commit(lambda: _dispatch_after_commit(event_ids=events, dedupe_keys=keys))
    return offered


def message_enqueue(draft: Draft) -> Message:
    """Write one outbox row (or return the one that already has its dedupe key)."""
    messages_enqueue([draft])
    return Message.objects.get(dedupe_key=draft.dedupe_key[:255])


def _dispatch_after_commit(*, event_ids: Sequence[int], dedupe_keys: Sequence[str]) -> None:
    """Hand new messages to workers. A broker outage is logged, not raised: the sweeper delivers them later."""
    from notifications import tasks

    try:
        for event_id in event_ids:
            tasks.dispatch_event_messages.delay(event_id)
        if dedupe_keys:
            ids = list(
                Message.objects.filter(dedupe_key__in=dedupe_keys, status=Message.Status.PENDING).values_list(
                    "pk", flat=True
                )
            )
            for chunk in chunked(ids, settings.NOTIFY_BATCH_SIZE):
                tasks.deliver_messages.delay(chunk)
    except Exception:
        logger.warning("Could not queue message delivery; the sweeper will deliver them.", exc_info=True)


def chunked(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# --- Delivery ---------------------------------------------------------------------------------------


def _due_q(now) -> Q:
    return Q(status__in=[Message.Status.PENDING, Message.Status.FAILED], next_attempt_at__lte=now) | Q(
        status=Message.Status.SENDING, lease_until__lt=now
    )


def messages_claim(*, message_ids: Sequence[int]) -> list[Message]:
    """Claim the due messages among ``message_ids`` for this worker: one UPDATE, no lock held afterwards."""
    now = timezone.now()
    token = uuid.uuid4()
    lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    claimed = (
        Message.objects.filter(pk__in=list(message_ids))
        .filter(_due_q(now))
        .update(
            status=Message.Status.SENDING, claim_token=token, lease_until=lease, attempts=F("attempts") + 1
        )
    )
    if not claimed:
        return []
    return list(
        Message.objects.filter(pk__in=list(message_ids), claim_token=token, status=Message.Status.SENDING)
        .select_related("destination")
        # A destination's address list can hold thousands of addresses: one copy per claimed row made each
        # batch of a 5,000-recipient fan-out fetch and hold ~13 MB (memory grew with the recipients).
        .defer("destination__email_addresses", "destination__last_error")
        .order_by("channel", "pk")
    )


def message_backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 2 s, 4 s, 8 s ... capped at 15 minutes."""
    base = min(900.0, 2.0 ** max(1, attempts))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def message_mark_sent(*, message: Message, external_id: str = "") -> bool:
    """Record a delivery. False when the claim was lost (another worker took over after the lease ran out)."""
    now = timezone.now()
    done = Message.objects.filter(
        pk=message.pk, claim_token=message.claim_token, status=Message.Status.SENDING
    ).update(
        status=Message.Status.SENT,
        sent_at=now,
        external_id=(external_id or "")[:255],
        last_error="",
        blocked_on="",
        lease_until=None,
        claim_token=None,
    )
    if done:
        message.status = Message.Status.SENT
        message.sent_at = now
        message.external_id = external_id or ""
    return bool(done)


def message_mark_failed(*, message: Message, error: channels.base.DeliveryError | Exception) -> str:
    """Record a failed attempt: retry later with backoff (honouring Retry-After), or dead when it cannot succeed."""
    now = timezone.now()
    text = (str(error) or error.__class__.__name__)[:4000]
    blocked_on = (getattr(error, "blocked_on", "") or "")[:40]
    permanent = getattr(error, "permanent", False)
    if permanent or message.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        status = Message.Status.DEAD
        next_at = now
        if not permanent:
            text = f"Gave up after {message.attempts} attempts. Last error: {text}"[:4000]
    else:
        status = Message.Status.FAILED
        delay = message_backoff(message.attempts)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, timedelta(seconds=min(float(retry_after), 3600.0)))
        next_at = now + delay
    done = Message.objects.filter(
        pk=message.pk, claim_token=message.claim_token, status=Message.Status.SENDING
    ).update(
        status=status,
        next_attempt_at=next_at,
        last_error=text,
        blocked_on=blocked_on,
        lease_until=None,
        claim_token=None,
    )
    if not done:
        return Outcome.LOST
    message.status, message.next_attempt_at, message.last_error = status, next_at, text
    message.blocked_on = blocked_on
    if status == Message.Status.DEAD and message.destination_id:
        Destination.objects.filter(pk=message.destination_id).update(last_error=text, last_error_at=now)
    return status


def messages_deliver(*, message_ids: Sequence[int]) -> dict[str, int]:
    """Claim and deliver a batch. Returns counts by outcome. Retries that are due soon are re-queued here;
    later ones are left to the sweeper."""
    from notifications import tasks

    outcome: dict[str, int] = {}
    messages = messages_claim(message_ids=message_ids)
    by_channel: dict[str, list[Message]] = {}
    for message in messages:
        by_channel.setdefault(message.channel, []).append(message)
    for channel_name, batch in by_channel.items():
        try:
            transport = channels.get(channel_name)
            if not transport.enabled():
                raise channels.PermanentError(f"The {transport.label} channel is not configured.")
        except channels.base.DeliveryError as exc:
            for message in batch:
                status = message_mark_failed(message=message, error=exc)
                outcome[status] = outcome.get(status, 0) + 1
            continue
        try:
            with transport.session() as session:
                for position, message in enumerate(batch):
                    if not _lease_holds(batch, position):
                        outcome[Outcome.LOST] = outcome.get(Outcome.LOST, 0) + 1
                        continue
                    status = _deliver_one(session, message)
                    outcome[status] = outcome.get(status, 0) + 1
                    if status == Message.Status.FAILED:
                        delay = (message.next_attempt_at - timezone.now()).total_seconds()
                        if delay <= settings.NOTIFY_COUNTDOWN_MAX_SECONDS:
                            _requeue_later(tasks, message.pk, delay)
        except channels.base.DeliveryError as exc:
            # The session itself failed (SMTP connection refused): every message still claimed fails alike.
            for message in batch:
                if message.status == Message.Status.SENDING:
                    status = message_mark_failed(message=message, error=exc)
                    outcome[status] = outcome.get(status, 0) + 1
    return outcome


def _lease_holds(batch: list[Message], position: int) -> bool:
    """Renew the batch's lease once half of it is used, before sending ``batch[position]``.

    A slow peer (each send may take up to its transport's timeout) can make a batch outlast one lease; the
    sweeper would then hand the rows still waiting here to another worker and both would send them. Renewing
    the rows still held by this claim keeps them ours. False when the row was already taken over: skip it.
    """
    message = batch[position]
    now = timezone.now()
    if (
        message.lease_until
        and (message.lease_until - now).total_seconds() > settings.NOTIFY_LEASE_SECONDS / 2
    ):
        return True
    waiting = [m for m in batch[position:] if m.status == Message.Status.SENDING]
    lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    rows = Message.objects.filter(
        pk__in=[m.pk for m in waiting], claim_token=message.claim_token, status=Message.Status.SENDING
    )
    renewed = rows.update(lease_until=lease)  # a claim changes the token: rows with ours are still ours
    kept = {m.pk for m in waiting} if renewed == len(waiting) else set(rows.values_list("pk", flat=True))
    for m in waiting:
        if m.pk in kept:
            m.lease_until = lease
    return message.pk in kept


def _requeue_later(tasks, message_id: int, delay: float) -> None:
    try:
        tasks.deliver_messages.apply_async([[message_id]], countdown=max(0.0, delay))
    except Exception:
        logger.warning("Could not queue a retry of message %s; the sweeper will.", message_id, exc_info=True)


def _deliver_one(session: channels.Transport, message: Message) -> str:
    try:
        external_id = session.send(message)
    except channels.base.DeliveryError as exc:
        logger.info("Delivery of message %s failed: %s", message.pk, exc)
        return message_mark_failed(message=message, error=exc)
    except Exception as exc:  # a bug or an unexpected library error: retry, keep the error
        logger.exception("Delivery of message %s raised", message.pk)
        return message_mark_failed(
            message=message, error=channels.TransientError(f"{exc.__class__.__name__}: {exc}")
        )
    if message_mark_sent(message=message, external_id=external_id or ""):
        return Message.Status.SENT
    return Outcome.LOST


def message_resend(*, message: Message | int, actor=None) -> Message:
    """Put a dead or failed message back in the queue (admin and web action)."""
    with transaction.atomic():
        pk = message.pk if isinstance(message, Message) else message
        row = Message.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if row is None:
            raise NotFound("No such message.")
        if row.status not in (Message.Status.DEAD, Message.Status.FAILED):
            raise Conflict(
                f"Only dead or failed messages can be resent; this one is {row.get_status_display().lower()}."
            )
        row.status = Message.Status.PENDING
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.claim_token = None
        row.lease_until = None
        row.save(update_fields=["status", "attempts", "next_attempt_at", "claim_token", "lease_until"])
        message_id = row.pk
        transaction.on_commit(lambda: _dispatch_ids([message_id]))
    return row


def _dispatch_ids(ids: list[int]) -> None:
    from notifications import tasks

    try:
        tasks.deliver_messages.delay(ids)
    except Exception:
        logger.warning("Could not queue messages %s; the sweeper will.", ids, exc_info=True)


# --- Destinations -----------------------------------------------------------------------------------


def parse_addresses(text: str) -> list[str]:
    """Email addresses from a text: one per line or comma separated, blanks and duplicates (any case) dropped."""
    seen: dict[str, str] = {}
    for part in re.split(r"[\s,;]+", text or ""):
        part = part.strip()
        if part:
            seen.setdefault(part.lower(), part)
    return list(seen.values())


def destination_check(destination: Destination) -> None:
    """Raise ValidationError (with the field) when a destination cannot work as configured."""
    try:
        transport = channels.get(destination.channel)
    except channels.PermanentError:
        raise ValidationError(f"Unknown channel {destination.channel!r}.", field="channel") from None
    transport.check_destination(destination)


# --- Where and when messages go: destinations, routing rules, attention windows ---------------------------------
# Every entrance (the admin today) writes these through the services below, with the same permission check.


def _ensure_can_configure(actor, obj, action: str) -> None:
    from notifications.permissions import can_configure

    if not can_configure(actor, type(obj), action):
        raise PermissionDenied(f"You may not {action} {type(obj)._meta.verbose_name_plural}.")


def _ensure_sees_every_private_incident(actor) -> None:
    """A rule that includes private incidents sends each of them wherever it points: only those who may see every
    private incident create, change or turn on such a rule (its destinations are part of what it discloses)."""
    from teams.selectors import user_is_admin

    if not user_is_admin(actor):
        raise PermissionDenied(
            "Only administrators may set up a rule that includes private incidents.", field="include_private"
        )


def _clean_name(value: str, field: str = "name", limit: int = 100) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("Give it a name.", field=field)
    if len(value) > limit:
        raise ValidationError(f"Keep this under {limit} characters.", field=field)
    return reject_nul(value, field=field)


@atomic
def destination_save(*, destination: Destination, actor) -> Destination:
    """Create or change a destination after checking it can work as configured."""
    _ensure_can_configure(actor, destination, "change" if destination.pk else "add")
    destination.name = _clean_name(destination.name)
    destination_check(destination)
    destination.save()
    return destination


@atomic
def destination_delete(*, destination: Destination, actor) -> None:
    _ensure_can_configure(actor, destination, "delete")
    destination.delete()


def routing_rule_check(rule: RoutingRule) -> None:
    from notifications.routing import routed_kinds

    kinds = rule.event_kinds
    if kinds in (None, ""):
        kinds = []
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValidationError(
            'Give the event kinds as a list of names, e.g. ["declared"].', field="event_kinds"
        )
    allowed = routed_kinds()
    unknown = sorted(set(kinds) - allowed)
    if unknown:
        raise ValidationError(
            f"Rules cannot react to {', '.join(unknown)}. Choose from: {', '.join(sorted(allowed))}.",
            field="event_kinds",
        )
    rule.event_kinds = list(dict.fromkeys(kinds))


@atomic
def routing_rule_save(
    *, rule: RoutingRule, actor, destinations: Iterable[Destination] | None = None
) -> RoutingRule:
    """Create or change a routing rule; ``destinations`` (when given) replaces where it sends."""
    _ensure_can_configure(actor, rule, "change" if rule.pk else "add")
    if rule.include_private:
        _ensure_sees_every_private_incident(actor)
    rule.name = _clean_name(rule.name)
    routing_rule_check(rule)
    rule.save()
    if destinations is not None:
        rule.destinations.set(list(destinations))
    return rule


@atomic
def routing_rule_delete(*, rule: RoutingRule, actor) -> None:
    _ensure_can_configure(actor, rule, "delete")
    rule.delete()


@atomic
def attention_window_save(*, window: AttentionWindow, actor) -> AttentionWindow:
    """Create or change a heightened-attention window (launch day: every incident also goes to marketing)."""
    _ensure_can_configure(actor, window, "change" if window.pk else "add")
    window.note = _clean_name(window.note, field="note", limit=200)
    if window.starts_at is None or window.ends_at is None:
        raise ValidationError("Give when the window starts and ends.", field="ends_at")
    if window.ends_at <= window.starts_at:
        raise ValidationError("The window must end after it starts.", field="ends_at")
    if window.pk is None and window.created_by_id is None and getattr(actor, "pk", None):
        window.created_by = actor
    window.save()
    return window


@atomic
def attention_window_delete(*, window: AttentionWindow, actor) -> None:
    _ensure_can_configure(actor, window, "delete")
    window.delete()


# --- Contacts: how a person is reached outside Muster ------------------------------------------------------

SLACK_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{6,20}$")


def _ensure_can_set_contact(actor, user) -> None:
    """A person's contact decides where their pages and messages go (private incidents' too): only they and
    superusers may change it, whatever model permissions a staff user holds."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Sign in to change contact details.")
    if not (actor.is_superuser or actor.pk == user.pk):
        raise PermissionDenied("Only the person and administrators may change where their messages go.")


@atomic
def contact_save(*, contact: Contact, actor) -> Contact:
    """Create or change a person's contact (their Slack member id)."""
    if contact.pk:
        stored = Contact.objects.filter(pk=contact.pk).values_list("user_id", flat=True).first()
        if stored is not None and stored != contact.user_id:
            raise ValidationError("A contact stays with its person.", field="user")
    _ensure_can_set_contact(actor, contact.user)
    contact.slack_user_id = (contact.slack_user_id or "").strip().upper()
    if contact.slack_user_id and not SLACK_USER_ID_RE.match(contact.slack_user_id):
        raise ValidationError("A Slack member id looks like U0123ABCD.", field="slack_user_id")
    contact.save()
    return contact


@atomic
def contact_delete(*, contact: Contact, actor) -> None:
    _ensure_can_set_contact(actor, contact.user)
    contact.delete()
