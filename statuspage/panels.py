"""The incident page's "Status page" panel (slot ``incident.main``): the last public update of this incident and the
form the messenger publishes the next one with (the process's wording prefilled for the next natural status).

Shown for a non-private incident with customer impact, to people who may publish to at least one page. Its queries
do not grow with the number of pages, components or updates shown.
"""

from __future__ import annotations

from django.db.models import Prefetch

from incidents import permissions as incident_permissions
from incidents.state import Status as IncidentStatus
from statuspage import selectors, wording
from statuspage.models import Component, ComponentStatus, PublicIncident, StatusPage
from teams.models import Membership
from teams.selectors import user_is_admin

#: The status a public incident usually goes to next (none yet: Identified, the process's first message).
NEXT_STATUS = {
    None: wording.IDENTIFIED,
    wording.INVESTIGATING: wording.IDENTIFIED,
    wording.IDENTIFIED: wording.MONITORING,
    wording.MONITORING: wording.RESOLVED,
    wording.RESOLVED: wording.POSTMORTEM,
    wording.POSTMORTEM: wording.POSTMORTEM,
}
INCIDENT_OVER = {IncidentStatus.RESOLVED, IncidentStatus.CLOSED}


def publishable_pages(incident, user) -> list[StatusPage]:
    """The pages ``user`` may publish this incident to (``permissions.can_publish``), in a constant number of
    queries: anyone who may act on the incident may publish to every page; otherwise the pages they manage."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    pages = list(StatusPage.objects.select_related("team").order_by("-is_default", "name"))
    if not pages:
        return []
    if incident_permissions.can_act(user, incident) or user_is_admin(user):
        return pages
    led = set(
        Membership.objects.filter(
            user=user, role__in=[Membership.Role.LEAD, Membership.Role.ADMIN]
        ).values_list("team_id", flat=True)
    )
    return [p for p in pages if p.team_id is not None and p.team_id in led]


def next_status(incident, public_incident: PublicIncident | None) -> str:
    current = public_incident.status if public_incident is not None else None
    if incident.status in INCIDENT_OVER and current not in (wording.RESOLVED, wording.POSTMORTEM):
        return wording.RESOLVED
    return NEXT_STATUS.get(current, wording.IDENTIFIED)


def publish_context(incident, user, pages: list[StatusPage] | None = None) -> dict | None:
    """What the panel (and the publish page) shows, or None when it is not for this incident or this user."""
    if incident.private or not incident.customer_impact:
        return None
    if pages is None:
        pages = publishable_pages(incident, user)
    if not pages:
        return None
    page_ids = [p.pk for p in pages]
    components = list(
        Component.objects.filter(page_id__in=page_ids).select_related("group").order_by("position", "id")
    )
    linked = list(
        PublicIncident.objects.filter(incident=incident, page_id__in=page_ids)
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("updates", queryset=selectors._updates_prefetch().queryset))
    )
    by_page: dict[int, PublicIncident] = {}
    for public in linked:
        by_page.setdefault(public.page_id, public)
    names = {c.pk: c.name for c in components}
    entries = []
    for page in pages:
        public = by_page.get(page.pk)
        last = selectors.latest_update(public) if public is not None else None
        affected = list(last.affected.all()) if last is not None else []
        status = next_status(incident, public)
        entries.append(
            {
                "page": page,
                "public": public,
                "last": last,
                "last_components": [names.get(a.component_id, "") for a in affected],
                "affected": {a.component_id: a.status for a in affected},
                "components": [c for c in components if c.page_id == page.pk],
                "next_status": status,
            }
        )
    return {
        "incident": incident,
        "sp_entries": entries,
        "sp_statuses": PublicIncident.Status.choices,
        "sp_component_statuses": ComponentStatus.choices,
        "sp_impacts": PublicIncident._meta.get_field("impact").choices,
    }


def prefill_for(entry: dict, status: str) -> str:
    names = [c.name for c in entry["components"] if c.pk in entry["affected"]]
    return wording.prefill(status, components=names, support_email=entry["page"].support_email)


def incident_panel(incident, user) -> dict | None:
    ctx = publish_context(incident, user)
    if ctx is None:
        return None
    first = ctx["sp_entries"][0]
    ctx["sp_initial"] = {
        "page": first["page"].slug,
        "status": first["next_status"],
        "body": prefill_for(first, first["next_status"]),
        "name": first["public"].name if first["public"] else incident.title,
        "impact": first["public"].impact if first["public"] else "minor",
        "components": first["affected"],
    }
    ctx["sp_first"] = first
    return ctx
