"""How timeline events are shown: one ``TimelineEntry`` per event, built in one place for every page that lists them.

Each kind's presenter (``incidents.kinds``) is called once with all the events of its kind, so what a kind shows
costs a constant number of queries however long the timeline is. The core's own kinds are registered by
``register_core_kinds`` from ``IncidentsConfig.ready()``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from incidents.kinds import Kind, get_kind, register_kind
from incidents.models import EventKind, TimelineEvent


@dataclass(frozen=True)
class TimelineEntry:
    """What one timeline row shows: the event, its kind's presentation and what the kind's presenter looked up."""

    event: TimelineEvent
    kind: Kind
    data: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def icon(self) -> str:
        return self.kind.icon

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def template(self) -> str:
        return self.kind.template

    def __getattr__(self, name: str) -> Any:
        # Kind templates read their extras as attributes (``entry.sev_new``); a missing one is empty.
        extras = self.__dict__.get("extras") or {}
        if name in extras:
            return extras[name]
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def timeline_entries(
    events: Iterable[TimelineEvent], context: dict[str, Any] | None = None
) -> list[TimelineEntry]:
    """Present the events in order; ``context`` carries what presenters share (e.g. ``severities`` by slug)."""
    rows = list(events)
    context = context or {}
    by_kind: dict[str, list[TimelineEvent]] = defaultdict(list)
    for event in rows:
        by_kind[event.kind].append(event)
    extras: dict[int, dict[str, Any]] = {}
    for value, kind_events in by_kind.items():
        kind = get_kind(value)
        if kind.present is not None:
            extras.update(kind.present(kind_events, context))
    return [
        TimelineEntry(
            event=event,
            kind=get_kind(event.kind),
            data=event.data if isinstance(event.data, dict) else {},
            extras=extras.get(event.pk, {}),
        )
        for event in rows
    ]


# --- The core's kinds -------------------------------------------------------------------------------------------

FIELD_LABELS = {
    "title": "Title",
    "summary": "Summary",
    "team": "Team",
    "services": "Services",
    "customer_impact": "Customer impact",
    "private": "Private",
}


def show_value(value, limit: int | None = 120) -> str:
    """A changed field's value in words, cut at ``limit`` characters (None: in full, as exports want it)."""
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "…"


def _data(event: TimelineEvent) -> dict[str, Any]:
    return event.data if isinstance(event.data, dict) else {}


def _present_roles(events: Sequence[TimelineEvent], context: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Role events record usernames; show people's names (one query for all of them)."""
    usernames = {
        name
        for e in events
        for name in (_data(e).get("old"), _data(e).get("new"))
        if isinstance(name, str) and name
    }
    people = (
        {u.get_username(): u for u in get_user_model().objects.filter(username__in=usernames)}
        if usernames
        else {}
    )
    out = {}
    for e in events:
        d = _data(e)
        new_person = people.get(d.get("new"))
        out[e.pk] = {
            "old_person": people.get(d.get("old")),
            "new_person": new_person,
            "self_assigned": new_person is not None and new_person.pk == e.actor_id,
        }
    return out


def _present_severities(
    events: Sequence[TimelineEvent], context: dict[str, Any]
) -> dict[int, dict[str, Any]]:
    severities = context.get("severities") or {}
    if not severities:
        from incidents.selectors import severity_list

        severities = {s.slug: s for s in severity_list()}
        context["severities"] = severities
    return {
        e.pk: {"sev_old": severities.get(_data(e).get("old")), "sev_new": severities.get(_data(e).get("new"))}
        for e in events
    }


def _present_declared(events: Sequence[TimelineEvent], context: dict[str, Any]) -> dict[int, dict[str, Any]]:
    severities = context.get("severities") or {}
    if not severities:
        from incidents.selectors import severity_list

        severities = {s.slug: s for s in severity_list()}
        context["severities"] = severities
    return {e.pk: {"sev_new": severities.get(_data(e).get("severity"))} for e in events}


def _present_changes(events: Sequence[TimelineEvent], context: dict[str, Any]) -> dict[int, dict[str, Any]]:
    out = {}
    for e in events:
        changes = _data(e).get("changes") or {}
        out[e.pk] = {
            "changes": [
                {
                    "label": FIELD_LABELS.get(name, name.replace("_", " ").capitalize()),
                    "old": show_value(change.get("old")),
                    "new": show_value(change.get("new")),
                }
                for name, change in changes.items()
                if isinstance(change, dict)
            ]
            if isinstance(changes, dict)
            else []
        }
    return out


def register_core_kinds() -> None:
    t = "incidents/timeline/{}.html".format
    register_kind(
        EventKind.DECLARED, label="Declared", icon="flag", template=t("declared"), routable=True,
        present=_present_declared,
    )  # fmt: skip
    register_kind(
        EventKind.STATUS_CHANGED, label="Status changed", icon="arrow-right", template=t("status_changed"),
        routable=True,
    )  # fmt: skip
    register_kind(
        EventKind.SEVERITY_CHANGED, label="Severity changed", icon="signal", template=t("severity_changed"),
        routable=True, present=_present_severities,
    )  # fmt: skip
    register_kind(
        EventKind.ROLE_ASSIGNED, label="Role assigned", icon="user-plus", template=t("role_assigned"),
        routable=True, present=_present_roles,
    )  # fmt: skip
    register_kind(
        EventKind.ROLE_RELIEVED, label="Role relieved", icon="user-minus", template=t("role_relieved"),
        routable=True, present=_present_roles,
    )  # fmt: skip
    register_kind(EventKind.NOTE_ADDED, label="Note", icon="message", template=t("note_added"))
    register_kind(
        EventKind.UPDATE_POSTED, label="Update posted", icon="megaphone", template=t("update_posted"),
        routable=True,
    )  # fmt: skip
    register_kind(
        EventKind.PARTICIPANTS_ADDED, label="Participants added", icon="users", template=t("participants_added"),
    )  # fmt: skip
    register_kind(
        EventKind.FIELDS_CHANGED, label="Details changed", icon="pencil", template=t("fields_changed"),
        routable=True, present=_present_changes,
    )  # fmt: skip
