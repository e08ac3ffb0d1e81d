"""Timeline consumers of paging (``incidents.consumers``): page the team when a severe incident is declared for it,
and stop an incident's pages when it is no longer open. Each runs once per event, in the consumer run's
transaction, so a page is created once however often the run is replayed."""

from __future__ import annotations

from incidents.models import EventKind, Incident, Source, TimelineEvent
from paging import selectors, services
from paging.models import Page
from paging.state import INCIDENT_OPEN

AUTO_PAGE = "paging.auto_page"
CANCEL_PAGES = "paging.cancel_pages"


def auto_page_on_declare(event: TimelineEvent) -> None:
    """Consumer of ``declared``: page the team when its default policy auto-pages at this severity or worse."""
    incident = Incident.objects.select_related("severity", "team").filter(pk=event.incident_id).first()
    if incident is None or incident.team_id is None or incident.status not in INCIDENT_OPEN:
        return
    policy = selectors.default_policy(incident.team)
    if policy is None or policy.auto_page_severity is None:
        return
    if incident.severity.rank > policy.auto_page_severity.rank:
        return
    if Page.objects.filter(incident=incident, team=incident.team).exists():
        return
    services.page_create(
        incident=incident,
        team=incident.team,
        actor=None,
        source=Source.SYSTEM,
        reason=f"Declared {incident.severity.name}: the {policy.name} policy pages automatically.",
        system=True,
    )


def cancel_pages_on_resolve(event: TimelineEvent) -> None:
    """Consumer of ``status_changed``: an incident that is no longer open stops paging people."""
    new = (event.data or {}).get("new") if isinstance(event.data, dict) else None
    if new and new not in INCIDENT_OPEN:
        services.pages_cancel_for_incident(incident_id=event.incident_id)


def register() -> None:
    from incidents.consumers import register

    register(AUTO_PAGE, kinds={EventKind.DECLARED}, handler=auto_page_on_declare)
    register(CANCEL_PAGES, kinds={EventKind.STATUS_CHANGED}, handler=cancel_pages_on_resolve)
