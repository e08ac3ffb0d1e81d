"""What a status page shows, without the database: a component's status, the page's indicator, and which status
changes public incidents and maintenances may make.

A component shows its **manual status**, unless open public incidents affect it: then the worst of the statuses
their latest updates gave it (and of the manual status) wins. A component in a maintenance that is in progress or
being verified is at least ``under_maintenance``. A human **override** makes the manual status win over everything.

The page's ``status.indicator`` is computed as Statuspage computes it: the worst of the components' statuses
(degraded performance is ``minor``, a partial outage ``major``, a major outage ``critical``) and of the impacts of
the unresolved incidents. Maintenance alone leaves the indicator at ``none`` and says so in the description.
"""

from __future__ import annotations

from collections.abc import Iterable

from statuspage.models import ComponentStatus, Impact, PublicIncident, ScheduledMaintenance

#: Component statuses from best to worst: the later one wins.
COMPONENT_ORDER: tuple[str, ...] = (
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
)
COMPONENT_RANK = {status: rank for rank, status in enumerate(COMPONENT_ORDER)}

IMPACT_ORDER: tuple[str, ...] = (Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL)
IMPACT_RANK = {impact: rank for rank, impact in enumerate(IMPACT_ORDER)}

#: The indicator a component status puts on the page.
COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
INDICATOR_DESCRIPTION = {
    Impact.NONE: "All Systems Operational",
    Impact.MINOR: "Minor Service Outage",
    Impact.MAJOR: "Partial System Outage",
    Impact.CRITICAL: "Major System Outage",
}
MAINTENANCE_DESCRIPTION = "Service Under Maintenance"

Status = PublicIncident.Status
OPEN_INCIDENT = frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING})
CLOSED_INCIDENT = frozenset({Status.RESOLVED, Status.POSTMORTEM})

MStatus = ScheduledMaintenance.Status
ACTIVE_MAINTENANCE = frozenset({MStatus.IN_PROGRESS, MStatus.VERIFYING})
UPCOMING_MAINTENANCE = frozenset({MStatus.SCHEDULED})

#: Public incident status -> the statuses its next update may have. An open incident may go anywhere but the
#: postmortem (which follows a resolution); a resolved one may reopen; a postmortem may only be amended.
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    **{s: frozenset(OPEN_INCIDENT | {Status.RESOLVED}) for s in OPEN_INCIDENT},
    Status.RESOLVED: frozenset(OPEN_INCIDENT | CLOSED_INCIDENT),
    Status.POSTMORTEM: frozenset({Status.POSTMORTEM}),
}
#: Maintenance status -> the statuses its next update may have (``completed`` is final).
MAINTENANCE_TRANSITIONS: dict[str, frozenset[str]] = {
    MStatus.SCHEDULED: frozenset({MStatus.SCHEDULED, MStatus.IN_PROGRESS, MStatus.COMPLETED}),
    MStatus.IN_PROGRESS: frozenset({MStatus.IN_PROGRESS, MStatus.VERIFYING, MStatus.COMPLETED}),
    MStatus.VERIFYING: frozenset({MStatus.VERIFYING, MStatus.IN_PROGRESS, MStatus.COMPLETED}),
    MStatus.COMPLETED: frozenset(),
}


def worst_component_status(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (``operational`` for none)."""
    return max(statuses, key=COMPONENT_RANK.__getitem__, default=ComponentStatus.OPERATIONAL)


def component_status(
    *,
    manual: str,
    override: bool = False,
    incident_statuses: Iterable[str] = (),
    in_maintenance: bool = False,
) -> str:
    """The status a component shows.

    ``incident_statuses``: the status each open public incident affecting the component gave it in its latest
    update. ``in_maintenance``: a maintenance affecting it is in progress or being verified.
    """
    if override:
        return manual
    statuses = [manual, *incident_statuses]
    if in_maintenance:
        statuses.append(ComponentStatus.UNDER_MAINTENANCE)
    return worst_component_status(statuses)


def page_indicator(
    *, component_statuses: Iterable[str] = (), incident_impacts: Iterable[str] = ()
) -> tuple[str, str]:
    """``(indicator, description)`` of the page: ``none`` / ``minor`` / ``major`` / ``critical``, from the
    components' statuses and the impacts of the unresolved incidents, as Statuspage computes it."""
    statuses = list(component_statuses)
    levels = [COMPONENT_INDICATOR[s] for s in statuses] + list(incident_impacts)
    indicator = max(levels, key=IMPACT_RANK.__getitem__, default=Impact.NONE)
    if indicator == Impact.NONE and ComponentStatus.UNDER_MAINTENANCE in statuses:
        return str(Impact.NONE), MAINTENANCE_DESCRIPTION
    return str(indicator), INDICATOR_DESCRIPTION[indicator]


def incident_may_become(current: str, new: str) -> bool:
    return new in INCIDENT_TRANSITIONS.get(current, frozenset())


def maintenance_may_become(current: str, new: str) -> bool:
    return new in MAINTENANCE_TRANSITIONS.get(current, frozenset())


def is_open_incident(status: str) -> bool:
    return status in OPEN_INCIDENT
