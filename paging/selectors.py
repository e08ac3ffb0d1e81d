"""Reads of paging: policies, a page's plan and the people each step reaches, pages for a person or an incident,
and the pages whose escalation is overdue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from core.errors import NotFound
from core.validation import to_id
from incidents import permissions as incident_permissions
from incidents.models import Incident
from notifications.recipients import team_oncall
from oncall.models import Schedule
from oncall.selectors import schedule_oncall
from paging.models import EscalationPolicy, EscalationStep, Page, PageStep
from paging.permissions import can_acknowledge
from paging.state import PlanStep
from teams.models import Team

ACK_TOKEN_MAX = 64


# --- Escalation policies ---------------------------------------------------------------------------------


def policy_queryset() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.select_related("team", "auto_page_severity").prefetch_related(
        "steps__schedule", "steps__user"
    )


def policy_get(*, pk) -> EscalationPolicy:
    policy = policy_queryset().filter(pk=to_id(pk)).first() if to_id(pk) else None
    if policy is None:
        raise NotFound("No such escalation policy.")
    return policy


def default_policy(team: Team) -> EscalationPolicy | None:
    return (
        EscalationPolicy.objects.filter(team=team, is_default=True)
        .select_related("auto_page_severity")
        .first()
    )


# --- A page's plan and whom each step reaches ------------------------------------------------------------


def page_plan(page: Page) -> tuple[list[PlanStep], int]:
    """The steps of the page and how many times they repeat after the first round (``paging.state``)."""
    default_wait = settings.ONCALL_DEFAULT_WAIT_MINUTES
    if page.user_id is not None:
        return [PlanStep(target=EscalationStep.Target.USER, user=page.user, wait_minutes=default_wait)], 0
    policy = page.policy
    if policy is not None:
        steps = [
            PlanStep(
                target=s.target,
                wait_minutes=s.wait_minutes,
                schedule=s.schedule,
                user=s.user,
                team=policy.team,
            )
            for s in policy.steps.select_related("schedule", "user").order_by("position", "id")
        ]
        if steps:
            return steps, policy.repeat
    return [PlanStep(target="oncall", team=page.team, wait_minutes=default_wait)], 0


def _team_members(team: Team) -> list:
    User = get_user_model()
    return list(User.objects.filter(is_active=True, memberships__team=team).distinct().order_by("pk"))


def _team_oncall_or_members(team: Team | None, at: datetime) -> list:
    """The team's on-call (its leads when nobody is on call), else every active member."""
    if team is None:
        return []
    return [u for u in team_oncall(team, at=at) if u.is_active] or _team_members(team)


def _schedule_oncall(schedule: Schedule, at: datetime) -> list:
    return [u for u in schedule_oncall(schedule, at) if u.is_active]


def step_people(step: PlanStep, at: datetime) -> list:
    """The people a step of a plan notifies at ``at``."""
    if step.target == EscalationStep.Target.USER:
        return [step.user] if step.user is not None and step.user.is_active else []
    if step.target == EscalationStep.Target.SCHEDULE and step.schedule is not None:
        # Nobody on the schedule now (a gap, restrictions): the team's on-call or leads rather than silence.
        return _schedule_oncall(step.schedule, at) or _team_oncall_or_members(step.schedule.team, at)
    if step.target == EscalationStep.Target.TEAM and step.team is not None:
        return _team_members(step.team)
    return _team_oncall_or_members(step.team, at)


# --- Pages ----------------------------------------------------------------------------------------------


def page_list_for_incident(*, incident: Incident) -> QuerySet[Page]:
    return (
        Page.objects.filter(incident=incident)
        .select_related("team", "user", "policy", "created_by", "acknowledged_by")
        .prefetch_related("steps")
        .order_by("-created_at", "-id")
    )


def notified_people(pages) -> dict[int, Any]:
    """{user id: user} for everyone the steps of ``pages`` notified (steps prefetched): one query for any number of
    pages, none when nobody was notified. A deleted user is simply absent."""
    ids = {pk for page in pages for step in page.steps.all() for pk in step.notified if to_id(pk) is not None}
    if not ids:
        return {}
    return {user.pk: user for user in get_user_model().objects.filter(pk__in=ids)}


def page_get(*, user, pk) -> Page:
    """A page the user may see (the incident is visible to them, or they were paged), or NotFound."""
    pk = to_id(pk)
    page = (
        Page.objects.select_related(
            "incident", "incident__severity", "team", "user", "policy", "created_by", "acknowledged_by"
        )
        .prefetch_related("steps")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if page is None:
        raise NotFound("No such page.")
    if not (incident_permissions.can_view(user, page.incident) or can_acknowledge(user, page)):
        raise NotFound("No such page.")
    return page


def page_get_by_ack_token(*, pk, token: str) -> Page | None:
    """The page an acknowledgement link names, or None when the id and secret token do not match."""
    pk = to_id(pk)
    if pk is None or not token or len(token) > ACK_TOKEN_MAX:
        return None
    return (
        Page.objects.select_related("incident", "incident__severity", "team", "user", "acknowledged_by")
        .filter(pk=pk, ack_token=token)
        .first()
    )


def pages_for_user(*, user) -> QuerySet[Page]:
    """Pages that reached the user (sent to them, or a step notified them), triggered first, newest first."""
    if connection.vendor == "postgresql":
        stepped = Q(pk__in=PageStep.objects.filter(notified__contains=[user.pk]).values("page_id"))
    else:  # SQLite has no JSON containment: read the steps' lists
        ids = [
            s.page_id for s in PageStep.objects.only("page_id", "notified") if user.pk in (s.notified or [])
        ]
        stepped = Q(pk__in=ids)
    return (
        Page.objects.filter(Q(user=user) | stepped)
        .select_related("incident", "incident__severity", "team", "user", "acknowledged_by")
        .annotate(
            open_first=Case(
                When(status=Page.Status.TRIGGERED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("open_first", "-created_at", "-id")
    )


def pages_overdue(*, grace: timedelta, limit: int = 500) -> list[tuple[int, Any]]:
    """(id, wake token) of triggered pages whose next escalation is overdue by ``grace``."""
    cutoff = timezone.now() - grace
    return list(
        Page.objects.filter(status=Page.Status.TRIGGERED, next_escalation_at__lte=cutoff)
        .order_by("next_escalation_at")
        .values_list("pk", "wake_token")[:limit]
    )


@cache
def _ringing_sql(vendor: str) -> str:
    page, step = Page._meta.db_table, PageStep._meta.db_table
    if vendor == "postgresql":
        reached = "s.notified @> %s::jsonb"
    else:  # SQLite: the JSON list's items
        reached = "EXISTS (SELECT 1 FROM json_each(s.notified) j WHERE j.value = %s)"
    return (
        f"SELECT COUNT(*) FROM {page} p WHERE p.status = %s AND (p.user_id = %s OR EXISTS "
        f"(SELECT 1 FROM {step} s WHERE s.page_id = p.id AND {reached}))"
    )


def ringing_count(*, user) -> int:
    """How many pages are ringing for ``user``: triggered (nobody acknowledged yet, not exhausted or cancelled) and
    sent to them or reaching them at one of their steps. For the navigation's badge, on every page: one query, in
    plain SQL (the ORM's version took ten times as long to build as to run), and none without a signed-in user."""
    if not getattr(user, "is_authenticated", False):
        return 0
    reached = json.dumps([user.pk]) if connection.vendor == "postgresql" else user.pk
    with connection.cursor() as cursor:
        cursor.execute(_ringing_sql(connection.vendor), [Page.Status.TRIGGERED, user.pk, reached])
        return cursor.fetchone()[0]
