"""Reads of status pages: the pages, and a page's *snapshot* (everything its API shows, in a fixed number of
queries, with each component's derived status).

Public incidents linked to a private incident are left out of every read here (the services refuse the link; this
covers an incident made private afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet

from statuspage import state
from statuspage.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    MaintenanceUpdate,
    PublicIncident,
    PublicUpdate,
    ScheduledMaintenance,
    StatusPage,
)

#: How many incidents and maintenances ``incidents.json`` and ``scheduled-maintenances.json`` list (Statuspage: 50).
RECENT_LIMIT = 50

PUBLISHABLE_Q = Q(incident__isnull=True) | Q(incident__private=False)


def page_list() -> QuerySet[StatusPage]:
    return StatusPage.objects.select_related("team")


def page_get(*, slug: str) -> StatusPage | None:
    return StatusPage.objects.filter(slug=slug).first()


def page_default() -> StatusPage | None:
    return StatusPage.objects.filter(is_default=True).first()


def shortlink_page(*, shortlink: str) -> StatusPage | None:
    """The page of the public incident or maintenance with this shortlink (never of a private incident's)."""
    found = public_incident_queryset().filter(shortlink=shortlink).select_related("page").first()
    found = found or ScheduledMaintenance.objects.filter(shortlink=shortlink).select_related("page").first()
    return found.page if found else None


def public_incident_queryset() -> QuerySet[PublicIncident]:
    """Public incidents that may be shown: never one linked to a private incident."""
    return PublicIncident.objects.filter(PUBLISHABLE_Q)


def _updates_prefetch() -> Prefetch:
    return Prefetch(
        "updates",
        queryset=PublicUpdate.objects.order_by("-display_at", "-id").prefetch_related(
            Prefetch(
                "affected", queryset=AffectedComponent.objects.only("update_id", "component_id", "status")
            )
        ),
    )


def latest_update(incident: PublicIncident) -> PublicUpdate | None:
    """The update written last (by creation, not by the time it displays), from the prefetched updates."""
    updates = list(incident.updates.all())
    return max(updates, key=lambda u: (u.created_at, u.pk), default=None)


@dataclass
class Snapshot:
    page: StatusPage
    groups: list[ComponentGroup]
    components: list[Component]
    status_of: dict[int, str]
    unresolved: list[PublicIncident]
    recent: list[PublicIncident]
    maintenances: list[ScheduledMaintenance]
    indicator: str = "none"
    description: str = ""
    group_members: dict[int, list[Component]] = field(default_factory=dict)


def page_snapshot(*, page: StatusPage) -> Snapshot:
    groups = list(ComponentGroup.objects.filter(page=page).order_by("position", "id"))
    components = list(Component.objects.filter(page=page).select_related("group").order_by("position", "id"))
    incidents = public_incident_queryset().filter(page=page).prefetch_related(_updates_prefetch())
    unresolved = list(incidents.filter(status__in=state.OPEN_INCIDENT).order_by("-created_at", "-id"))
    recent = list(incidents.order_by("-created_at", "-id")[:RECENT_LIMIT])
    maintenances = list(
        ScheduledMaintenance.objects.filter(page=page)
        .prefetch_related(
            Prefetch("updates", queryset=MaintenanceUpdate.objects.order_by("-display_at", "-id")),
            Prefetch("components", queryset=Component.objects.only("id")),
        )
        .order_by("-scheduled_for", "-id")[:RECENT_LIMIT]
    )
    # The statuses the open incidents' latest updates gave each component.
    said: dict[int, list[str]] = {}
    for incident in unresolved:
        update = latest_update(incident)
        for affected in update.affected.all() if update else ():
            said.setdefault(affected.component_id, []).append(affected.status)
    in_maintenance = {
        c.pk for m in maintenances if m.status in state.ACTIVE_MAINTENANCE for c in m.components.all()
    }
    status_of = {
        c.pk: state.component_status(
            manual=c.manual_status,
            override=c.override,
            incident_statuses=said.get(c.pk, ()),
            in_maintenance=c.pk in in_maintenance,
        )
        for c in components
    }
    indicator, description = state.page_indicator(
        component_statuses=status_of.values(), incident_impacts=[i.impact for i in unresolved]
    )
    members: dict[int, list[Component]] = {}
    for c in components:
        if c.group_id:
            members.setdefault(c.group_id, []).append(c)
    return Snapshot(
        page=page,
        groups=groups,
        components=components,
        status_of=status_of,
        unresolved=unresolved,
        recent=recent,
        maintenances=maintenances,
        indicator=indicator,
        description=description,
        group_members=members,
    )


def component_status_get(*, component: Component) -> str:
    """The status ``component`` shows now (one snapshot of its page)."""
    return page_snapshot(page=component.page).status_of[component.pk]
