"""Routing: which destinations an incident event goes to, and the outbox rows that carry it there.

``route_event`` is a timeline consumer: it runs once per event, in the consumer run's transaction, so the
messages it writes commit together with the run's ``done`` mark, and a retried run writes each message once
(their dedupe keys are ``event + destination [+ recipient]``: two rules naming the same channel post once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents.kinds import routable_kinds
from incidents.models import EventKind, Incident, TimelineEvent
from notifications import channels, selectors
from notifications.models import Destination, RoutingRule
from notifications.render import incident_payload, incident_url, render
from notifications.services import Draft, messages_enqueue

# What a rule with no kinds reacts to. Any kind registered as routable (``incidents.kinds``) may be chosen.
DEFAULT_KINDS = frozenset(
    {EventKind.DECLARED, EventKind.STATUS_CHANGED, EventKind.SEVERITY_CHANGED, EventKind.UPDATE_POSTED}
)


def routed_kinds() -> frozenset[str]:
    """Every kind a routing rule may match: the registered routable kinds (a wing's kinds included)."""
    return routable_kinds()


def dedupe_key(*parts: Any) -> str:
    key = ":".join(str(p) for p in parts)
    if len(key) <= 200:
        return key
    return key[:120] + ":" + hashlib.sha256(key.encode()).hexdigest()


def rule_matches(
    rule: RoutingRule, *, incident: Incident, kind: str, service_ids: set[int], attention: bool
) -> bool:
    if not rule.enabled:
        return False
    if kind not in (set(rule.event_kinds) if rule.event_kinds else DEFAULT_KINDS):
        return False
    if incident.private and not rule.include_private:
        return False
    if rule.team_id is not None and rule.team_id != incident.team_id:
        return False
    if rule.service_id is not None and rule.service_id not in service_ids:
        return False
    if rule.during_attention_window:
        return attention  # launch day: every incident, whatever its severity or impact
    if rule.customer_impact_only and not incident.customer_impact:
        return False
    return not (rule.min_severity_id is not None and incident.severity.rank > rule.min_severity.rank)


def destinations_for(event: TimelineEvent) -> list[Destination]:
    """The active destinations of every rule the event matches, each once, in rule order."""
    incident = event.incident
    rules = (
        RoutingRule.objects.filter(enabled=True)
        .select_related("min_severity")
        .prefetch_related("destinations")
    )
    service_ids = set(incident.services.values_list("pk", flat=True))
    attention = selectors.attention_window_active(at=event.occurred_at) is not None
    chosen: dict[int, Destination] = {}
    for rule in rules:
        if rule_matches(
            rule, incident=incident, kind=event.kind, service_ids=service_ids, attention=attention
        ):
            for destination in rule.destinations.all():
                if destination.active:
                    chosen.setdefault(destination.pk, destination)
    return list(chosen.values())


def event_context(event: TimelineEvent) -> dict[str, Any]:
    incident = event.incident
    roles = incident_selectors.current_roles(incident)
    return {
        "event": event,
        "incident": incident,
        "lead": roles["lead"].user if "lead" in roles else None,
        "messenger": roles["messenger"].user if "messenger" in roles else None,
        "url": incident_url(incident),
        "now": timezone.now(),
    }


def drafts_for(event: TimelineEvent, destinations: list[Destination]) -> Iterator[Draft]:
    """Each destination's transport drafts its messages; the event is rendered once per format for all of them."""
    context = event_context(event)
    transports = {name: t for name, t in channels.registry().items() if t.enabled()}
    common = {"incident_id": event.incident_id, "event_id": event.pk}
    rendered: dict[tuple, Any] = {}

    def render_once(fmt: str, *, html: bool = False, subject: bool = False):
        key = (fmt, html, subject)
        if key not in rendered:
            rendered[key] = render(fmt, "event", context, html=html, subject=subject)
        return rendered[key]

    for destination in destinations:
        transport = transports.get(destination.channel)
        if transport is None:
            continue
        for fields in transport.route(destination, event=event, context=context, render=render_once):
            fields = dict(fields)
            key = fields.pop("key", None)
            parts = ("ev", event.pk, "dest", destination.pk) + ((key,) if key else ())
            yield Draft(
                channel=transport.name,
                dedupe_key=dedupe_key(*parts),
                destination_id=destination.pk,
                **common,
                **fields,
            )


def webhook_payload(event: TimelineEvent, text: str) -> dict[str, Any]:
    return {
        "type": f"incident.{event.kind}",
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "occurred_at": event.occurred_at.isoformat(),
            "source": event.source,
            "data": event.data,
            "text": event.text,
        },
        "incident": incident_payload(event.incident),
        "text": text,
    }


def route_event(event: TimelineEvent) -> None:
    """Timeline consumer: write one outbox row per destination (and per address) the event is routed to."""
    event = (
        TimelineEvent.objects.select_related("incident", "incident__severity", "incident__team", "actor")
        .filter(pk=event.pk)
        .first()
    )
    if event is None:
        return
    destinations = destinations_for(event)
    if destinations:
        messages_enqueue(drafts_for(event, destinations))
