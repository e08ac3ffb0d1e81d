"""Timeline consumers of paging (``incidents.consumers``): page the team when a severe incident is declared for it,
when its team is chosen later or when its severity is raised to one its team's policy pages for, and stop an
incident's pages when it is no longer open. Each runs once per event, in the consumer run's transaction, so a page
is created once however often the run is replayed.

One rule decides every automatic page (``auto_page``): the incident's team, as it is when the consumer runs, has a
default policy whose ``auto_page_severity`` the incident's current severity reaches, and nobody from that team is
being paged or has acknowledged a page for it. The events only say when to ask: ``declared``; ``fields_changed``
when the team changed; ``severity_changed`` when the severity was raised. Reading the current state (not the
event's values) means a severity raised and lowered again before the consumer ran pages nobody, and a team changed
A -> B -> C pages C once, not B.
"""

from __future__ import annotations

from core.errors import NotFound
from incidents.models import EventKind, Incident, Source, TimelineEvent
from incidents.services import incident_lock
from paging import selectors, services
from paging.models import Page
from paging.state import ACTIVE, INCIDENT_OPEN, severe_enough

AUTO_PAGE = "paging.auto_page"
CANCEL_PAGES = "paging.cancel_pages"


def _asks(event: TimelineEvent) -> bool:
    """Whether the event is a reason to ask the rule: a declaration, a team chosen, a severity raised."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == EventKind.DECLARED:
        return True
    if event.kind == EventKind.FIELDS_CHANGED:
        return bool(((data.get("changes") or {}).get("team") or {}).get("new"))
    if event.kind == EventKind.SEVERITY_CHANGED:
        return bool(data.get("escalated"))
    return False


def _reason(event: TimelineEvent, incident: Incident, policy) -> str:
    rule = f"the {policy.name} policy pages automatically."
    if event.kind == EventKind.FIELDS_CHANGED:
        return f"Team set to {incident.team.name} on a {incident.severity.name} incident: {rule}"
    if event.kind == EventKind.SEVERITY_CHANGED:
        return f"Raised to {incident.severity.name}: {rule}"
    return f"Declared {incident.severity.name}: {rule}"


def auto_page(event: TimelineEvent) -> None:
    """Consumer of ``declared``, ``fields_changed`` and ``severity_changed``: page the team when its default policy
    auto-pages at this severity or worse (the rule in the module docstring)."""
    if not _asks(event):
        return
    # The incident's row first (core.db; page_create takes it again in this transaction): two consumers racing on
    # two events of one incident see each other's page and page the team once.
    try:
        incident_lock(incident_id=event.incident_id)
    except NotFound:
        return
    incident = Incident.objects.select_related("severity", "team").get(pk=event.incident_id)
    if incident.team_id is None or incident.status not in INCIDENT_OPEN:
        return
    if event.kind == EventKind.FIELDS_CHANGED and event.data["changes"]["team"]["new"] != incident.team.slug:
        return  # the team changed again since: that event decides
    policy = selectors.default_policy(incident.team)
    if policy is None or policy.auto_page_severity is None:
        return
    if not severe_enough(incident.severity.rank, policy.auto_page_severity.rank):
        return
    if Page.objects.filter(incident=incident, team=incident.team, status__in=ACTIVE).exists():
        return
    services.page_create(
        incident=incident,
        team=incident.team,
        actor=None,
        source=Source.SYSTEM,
        reason=_reason(event, incident, policy),
        system=True,
    )


#: The name it had when only ``declared`` paged.
auto_page_on_declare = auto_page


def cancel_pages_on_resolve(event: TimelineEvent) -> None:
    """Consumer of ``status_changed``: an incident that is no longer open stops paging people."""
    new = (event.data or {}).get("new") if isinstance(event.data, dict) else None
    if new and new not in INCIDENT_OPEN:
        services.pages_cancel_for_incident(incident_id=event.incident_id)


def register() -> None:
    from incidents.consumers import register

    register(
        AUTO_PAGE,
        kinds={EventKind.DECLARED, EventKind.FIELDS_CHANGED, EventKind.SEVERITY_CHANGED},
        handler=auto_page,
    )
    register(CANCEL_PAGES, kinds={EventKind.STATUS_CHANGED}, handler=cancel_pages_on_resolve)
