"""Versions of an incident, and refusing a click made on a state that has changed since.

Every change of an incident's state bumps ``Incident.version`` in the transaction of the change, under the incident's
row lock (``incidents.services.timeline_record`` does it for every event it records, so the wings' changes bump it
too); the event records the version it made (``TimelineEvent.incident_version``). Notes do not bump it: a note
changes nothing a button acts on.

A form (web, admin) or an API client (``If-Match``) sends the version it was shown. A different version alone does
not refuse the action: the events since that version are read, and the action is refused (``StaleState``) only when
one of them touches what the action acts on (its ``Concern``): the status for a transition, that role for a role
change, the severity for a severity change, the same fields for an edit, another update (or a status change) for a
stakeholder update. So a lead hand-off does not refuse a severity change made from the same page, and "Take it" on
a lead somebody took 17 seconds ago is refused with "Bob Okafor became incident lead 17 s ago".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import StaleState, ValidationError
from core.templatetags.muster import display_name
from incidents import state
from incidents.models import EventKind, Incident, TimelineEvent

EventMatch = Callable[[TimelineEvent], bool]
Describe = Callable[[TimelineEvent, dict], str]

MAX_SENTENCES = 3


@dataclass(frozen=True)
class Concern:
    """What an action acts on: the event kinds (and, optionally, which of their events) that make it stale.

    ``describe`` words an event of a kind the core does not know (a wing's), given the event and the people the
    events name (by username); without it the event's text or label is used.
    """

    kinds: frozenset[str]
    match: EventMatch | None = None
    describe: Describe | None = field(default=None, compare=False)

    def touches(self, event: TimelineEvent) -> bool:
        return event.kind in self.kinds and (self.match is None or self.match(event))


def _data(event: TimelineEvent) -> dict:
    return event.data if isinstance(event.data, dict) else {}


STATUS = Concern(frozenset({EventKind.STATUS_CHANGED}))
SEVERITY = Concern(frozenset({EventKind.SEVERITY_CHANGED}))
# A stakeholder update describes the state: another update, or a status change, since the form was shown makes it
# stale (two messengers posting at once, or "we are investigating" posted over a resolve).
UPDATE = Concern(frozenset({EventKind.UPDATE_POSTED, EventKind.STATUS_CHANGED}))


def role(slug: str) -> Concern:
    """A role's hand-offs: any assignment or relief of that role."""
    return Concern(
        frozenset({EventKind.ROLE_ASSIGNED, EventKind.ROLE_RELIEVED}),
        match=lambda e: _data(e).get("role") == slug,
    )


def fields(names: Iterable[str]) -> Concern:
    """Descriptive fields (``incident_update``): a change of any of ``names`` since."""
    wanted = frozenset(names)

    def match(event: TimelineEvent) -> bool:
        changes = _data(event).get("changes")
        return isinstance(changes, dict) and bool(wanted & set(changes))

    return Concern(frozenset({EventKind.FIELDS_CHANGED}), match=match)


def clean(value) -> int | None:
    """A version as a form or a header sends it: None (not sent) or a positive integer; anything else is a 400."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("A version is a whole number.", field="version")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError("A version is a whole number.", field="version") from None
    if number < 1 or number > 2**31 - 1:
        raise ValidationError("A version is a whole number from 1.", field="version")
    return number


def ensure_current(*, incident: Incident, expected_version, concern: Concern) -> None:
    """Refuse (``StaleState``) when the incident changed since ``expected_version`` in what ``concern`` covers.

    Call it with the incident as read under its row lock, before changing anything. ``expected_version=None``
    (nothing sent) checks nothing.
    """
    expected = clean(expected_version)
    if expected is None or expected == incident.version:
        return
    if expected > incident.version:
        raise ValidationError(
            f"{incident.reference} has never had version {expected} (it is at {incident.version}).",
            field="version",
        )
    since = (
        TimelineEvent.objects.filter(
            incident_id=incident.pk, incident_version__gt=expected, kind__in=list(concern.kinds)
        )
        .select_related("actor")
        .order_by("incident_version", "id")
    )
    stale = [e for e in since if concern.touches(e)]
    if stale:
        raise stale_error(incident=incident, events=stale, concern=concern)


def stale_error(*, incident: Incident, events: list[TimelineEvent], concern: Concern) -> StaleState:
    now = timezone.now()
    people = _people(events)
    shown = events[-MAX_SENTENCES:]
    sentences = [_sentence(e, people, concern, now) for e in shown]
    if len(events) > len(shown):
        others = len(events) - len(shown)
        sentences.insert(0, f"{others} earlier change{'s' if others != 1 else ''}")
    text = "; ".join(sentences)
    message = f"{text[:1].upper()}{text[1:]}. Nothing was changed: here is the current state."
    changes = [
        {
            "kind": e.kind,
            "text": _sentence(e, people, concern, now, when=False),
            "actor": display_name(e.actor) if e.actor_id else (e.via or "System"),
            "occurred_at": e.occurred_at.isoformat(),
            "version": e.incident_version,
        }
        for e in events
    ]
    return StaleState(message, changes=changes, version=incident.version)


def _people(events: list[TimelineEvent]) -> dict:
    names = set()
    for e in events:
        d = _data(e)
        for key in ("old", "new", "user"):
            if isinstance(d.get(key), str) and d.get(key):
                names.add(d[key])
        for name in d.get("users") or []:
            if isinstance(name, str):
                names.add(name)
    if not names:
        return {}
    return {u.get_username(): u for u in get_user_model().objects.filter(username__in=names)}


def ago(moment: datetime, now: datetime | None = None) -> str:
    """'17 s ago', '4 min ago', '2 h ago', '3 d ago'."""
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def person(username, people: dict) -> str:
    if not username:
        return "nobody"
    user = people.get(username)
    return display_name(user) if user is not None else str(username)


def _sentence(
    event: TimelineEvent, people: dict, concern: Concern, now: datetime, *, when: bool = True
) -> str:
    return _what(event, people, concern) + (f" {ago(event.occurred_at, now)}" if when else "")


def _what(event: TimelineEvent, people: dict, concern: Concern) -> str:
    d = _data(event)
    who = display_name(event.actor) if event.actor_id else (event.via or "Muster")
    kind = event.kind
    if kind == EventKind.STATUS_CHANGED:
        new = d.get("new")
        label = state.Status(new).label if new in state.Status._value2member_map_ else str(new)
        verb = "re-opened it as" if d.get("reopened") else "moved it to"
        return f"{who} {verb} {label}"
    if kind == EventKind.SEVERITY_CHANGED:
        return f"{who} changed the severity to {d.get('new')}"
    if kind == EventKind.ROLE_ASSIGNED:
        role_name = str(d.get("role_name") or d.get("role") or "role").lower()
        new = person(d.get("new"), people)
        holder = people.get(d.get("new"))
        if holder is not None and holder.pk == event.actor_id:
            return f"{new} became {role_name}"
        return f"{new} became {role_name} ({who} assigned it)"
    if kind == EventKind.ROLE_RELIEVED:
        role_name = str(d.get("role_name") or d.get("role") or "role").lower()
        old_user = people.get(d.get("old"))
        if old_user is not None and old_user.pk == event.actor_id:
            return f"{person(d.get('old'), people)} stepped down as {role_name}"
        return f"{who} relieved {person(d.get('old'), people)} as {role_name}"
    if kind == EventKind.FIELDS_CHANGED:
        from incidents.timeline import FIELD_LABELS

        changes = d.get("changes") if isinstance(d.get("changes"), dict) else {}
        names = ", ".join(FIELD_LABELS.get(n, n).lower() for n in changes)
        return f"{who} changed the {names or 'details'}"
    if kind == EventKind.UPDATE_POSTED:
        return f"{who} posted an update"
    if concern.describe is not None:
        return concern.describe(event, people)
    from incidents.kinds import get_kind

    return f"{who}: {event.text or get_kind(kind).label}"
