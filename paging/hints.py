"""Paging's hint in the incident header (``incidents.hints``): a severe incident that nobody is being paged for.

The warning shows while the incident is open, severe enough to page and nobody is on it: no page is ringing
(triggered) and none was acknowledged. "Severe enough" is the automatic page's rule (``paging.state.severe_enough``)
against the laxer of two thresholds: ``settings.PAGING_WARN_SEVERITY`` (critical unless configured), for every
incident, teamless ones included; and the incident team's default policy's ``auto_page_severity``. So a critical
incident declared without a team, or for a team whose policy does not page, says so, and the warning never
disagrees with the automatic page about what is severe.

It offers a one-click "Page the on-call of <team>" for the incident's team and the teams of its services, or a team
chooser when it has none; both post to ``paging:page_create`` with the incident's version, so the page goes
through ``paging.services.page_create`` (the ``paged`` event on the timeline) and a click made on a state where
that team had been paged since is refused.

Right after a declaration (or the team chosen, the severity raised) that the team's policy pages for, the automatic
page is on its way (``paging.consumers.auto_page`` has a run pending, recorded within the consumers' grace): the
header says so instead, with no button, rather than "nobody has been paged" for the second before the page.

Cost: one query (the page states and both thresholds together, in plain SQL), one more while the automatic page may
be on its way (nobody on it, the team's policy pages this severity), and one more for the teams offered when they are
not just the incident's own (its services' teams, or the chooser); none for an incident that is not open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from incidents.hints import Hint, HintAction, HintSelect, can_act
from incidents.models import ConsumerRun, EventKind, Severity
from paging.consumers import AUTO_PAGE
from paging.models import EscalationPolicy, Page
from paging.state import ACTIVE, INCIDENT_OPEN, severe_enough
from teams.models import Team

CODE = "paging.unpaged"
#: One-click buttons at most; more teams than this get the chooser.
BUTTONS_MAX = 3


@dataclass(frozen=True)
class _Facts:
    on_it: bool  # a page is ringing or was acknowledged
    unanswered: bool  # a page went through every step with nobody acknowledging
    policy_rank: int | None  # the team's default policy pages automatically at this rank or worse
    threshold: int | None  # the incident should page at this rank or worse
    auto_paging: bool  # the automatic page is on its way: its consumer has an event to answer, just recorded


def _asks_auto_page() -> Q:
    """The events ``paging.consumers.auto_page`` answers with a page (``_asks`` there), as a filter on runs."""
    return (
        Q(event__kind=EventKind.DECLARED)
        | Q(event__kind=EventKind.SEVERITY_CHANGED, event__data__escalated=True)
        | Q(event__kind=EventKind.FIELDS_CHANGED, event__data__changes__has_key="team")
    )


@cache
def _facts_sql() -> str:
    """The page states and both thresholds in one statement. Plain SQL, the same on PostgreSQL and SQLite: it runs
    on every render of the header, and building it with the ORM (four subqueries) cost ten times the query."""
    page, policy, severity = (m._meta.db_table for m in (Page, EscalationPolicy, Severity))
    return (
        f"SELECT EXISTS (SELECT 1 FROM {page} WHERE incident_id = %s AND status IN (%s, %s)), "
        f"EXISTS (SELECT 1 FROM {page} WHERE incident_id = %s AND status = %s), "
        f"(SELECT s.rank FROM {policy} p INNER JOIN {severity} s ON s.id = p.auto_page_severity_id "
        f"WHERE p.team_id = %s AND p.is_default = %s), "
        f"(SELECT rank FROM {severity} WHERE slug = %s)"
    )


def _auto_page_pending(incident) -> bool:
    """Whether ``auto_page`` has an event of the incident to answer with a page, recorded within the consumers'
    grace (a worker that is down must not hide the warning behind "on its way")."""
    recent = timezone.now() - timedelta(seconds=settings.TIMELINE_CONSUMER_GRACE_SECONDS)
    return ConsumerRun.objects.filter(
        _asks_auto_page(),
        event__incident_id=incident.pk,
        consumer=AUTO_PAGE,
        status=ConsumerRun.Status.PENDING,
        created_at__gte=recent,
    ).exists()


def _facts(incident) -> _Facts:
    params = [incident.pk, *sorted(ACTIVE), incident.pk, Page.Status.EXHAUSTED]
    params += [incident.team_id, True, settings.PAGING_WARN_SEVERITY]
    with connection.cursor() as cursor:
        cursor.execute(_facts_sql(), params)
        on_it, unanswered, policy, warn = cursor.fetchone()
    known = [r for r in (policy, warn) if r is not None]
    threshold = max(known) if known else None
    rank = incident.severity.rank
    return _Facts(
        on_it=bool(on_it),
        unanswered=bool(unanswered),
        policy_rank=policy,
        threshold=threshold,
        # Asked only when it matters (nobody on it, the team's policy pages this severity): a second query, rare.
        auto_paging=not on_it and severe_enough(rank, policy) and _auto_page_pending(incident),
    )


def _candidate_team_ids(incident) -> list[int]:
    """The incident's team, then the teams of its services (prefetched by ``incident_get``)."""
    ids = [incident.team_id] if incident.team_id else []
    for service in incident.services.all():
        if service.team_id not in ids:
            ids.append(service.team_id)
    return ids


