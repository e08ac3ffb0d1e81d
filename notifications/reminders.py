"""Nudges: update cadence, a missing lead, a resolved incident left open.

``reminders_check`` is woken by Celery beat (``notifications.tasks.check_reminders``). It finds what is due with
one query over the open and long-resolved incidents and one query for the reminders already sent, then handles
each due reminder in its own transaction:

1. lock the incident and check again that the reminder is still due (someone may just have posted an update);
2. insert a ``Reminder`` row under its unique key: a second beat run, or a second worker racing this one, fails
   on the key, rolls its savepoint back and sends nothing;
3. note it on the timeline (``incidents.services.incident_record_event``) with who is being reminded.

The timeline consumer ``notifications.reminders`` (``reminder_deliver``) then turns that event into a Slack DM
and an email for each person, through the outbox.

Keys:

- ``update:{incident}:{anchor}:{n}``: no customer-facing update (an ``update_posted`` event) for ``n`` whole
  intervals of the severity's ``update_interval_minutes`` since the anchor, the last update (``e{event id}``) or
  the declaration (``d``). Without an update it reminds again every interval; a new update moves the anchor.
- ``no-lead:{incident}``: no lead for ``NOTIFY_NO_LEAD_MINUTES`` since it was declared or its last lead was
  relieved; once per incident.
- ``close:{incident}:{resolved_at}``: resolved ``NOTIFY_CLOSE_AFTER_HOURS`` ago and not closed; a re-opened and
  re-resolved incident is reminded again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from core.errors import NotFound
from incidents import permissions
from incidents import selectors as incident_selectors
from incidents.models import EventKind, Incident, RoleAssignment, TimelineEvent
from incidents.services import incident_lock, incident_record_event
from incidents.state import OPEN_STATUSES, Status
from notifications.models import Reminder
from notifications.recipients import drafts_for_person, team_oncall
from notifications.render import incident_url, render
from notifications.services import messages_enqueue

# The timeline event kind recorded when a reminder goes out (registered in NotificationsConfig.ready()).
REMINDER = "reminder"

logger = logging.getLogger(__name__)

UPDATE_DUE = "update-due"
NO_LEAD = "no-lead"
CLOSE_DUE = "close-due"
KINDS = (UPDATE_DUE, NO_LEAD, CLOSE_DUE)

#: Incidents whose customers are waiting for news: every open status (resolved, closed and declined are done).
UPDATE_STATUSES = frozenset(s.value for s in OPEN_STATUSES)

#: Why a person receives a reminder, for the message's footer.
REASONS = {
    "messenger": "you are its messenger",
    "lead": "you lead it",
    "declarer": "you declared it",
    "on-call": "you are on call for its team",
}

#: What each reminder asks for, in the words of the message.
ASKS = {UPDATE_DUE: "post an update", NO_LEAD: "assign a lead", CLOSE_DUE: "close it or re-open it"}


@dataclass(frozen=True)
class Due:
    """One reminder that is due now."""

    kind: str
    key: str
    incident_id: int
    since: datetime  # when the condition started (last update or declaration, lead-less since, resolved at)
    details: dict[str, Any] = field(default_factory=dict)


# --- Finding what is due ----------------------------------------------------------------------------


def _candidates_queryset(now: datetime):
    """Open incidents, and resolved ones past the close delay, with what the rules need, in one query."""
    close_before = now - timedelta(hours=settings.NOTIFY_CLOSE_AFTER_HOURS)
    updates = TimelineEvent.objects.filter(incident=OuterRef("pk"), kind=EventKind.UPDATE_POSTED).order_by(
        "-occurred_at", "-id"
    )
    leads = RoleAssignment.objects.filter(incident=OuterRef("pk"), role__slug="lead")
    last_relieved = (
        leads.filter(relieved_at__isnull=False)
        .order_by()
        .values("incident")
        .annotate(last=Max("relieved_at"))
        .values("last")
    )
    return (
        Incident.objects.filter(
            Q(status__in=UPDATE_STATUSES) | Q(status=Status.RESOLVED, resolved_at__lte=close_before)
        )
        .select_related("severity")
        .annotate(
            last_update_id=Subquery(updates.values("id")[:1]),
            last_update_at=Subquery(updates.values("occurred_at")[:1]),
            has_lead=Exists(leads.filter(relieved_at__isnull=True)),
            lead_relieved_at=Subquery(last_relieved[:1]),
        )
        .only(
            "pk",
            "status",
            "customer_impact",
            "declared_at",
            "resolved_at",
            "severity__name",
            "severity__update_interval_minutes",
        )
        .order_by("pk")
    )


def update_interval(incident: Incident) -> int | None:
    """The customer-update cadence of the incident in minutes (its severity's ``update_interval_minutes``), or
    None where it does not apply: no customer impact, not open, or a severity without one."""
    if incident.status not in UPDATE_STATUSES or not incident.customer_impact:
        return None
    return incident.severity.update_interval_minutes or None


def update_windows(*, since: datetime, interval: int, now: datetime) -> int:
    """How many whole update intervals have passed since the last update (or the declaration): overdue from 1."""
    return int((now - since) // timedelta(minutes=interval))


def _due_for(incident: Incident, now: datetime) -> list[Due]:
    """The reminders due for one annotated incident (see ``_candidates_queryset``), pure Python."""
    due: list[Due] = []
    pk = incident.pk
    if incident.status in UPDATE_STATUSES:
        interval = update_interval(incident)
        if interval:
            if incident.last_update_id:
                anchor, since = f"e{incident.last_update_id}", incident.last_update_at
            else:
                anchor, since = "d", incident.declared_at
            windows = update_windows(since=since, interval=interval, now=now)
            if windows >= 1:
                due.append(
                    Due(
                        UPDATE_DUE,
                        f"update:{pk}:{anchor}:{windows}",
                        pk,
                        since,
                        {
                            "interval_minutes": interval,
                            "severity": incident.severity.name,
                            "last_update_id": incident.last_update_id,
                        },
                    )
                )
        if not incident.has_lead:
            since = max(filter(None, [incident.declared_at, incident.lead_relieved_at]))
            if now - since >= timedelta(minutes=settings.NOTIFY_NO_LEAD_MINUTES):
                due.append(Due(NO_LEAD, f"no-lead:{pk}", pk, since))
    elif (
        incident.status == Status.RESOLVED
        and incident.resolved_at is not None
        and now - incident.resolved_at >= timedelta(hours=settings.NOTIFY_CLOSE_AFTER_HOURS)
    ):
        stamp = int(incident.resolved_at.timestamp())
        due.append(Due(CLOSE_DUE, f"close:{pk}:{stamp}", pk, incident.resolved_at))
    return due


def reminders_due(*, now: datetime | None = None) -> list[Due]:
    """Every reminder due at ``now`` that has not been sent yet: two queries, however many incidents are open."""
    now = now or timezone.now()
    due = list(chain.from_iterable(_due_for(i, now) for i in _candidates_queryset(now)))
    if not due:
        return []
    sent = set(Reminder.objects.filter(key__in=[d.key for d in due]).values_list("key", flat=True))
    return [d for d in due if d.key not in sent]


# --- Sending one ------------------------------------------------------------------------------------


def reminders_check(*, now: datetime | None = None) -> int:
    """Send every due reminder, each in its own transaction. Returns how many were sent. Safe to run twice,
    and on two workers at once: each reminder's key is written once."""
    now = now or timezone.now()
    sent = 0
    for due in reminders_due(now=now):
        try:
            if reminder_send(due=due, now=now) is not None:
                sent += 1
        except Exception:  # one broken incident must not hold up the others' reminders
            logger.exception("Could not send reminder %s", due.key)
    return sent


def reminder_send(*, due: Due, now: datetime) -> Reminder | None:
    """Record one due reminder: None when it is no longer due or another run already sent it."""
    with transaction.atomic():
        try:
            incident_lock(incident_id=due.incident_id)  # the incident's row first (core.db)
        except NotFound:
            return None
        # Check again under the lock: an update, a lead or a close may have landed since the scan.
        fresh = _candidates_queryset(now).filter(pk=due.incident_id).first()
        if fresh is None or due.key not in {d.key for d in _due_for(fresh, now)}:
            return None
        try:
            with transaction.atomic():
                reminder = Reminder.objects.create(key=due.key, incident_id=due.incident_id, kind=due.kind)
        except IntegrityError:  # another run got there first
            return None
        incident = (
            Incident.objects.select_related("severity", "team", "declared_by")
            .filter(pk=due.incident_id)
            .get()
        )
        recipients = _recipients(due.kind, incident, now)
        event = incident_record_event(
            incident=incident,
            kind=REMINDER,
            text=_timeline_text(due, incident, recipients, now),
            data={
                "reminder": due.kind,
                "key": due.key,
                "since": due.since.isoformat(),
                "at": now.isoformat(),
                "recipients": [{"user": user.pk, "as": role} for user, role in recipients],
                **due.details,
            },
        )
        reminder.event = event
        reminder.save(update_fields=["event"])
    return reminder


def _recipients(kind: str, incident: Incident, now: datetime) -> list[tuple[Any, str]]:
    """Who to remind, each once with the reason they are asked: (user, "messenger" | "lead" | ...)."""
    roles = incident_selectors.current_roles(incident)
    candidates: list[tuple[Any, str]] = []
    if kind == UPDATE_DUE:
        for slug in ("messenger", "lead"):
            if slug in roles:
                candidates.append((roles[slug].user, slug))
                break
        else:
            candidates.append((incident.declared_by, "declarer"))
    elif kind == NO_LEAD:
        candidates.append((incident.declared_by, "declarer"))
        candidates.extend((user, "on-call") for user in team_oncall(incident.team, at=now))
    elif kind == CLOSE_DUE:
        holder = roles.get("lead")
        candidates.append((holder.user, "lead") if holder else (incident.declared_by, "declarer"))
    chosen: dict[int, tuple[Any, str]] = {}
    for user, role in candidates:
        # Only people who can open the incident: a private incident is not shown to an on-call outside it.
        if (
            user is not None
            and user.is_active
            and user.pk not in chosen
            and permissions.can_view(user, incident)
        ):
            chosen[user.pk] = (user, role)
    return list(chosen.values())


def duration_text(delta: timedelta) -> str:
    """'35 minutes', '1 hour 5 minutes', '2 days 3 hours': what a responder reads at 3 a.m."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n][:2]
    return " ".join(shown) or "less than a minute"


def _display(user) -> str:
    return (user.get_full_name() or "").strip() or user.get_username()


def _timeline_text(due: Due, incident: Incident, recipients: list[tuple[Any, str]], now: datetime) -> str:
    elapsed = duration_text(now - due.since)
    if due.kind == UPDATE_DUE:
        interval = due.details["interval_minutes"]
        situation = (
            f"No customer-facing update for {elapsed} "
            f"({incident.severity.name} incidents with customer impact update every {interval} minutes)."
        )
    elif due.kind == NO_LEAD:
        situation = f"No incident lead for {elapsed}."
    else:
        situation = f"Resolved {elapsed} ago and not closed yet."
    if not recipients:
        return f"{situation} Nobody could be reminded to {ASKS[due.kind]}."
    names = ", ".join(f"{_display(user)} ({role})" for user, role in recipients)
    return f"{situation} Reminded {names} to {ASKS[due.kind]}."


# --- Delivering: the timeline consumer ---------------------------------------------------------------


def reminder_deliver(event: TimelineEvent) -> None:
    """Timeline consumer ``notifications.reminders``: a Slack DM and an email to each person reminded."""
    data = event.data or {}
    kind = data.get("reminder")
    if kind not in KINDS:
        return
    incident = Incident.objects.select_related("severity", "team").get(pk=event.incident_id)
    wanted = {int(r["user"]): r.get("as", "") for r in data.get("recipients", []) if r.get("user")}
    if not wanted:
        return
    users = get_user_model().objects.filter(pk__in=list(wanted), is_active=True).order_by("pk")
    roles = incident_selectors.current_roles(incident)
    at = _parse_time(data.get("at")) or event.occurred_at
    since = _parse_time(data.get("since")) or at
    base = {
        "event": event,
        "incident": incident,
        "kind": kind,
        "ask": ASKS[kind],
        "url": incident_url(incident),
        "lead": roles["lead"].user if "lead" in roles else None,
        "messenger": roles["messenger"].user if "messenger" in roles else None,
        "since": since,
        "at": at,
        "elapsed": duration_text(at - since),
        "interval_minutes": data.get("interval_minutes"),
        "has_update": bool(data.get("last_update_id")),
        "close_after_hours": settings.NOTIFY_CLOSE_AFTER_HOURS,
    }

    def drafts():
        for user in users:
            if not permissions.can_view(user, incident):
                continue
            role = wanted.get(user.pk, "")
            context = {**base, "recipient": user, "as_role": role, "reason": REASONS.get(role, "")}
            slack = render("slack", "reminder", context)
            email = render("email", "reminder", context, html=True, subject=True)
            yield from drafts_for_person(
                user,
                dedupe_prefix=f"reminder:{event.pk}",
                text=slack.text,
                subject=email.subject,
                html=email.html,
                email_text=email.text,
                incident_id=incident.pk,
                event_id=event.pk,
            )

    messages_enqueue(drafts())


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
