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

Cost: one query (the page states and both thresholds together) and one for the teams offered, none for an
incident that is not open.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse

from incidents.hints import Hint, HintAction, HintSelect, can_act
from incidents.models import Incident, Severity
from paging.models import EscalationPolicy, Page
from paging.state import ACTIVE, INCIDENT_OPEN, severe_enough
from teams.models import Team

CODE = "paging.unpaged"
#: One-click buttons at most; more teams than this get the chooser.
BUTTONS_MAX = 3


def _facts(incident) -> tuple[bool, bool, int | None]:
    """(someone is on it, a page went unanswered, the rank at or above which the incident should page)."""
    pages = Page.objects.filter(incident=OuterRef("pk"))
    policy_rank = EscalationPolicy.objects.filter(team=OuterRef("team"), is_default=True).values(
        "auto_page_severity__rank"
    )[:1]
    warn_rank = Severity.objects.filter(slug=settings.PAGING_WARN_SEVERITY).values("rank")[:1]
    row = (
        Incident.objects.filter(pk=incident.pk)
        .annotate(
            on_it=Exists(pages.filter(status__in=ACTIVE)),
            unanswered=Exists(pages.filter(status=Page.Status.EXHAUSTED)),
            policy_rank=Subquery(policy_rank),
            warn_rank=Subquery(warn_rank),
        )
        .values_list("on_it", "unanswered", "policy_rank", "warn_rank")
        .first()
    )
    if row is None:
        return True, False, None
    on_it, unanswered, *ranks = row
    known = [r for r in ranks if r is not None]
    return on_it, unanswered, max(known) if known else None


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
    on_it, unanswered, threshold = _facts(incident)
    if on_it or not severe_enough(incident.severity.rank, threshold):
        return []
    if unanswered:
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
