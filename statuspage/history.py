"""A page's history for the public HTML page: 90 days of uptime bars per component and the past incidents.

One query (with its two prefetches) reads every public incident the window can show; the bars are computed here
from their updates, in Python, so the cost of a cold render does not grow with the number of components or days.

A day of a component is coloured by the worst status the public incidents gave it that day: an update's affected
components hold the status it gave them from the update's ``display_at`` until the incident's next update (or its
resolution, or now while it is open). Private incidents are never read (``selectors.public_incident_queryset``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q

from statuspage import selectors, state
from statuspage.models import ComponentStatus, PublicIncident, StatusPage

HISTORY_DAYS = 90
PAST_DAYS = 14


@dataclass(frozen=True)
class Day:
    day: date
    status: str  # a ComponentStatus; operational when no public incident affected the component that day

    @property
    def label(self) -> str:
        said = (
            ComponentStatus(self.status).label
            if self.status != ComponentStatus.OPERATIONAL
            else "No incidents"
        )
        return f"{self.day.day} {self.day:%b %Y}: {said}"


def history_incidents(*, page: StatusPage, now: datetime) -> list[PublicIncident]:
    """Every public incident of ``page`` open at some time in the last ``HISTORY_DAYS`` days, newest first."""
    since = now - timedelta(days=HISTORY_DAYS)
    return list(
        selectors.public_incident_queryset()
        .filter(page=page)
        .filter(Q(created_at__gte=since) | Q(resolved_at__gte=since) | Q(status__in=state.OPEN_INCIDENT))
        .prefetch_related(selectors._updates_prefetch())
        .order_by("-created_at", "-id")
    )


def _utc_day(value: datetime) -> date:
    return value.astimezone(UTC).date()


def worst_by_day(incidents: list[PublicIncident], *, now: datetime) -> dict[int, dict[date, str]]:
    """component id -> UTC day -> the worst status a public incident gave it that day (operational left out)."""
    worst: dict[int, dict[date, str]] = {}
    first = _utc_day(now) - timedelta(days=HISTORY_DAYS - 1)
    last = _utc_day(now)
    for incident in incidents:
        updates = sorted(incident.updates.all(), key=lambda u: (u.display_at, u.pk))
        if state.is_open_incident(incident.status):
            ends = now
        else:
            ends = incident.resolved_at or (updates[-1].display_at if updates else incident.created_at)
        for update, following in zip(updates, [*updates[1:], None], strict=True):
            start = update.display_at
            end = max(following.display_at if following else ends, start)
            day, stop = max(_utc_day(start), first), min(_utc_day(end), last)
            for affected in update.affected.all():
                if affected.status == ComponentStatus.OPERATIONAL:
                    continue
                days = worst.setdefault(affected.component_id, {})
                d = day
                while d <= stop:
                    days[d] = state.worst_component_status(
                        (days.get(d, ComponentStatus.OPERATIONAL), affected.status)
                    )
                    d += timedelta(days=1)
    return worst


def bars(worst: dict[date, str], *, now: datetime) -> list[Day]:
    """The ``HISTORY_DAYS`` days ending today (UTC), oldest first."""
    last = _utc_day(now)
    return [
        Day(d, worst.get(d, ComponentStatus.OPERATIONAL))
        for d in (last - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1))
    ]


def past_days(incidents: list[PublicIncident], *, now: datetime) -> list[tuple[date, list[PublicIncident]]]:
    """The last ``PAST_DAYS`` UTC days, newest first, each with the closed incidents that began that day."""
    by_day: dict[date, list[PublicIncident]] = {}
    for incident in incidents:
        if not state.is_open_incident(incident.status):
            by_day.setdefault(_utc_day(incident.created_at), []).append(incident)
    last = _utc_day(now)
    return [(d, by_day.get(d, [])) for d in (last - timedelta(days=n) for n in range(PAST_DAYS))]
