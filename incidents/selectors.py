"""Every non-trivial read of incidents. Visibility (private incidents) is applied here, once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from core.errors import NotFound, ValidationError
from core.validation import parse_id, to_id
from incidents import permissions, state
from incidents.models import ConsumerRun, Incident, Role, RoleAssignment, Severity, TimelineEvent


def current_assignments_prefetch() -> Prefetch:
    return Prefetch(
        "role_assignments",
        queryset=RoleAssignment.objects.filter(relieved_at__isnull=True).select_related("role", "user"),
        to_attr="current_assignments",
    )


def incident_visible_queryset(*, user) -> QuerySet[Incident]:
    """Incidents ``user`` may see: every list, search, count and export starts here."""
    return Incident.objects.filter(permissions.visible_q(user))


def incident_list(*, user, filters: dict[str, Any] | None = None) -> QuerySet[Incident]:
    """Visible incidents, filtered, with everything a list row shows loaded in a constant number of queries.

    Filters: ``status`` (a status or ``open``), ``severity`` (slug), ``team`` (slug), ``q`` (text in the title or
    summary), ``declared_after`` / ``declared_before`` (dates or datetimes), ``private``, ``customer_impact``.
    Multiple values may be given as lists.
    """
    qs = (
        incident_visible_queryset(user=user)
        .select_related("severity", "team", "declared_by")
        .prefetch_related(current_assignments_prefetch(), "services")
    )
    return apply_filters(qs, filters or {})


def incident_board_list(*, user, filters: dict[str, Any] | None = None) -> QuerySet[Incident]:
    """``incident_list`` for the web's rows (the dashboard and the incident list): the severity, the team and the
    current roles, without the services and the declarer that the rows do not show (one query and a join less)."""
    qs = (
        incident_visible_queryset(user=user)
        .select_related("severity", "team")
        .prefetch_related(current_assignments_prefetch())
    )
    return apply_filters(qs, filters or {})


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple | set):
        return [v for v in value if v not in (None, "")]
    return [value]


def _as_datetime(value, *, end: bool = False) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time.max if end else time.min)
    else:
        return None
    if timezone.is_naive(dt):
        dt = timezone.make_aware(dt, UTC)
    return dt


#: "INC-12", "inc-12", "INC12", " INC-12 ": an incident's reference, as people type it.
REFERENCE_RE = re.compile(r"\s*INC-?(\d+)\s*", re.IGNORECASE)


def parse_reference(text: str) -> int | None:
    """The incident id in a reference such as "INC-12", or None when ``text`` is not one (or names no possible id)."""
    match = REFERENCE_RE.fullmatch(text or "")
    return to_id(match.group(1)) if match else None


def apply_filters(qs: QuerySet[Incident], filters: dict[str, Any]) -> QuerySet[Incident]:
    statuses = _as_list(filters.get("status"))
    if statuses:
        expanded: set[str] = set()
        for s in statuses:
            if s == "open":
                expanded |= {x.value for x in state.OPEN_STATUSES}
            else:
                expanded.add(s)
        qs = qs.filter(status__in=expanded)
    severities = _as_list(filters.get("severity"))
    if severities:
        qs = qs.filter(severity__slug__in=severities)
    teams = _as_list(filters.get("team"))
    if teams:
        qs = qs.filter(team__slug__in=teams)
    services = _as_list(filters.get("service"))
    if services:
        qs = qs.filter(
            pk__in=Incident.services.through.objects.filter(service__slug__in=services).values("incident_id")
        )
    text = (filters.get("q") or "").strip()
    if text:
        # isdecimal, not isdigit: it is what int() reads ("²" is a digit that int() refuses).
        reference = parse_reference(text)
        if reference is not None:
            qs = qs.filter(pk=reference)
        else:
            qs = qs.filter(Q(title__icontains=text) | Q(summary__icontains=text))
    after = _as_datetime(filters.get("declared_after"))
    if after:
        qs = qs.filter(declared_at__gte=after)
    before = _as_datetime(filters.get("declared_before"), end=True)
    if before:
        qs = qs.filter(declared_at__lte=before)
    for flag in ("private", "customer_impact"):
        value = filters.get(flag)
        if value is not None and value != "":
            qs = qs.filter(**{flag: value in (True, "true", "1", "yes", "on")})
    lead = filters.get("lead")
    if lead:
        qs = qs.filter(
            pk__in=RoleAssignment.objects.filter(
                role__slug="lead", relieved_at__isnull=True, user__username=lead
            ).values("incident_id")
        )
    return qs


def incident_get(*, user, pk: int | str) -> Incident:
    """One incident with its roles, or ``NotFound`` (also for a private incident ``user`` may not see)."""
    pk = parse_id(pk, what="incident")
    incident = (
        Incident.objects.select_related("severity", "team", "declared_by")
        .prefetch_related(current_assignments_prefetch(), "services")
        .filter(pk=pk)
        .first()
    )
    if incident is None or not permissions.can_view(user, incident):
        raise NotFound("No such incident.")
    return incident


def timeline_list(*, incident: Incident) -> QuerySet[TimelineEvent]:
    return (
        TimelineEvent.objects.filter(incident=incident).select_related("actor").order_by("occurred_at", "id")
    )


def role_history(*, incident: Incident) -> QuerySet[RoleAssignment]:
    return (
        RoleAssignment.objects.filter(incident=incident)
        .select_related("role", "user", "assigned_by", "relieved_by")
        .order_by("role__order", "assigned_at")
    )


def current_roles(incident: Incident) -> dict[str, RoleAssignment]:
    """{role slug: current assignment}, from the prefetch when there is one."""
    assignments = getattr(incident, "current_assignments", None)
    if assignments is None:
        assignments = list(
            incident.role_assignments.filter(relieved_at__isnull=True).select_related("role", "user")
        )
    return {a.role.slug: a for a in assignments}


def incident_fresh_declare_prime(incident: Incident, *, services: list, lead) -> Incident:
    """Give an incident ``incident_declare`` just returned the relations its answer reads, when they are known.

    Declared without services (or without a lead), it has none: nothing else ran in this process since the commit
    when consumers run in a worker (not ``CELERY_TASK_ALWAYS_EAGER``), so the 201 answer needs no query to find out.
    With services or a lead, or with in-process consumers (which may change the incident), it is left to load them.
    """
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return incident
    if not services:
        cache = incident.__dict__.setdefault("_prefetched_objects_cache", {})
        cache.setdefault("services", incident.services.none())
    if lead is None and not hasattr(incident, "current_assignments"):
        incident.current_assignments = []
    return incident


def incident_next_actions(incident: Incident) -> list[dict]:
    """What the responders should do next (for the incident page, and later Slack): a lead, a messenger when
    customers are affected, closing a resolved incident. Each hint has ``key``, ``title``, ``text`` and the
    ``role`` to assign or the status ``to`` move to."""
    current = current_roles(incident)
    hints = []
    if incident.is_open:
        if "lead" not in current:
            hints.append(
                {
                    "key": "lead",
                    "title": "Assign an incident lead",
                    "text": "Someone needs to drive this incident: decide, delegate and keep the status current.",
                    "role": "lead",
                }
            )
        if incident.customer_impact and "messenger" not in current:
            hints.append(
                {
                    "key": "messenger",
                    "title": "Assign a messenger",
                    "text": "Customers are affected: someone should own communication with them.",
                    "role": "messenger",
                }
            )
    elif incident.status == state.Status.RESOLVED:
        hints.append(
            {
                "key": "close",
                "title": "Close the incident",
                "text": "It is resolved. Close it once follow-ups are captured, or re-open it if it comes back.",
                "to": state.Status.CLOSED.value,
            }
        )
    return hints


def incident_lead(incident: Incident):
    """The current incident lead (a user), or None; from the prefetched roles when there are some."""
    assignment = current_roles(incident).get("lead")
    return assignment.user if assignment else None


def severity_list() -> QuerySet[Severity]:
    return Severity.objects.order_by("rank")


def severity_get(*, value: Severity | str | int, field: str = "severity") -> Severity:
    """The severity ``value`` names (a severity, its slug or its id), or a ``ValidationError`` keyed by ``field``
    that lists the slugs there are."""
    if isinstance(value, Severity):
        return value
    severity = None
    if isinstance(value, str) and value:
        severity = Severity.objects.filter(slug=value).first()
    elif (pk := to_id(value)) is not None:
        severity = Severity.objects.filter(pk=pk).first()
    if severity is None:
        choices = ", ".join(severity_list().values_list("slug", flat=True))
        raise ValidationError(f"Unknown severity '{value}'. Use one of: {choices}.", field=field)
    return severity


def role_list(*, active_only: bool = True) -> QuerySet[Role]:
    qs = Role.objects.order_by("order", "name")
    return qs.filter(active=True) if active_only else qs


def open_incident_counts(*, user) -> dict[str, Any]:
    """Counts of open visible incidents by severity and by team, for the dashboard."""
    qs = incident_visible_queryset(user=user).open()
    by_severity = {
        row["severity__slug"]: row["n"]
        for row in qs.values("severity__slug").annotate(n=Count("id")).order_by()
    }
    by_team = {
        (row["team__slug"] or ""): row["n"]
        for row in qs.values("team__slug").annotate(n=Count("id")).order_by()
    }
    return {"by_severity": by_severity, "by_team": by_team, "total": sum(by_severity.values())}


def open_incident_counts_of(incidents: Iterable[Incident]) -> dict[str, Any]:
    """``open_incident_counts`` of incidents already loaded (with their severity and team), counted in Python: the
    dashboard has the rows in hand, so counting them again in SQL would be two more queries for the same answer."""
    by_severity: dict[str, int] = {}
    by_team: dict[str, int] = {}
    for incident in incidents:
        if incident.status not in _OPEN_VALUES:
            continue
        slug = incident.severity.slug
        by_severity[slug] = by_severity.get(slug, 0) + 1
        team = incident.team.slug if incident.team_id is not None else ""
        by_team[team] = by_team.get(team, 0) + 1
    return {"by_severity": by_severity, "by_team": by_team, "total": sum(by_severity.values())}


_OPEN_VALUES = frozenset(s.value for s in state.OPEN_STATUSES)


def consumer_run_ids_due(*, event_id: int) -> list[int]:
    """The pending consumer runs of one event whose (next) attempt is due."""
    return list(
        ConsumerRun.objects.filter(
            event_id=event_id, status=ConsumerRun.Status.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("id", flat=True)
    )


def consumer_event_ids_due(*, grace: timedelta, limit: int = 500) -> list[int]:
    """Events the sweeper must dispatch again: runs still pending past ``grace`` after they were written (a lost
    message, a killed worker), and runs that failed before and whose retry is due, whatever their age."""
    now = timezone.now()
    due = ConsumerRun.objects.filter(status=ConsumerRun.Status.PENDING, next_attempt_at__lte=now)
    stale = due.filter(created_at__lte=now - grace).order_by("event_id").values_list("event_id", flat=True)
    retries = due.filter(attempts__gt=0).order_by("event_id").values_list("event_id", flat=True)
    return list(dict.fromkeys([*stale.distinct()[:limit], *retries.distinct()[:limit]]))