def _actions(incident) -> tuple[HintAction, ...]:
    url = reverse("paging:page_create", args=[incident.pk])
    reason = f"{incident.severity.name} incident with nobody paged."
    ids = _candidate_team_ids(incident)
    if ids and len(ids) <= BUTTONS_MAX:
        if ids == [incident.team_id]:  # the usual case: its own team, loaded with it
            by_id = {incident.team_id: incident.team}
        else:
            by_id = {t.pk: t for t in Team.objects.filter(pk__in=ids).only("pk", "slug", "name")}
        offered = [by_id[pk] for pk in ids if pk in by_id]
        return tuple(
            HintAction(
                label=f"Page the on-call of {team.name}",
                url=url,
                method="post",
                fields=(("team", team.slug), ("reason", reason)),
                primary=n == 0,
                testid=f"hint-page-{team.slug}",
            )
            for n, team in enumerate(offered)
        )
    teams = Team.objects.order_by("name").values_list("slug", "name")
    if ids:  # many teams involved: theirs first
        teams = teams.filter(pk__in=ids)
    return (
        HintAction(
            label="Page",
            url=url,
            method="post",
            fields=(("reason", reason),),
            select=HintSelect(
                name="team",
                label="Team to page",
                choices=tuple(teams),
                placeholder="Choose the team to page…",
            ),
            testid="hint-page-team",
        ),
    )


def unpaged_hints(incident, user) -> list[Hint]:
    if incident.status not in INCIDENT_OPEN:
        return []
    facts = _facts(incident)
    if facts.on_it or not severe_enough(incident.severity.rank, facts.threshold):
        return []
    if facts.auto_paging:
        # Just declared (or its team chosen, its severity raised): the automatic page is a moment away. Saying
        # "nobody has been paged" now would be true for a second and wrong after.
        return [
            Hint(
                level="info",
                code=CODE,
                title=f"Paging the on-call of {incident.team.name}",
                text=f"The {incident.team.name} team's policy pages {incident.severity.name.lower()} incidents "
                "automatically; the page is on its way.",
            )
        ]
    if facts.unanswered:
        title = "Nobody answered the page"
        situation = "Every step of the page went unanswered and nobody else is being paged."
    else:
        title = "Nobody has been paged"
        situation = (
            f"A {incident.severity.name.lower()} incident, and nobody is being paged or has acknowledged."
        )
    acts = can_act(incident, user)
    if not acts:
        ask = "Ask someone on the incident to page the on-call."
    elif _candidate_team_ids(incident):
        ask = "Page the on-call now."
    else:
        ask = "It has no team: choose the team whose on-call should come."
    return [
        Hint(
            level="danger",
            code=CODE,
            title=title,
            text=f"{situation} {ask}",
            actions=_actions(incident) if acts else (),
        )
    ]
