"""Every write of paging: pages (create, the idempotent escalation wake-up, acknowledge, cancel) and escalation
policies. Reads are in ``paging.selectors``, who may do what in ``paging.permissions``, the lifecycle in
``paging.state`` and the messages a step sends in ``paging.messages``.

How a page runs
---------------
The first step of the page's plan (``paging.state``) is notified in the transaction that creates the page;
``next_escalation_at`` says when the next one is due. The next step is woken by a Celery countdown carrying the
page's ``wake_token`` (``paging.tasks.page_wake``); a beat sweeper (``paging.tasks.sweep_pages``) wakes pages whose
time passed by a grace, which catches a wake-up lost to a killed worker or a Redis restart. ``page_step_run`` locks
the incident row then the page row (the house's lock order, ``core.db``), refuses a stale token, a page that is not
triggered or not yet due, inserts the ``PageStep`` (unique per page, round and step), writes the outbox messages and
the ``paged`` timeline event, and rotates the token, all in one transaction: a step is never notified twice, and a
lost wake-up only delays it.

Acknowledging: the people paged, anyone who may act on the incident, or anyone signed in holding the page's
``ack_token`` (the link in the message). The link lands on a confirmation page that needs a sign-in and a POST, so
mail scanners that follow links do not acknowledge pages.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import atomic
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.templatetags.muster import display_name
from core.validation import reject_nul
from incidents import permissions as incident_permissions
from incidents import versions
from incidents.models import Incident, Source
from incidents.selectors import severity_get
from incidents.services import incident_add_participants, incident_lock, timeline_record
from notifications.services import messages_enqueue
from oncall.models import Schedule
from paging import kinds, messages, selectors
from paging.models import EscalationPolicy, EscalationStep, Page, PageStep
from paging.permissions import can_acknowledge, ensure_can_manage_policies
from paging.state import INCIDENT_OPEN, PlanStep, WakeOutcome, is_due, minutes, next_position, step_label
from teams.models import Membership, Team

logger = logging.getLogger(__name__)

REASON_MAX = 500
NAME_MAX = 100
WAIT_MIN, WAIT_MAX = 1, 1440
REPEAT_MAX = 10
STEPS_MAX = 20


# --- Running steps -------------------------------------------------------------------------------------


def _schedule_wake(page: Page) -> None:
    """After commit, queue the wake-up of the page's next step (a broker outage is left to the sweeper)."""
    if page.next_escalation_at is None:
        return
    page_id, token, due = page.pk, str(page.wake_token), page.next_escalation_at

    def queue() -> None:
        from paging import tasks

        if tasks.page_wake.app.conf.task_always_eager:
            return  # in-process tasks cannot wait: without a worker, escalation waits for one (and its sweeper)
        countdown = max(0.0, (due - timezone.now()).total_seconds())
        countdown = min(countdown, float(settings.ONCALL_COUNTDOWN_MAX_SECONDS))
        try:
            tasks.page_wake.apply_async((page_id, token), countdown=countdown)
        except Exception:
            logger.warning(
                "Could not queue the wake-up of page %s; the sweeper will.", page_id, exc_info=True
            )

    transaction.on_commit(queue)


def _notify_step(
    *, page: Page, incident: Incident, plan: list[PlanStep], actor=None, source: str = Source.SYSTEM
) -> PageStep | None:
    """Notify ``page.round`` / ``page.step`` (the caller set them, holding the page's lock). None if already done."""
    now = timezone.now()
    step = plan[page.step]
    people = selectors.step_people(step, now)
    try:
        with transaction.atomic():
            record = PageStep.objects.create(
                page=page, round=page.round, step=page.step, notified=[p.pk for p in people], notified_at=now
            )
    except IntegrityError:
        return None
    page.next_escalation_at = now + minutes(step.wait_minutes)
    page.wake_token = uuid.uuid4()
    page.save(update_fields=["round", "step", "next_escalation_at", "wake_token"])
    # Paged for a private incident makes a participant: the message names the incident, so the incident, the page
    # and "My pages" must not be hidden from the one person asked to fix it (README, Security model).
    incident_add_participants(incident=incident, users=people, reason="paged", actor=actor, source=source)
    names = ", ".join(p.get_full_name() or p.get_username() for p in people) or "nobody (no one to reach)"
    label = step_label(round=page.round, step=page.step, steps=len(plan))
    event = timeline_record(
        incident=incident,
        kind=kinds.PAGED,
        actor=actor,
        source=source,
        occurred_at=now,
        text=f"Paged {names} ({step.describe()}, {label}).",
        data={
            "page": page.pk,
            "round": page.round,
            "step": page.step,
            "steps": len(plan),
            "target": step.target,
            "team": page.team.slug if page.team_id else None,
            "users": [p.get_username() for p in people],
            "schedule": step.schedule.slug if step.schedule is not None else None,
            "next_escalation_at": page.next_escalation_at.isoformat(),
        },
    )
    if people or messages.webhook_destinations(page, incident):
        messages_enqueue(
            messages.page_drafts(page=page, incident=incident, people=people, event=event, step_label=label)
        )
    _schedule_wake(page)
    return record


def _finish(page: Page, status: str, now: datetime) -> None:
    page.status = status
    page.finished_at = now
    page.next_escalation_at = None
    page.wake_token = uuid.uuid4()
    page.save(update_fields=["status", "finished_at", "next_escalation_at", "wake_token"])


@atomic
def page_step_run(*, page_id: int, token: str | None) -> WakeOutcome:
    """The wake-up: notify the page's next step if ``token`` is current and the step is due. Safe to run twice.

    Returns what happened (``paging.state.WakeOutcome``). A wake-up that arrives early re-queues itself for the
    remaining time.
    """
    incident_id = Page.objects.filter(pk=page_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return WakeOutcome.MISSING
    incident = incident_lock(incident_id=incident_id)  # the incident's row first (core.db), then the page
    page = (
        Page.objects.select_for_update(of=("self",))
        .select_related("team", "user", "policy")
        .filter(pk=page_id)
        .first()
    )
    if page is None:
        return WakeOutcome.MISSING
    if token is not None and str(page.wake_token) != str(token):
        return WakeOutcome.STALE
    if page.status != Page.Status.TRIGGERED or page.next_escalation_at is None:
        return WakeOutcome.FINISHED
    now = timezone.now()
    if not is_due(page.next_escalation_at, now):
        _schedule_wake(page)
        return WakeOutcome.NOT_DUE
    if incident.status not in INCIDENT_OPEN:
        _finish(page, Page.Status.CANCELLED, now)
        return WakeOutcome.CANCELLED
    plan, repeat = selectors.page_plan(page)
    position = next_position(round=page.round, step=page.step, steps=len(plan), repeat=repeat)
    if position is None:
        _finish(page, Page.Status.EXHAUSTED, now)
        timeline_record(
            incident=incident,
            kind=kinds.PAGE_EXHAUSTED,
            occurred_at=now,
            text="Nobody acknowledged the page"
            + (f" to the {page.team.name} team" if page.team_id else "")
            + (f" to {page.user.get_username()}" if page.user_id else "")
            + ".",
            data={"page": page.pk, "rounds": page.round + 1},
        )
        return WakeOutcome.EXHAUSTED
    page.round, page.step = position
    if _notify_step(page=page, incident=incident, plan=plan) is None:
        return WakeOutcome.STALE
    return WakeOutcome.NOTIFIED


# --- Creating, acknowledging, cancelling --------------------------------------------------------------


def _page_concern(team: Team | None, user) -> versions.Concern:
    """A page of the same team or person since the page was shown (created, or already acknowledged): paging
    them again from a stale page would wake someone who has just answered."""
    username = user.get_username() if user is not None else None

    def match(event) -> bool:
        d = event.data if isinstance(event.data, dict) else {}
        if team is not None:
            return d.get("team") == team.slug
        return d.get("team") is None and (d.get("user") == username or username in (d.get("users") or []))

    def describe(event, people) -> str:
        who = display_name(event.actor) if event.actor_id else (event.via or "Muster")
        target = f"the {team.name} team" if team is not None else versions.person(username, people)
        if event.kind == kinds.PAGE_ACKNOWLEDGED:
            return f"{who} acknowledged the page to {target}"
        return f"{who} paged {target}"

    return versions.Concern(frozenset({kinds.PAGED, kinds.PAGE_ACKNOWLEDGED}), match=match, describe=describe)


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    return reject_nul(reason, field="reason")


@atomic
def page_create(
    *,
    incident: Incident | int,
    team: Team | None = None,
    user=None,
    actor=None,
    source: str = Source.WEB,
    reason: str = "",
    system: bool = False,
    expected_version: int | None = None,
) -> Page:
    """Page a team (through its default escalation policy) or one person about an incident.

    Anyone who may act on the incident may page; ``system=True`` (auto-paging) skips the check. The first step is
    notified now; later ones by the wake-up. ``expected_version``: the incident's version the caller was shown; a
    page of the same team or person since then refuses (``StaleState``).
    """
    if (team is None) == (user is None):
        raise ValidationError("Page either a team or a person.", field="team")
    pk = incident.pk if isinstance(incident, Incident) else incident
    incident = incident_lock(incident_id=pk)
    if not system:
        incident_permissions.ensure(actor, incident, incident_permissions.Action.ACT)
    versions.ensure_current(
        incident=incident, expected_version=expected_version, concern=_page_concern(team, user)
    )
    if incident.status not in INCIDENT_OPEN:
        raise Conflict(
            f"The incident is {incident.get_status_display().lower()}: nobody needs paging for it."
        )
    reason = _clean_reason(reason)
    if user is not None and not user.is_active:
        raise ValidationError("That person's account is inactive.", field="user")
    existing = Page.objects.filter(incident=incident, status=Page.Status.TRIGGERED)
    existing = existing.filter(team=team) if team is not None else existing.filter(user=user)
    if existing.exists():
        who = f"The {team.name} team" if team is not None else (user.get_full_name() or user.get_username())
        raise Conflict(f"{who} is already being paged for this incident; wait for an acknowledgement.")
    page = Page.objects.create(
        incident=incident,
        team=team,
        user=user,
        policy=selectors.default_policy(team) if team is not None else None,
        reason=reason,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    page.round, page.step = 0, 0
    plan, _ = selectors.page_plan(page)
    _notify_step(page=page, incident=incident, plan=plan, actor=actor, source=source)
    return page


@atomic
def page_acknowledge(
    *, page: Page | int, actor, source: str = Source.WEB, token: str | None = None, note: str = ""
) -> Page:
    """Acknowledge a page: escalation stops. For the people paged, anyone who may act on the incident, or anyone
    signed in with the page's ack token (the link in the message)."""
    pk = page.pk if isinstance(page, Page) else page
    incident_id = Page.objects.filter(pk=pk).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise NotFound("No such page.")
    incident = incident_lock(incident_id=incident_id)  # the incident's row first (core.db), then the page
    locked = Page.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if locked is None:
        raise NotFound("No such page.")
    page = Page.objects.select_related("incident", "team", "user").get(pk=locked.pk)
    if not can_acknowledge(actor, page, token):
        if not incident_permissions.can_view(actor, page.incident):
            raise NotFound("No such page.")
        raise PermissionDenied(
            "Only the people paged and those who can act on the incident can acknowledge it."
        )
    if page.status == Page.Status.ACKNOWLEDGED:
        by = page.acknowledged_by.get_username() if page.acknowledged_by_id else "someone"
        raise Conflict(f"This page was already acknowledged by {by}.", code="already_acknowledged")
    if page.status != Page.Status.TRIGGERED:
        raise Conflict(f"This page is {page.get_status_display().lower()}: there is nothing to acknowledge.")
    note = _clean_reason(note)
    now = timezone.now()
    page.acknowledged_by = actor
    page.acknowledged_at = now
    _finish(page, Page.Status.ACKNOWLEDGED, now)
    page.save(update_fields=["acknowledged_by", "acknowledged_at"])
    timeline_record(
        incident=incident,
        kind=kinds.PAGE_ACKNOWLEDGED,
        actor=actor,
        source=source,
        occurred_at=now,
        text=note,
        data={
            "page": page.pk,
            "team": page.team.slug if page.team_id else None,
            "user": page.user.get_username() if page.user_id else None,
            "round": page.round,
            "step": page.step,
            "seconds": int((now - page.created_at).total_seconds()),
        },
    )
    return page


@atomic
def pages_cancel_for_incident(*, incident_id: int) -> int:
    """Stop every triggered page of an incident (it was resolved, closed or declined). Returns how many."""
    incident_lock(incident_id=incident_id)  # the incident's row first (core.db), then its pages
    now = timezone.now()
    count = 0
    for page in Page.objects.select_for_update(of=("self",)).filter(
        incident_id=incident_id, status=Page.Status.TRIGGERED
    ):
        _finish(page, Page.Status.CANCELLED, now)
        count += 1
    return count


# --- Escalation policies -------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Give the policy a name.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Keep the name under {NAME_MAX} characters.", field="name")
    return reject_nul(name, field="name")


def _clean_repeat(repeat) -> int:
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= REPEAT_MAX:
        raise ValidationError(f"Repeat between 0 and {REPEAT_MAX} times.", field="repeat")
    return repeat


def _auto_page_severity(value):
    """The auto-page threshold: none, or a severity, its slug or id (``incidents.selectors.severity_get``)."""
    return None if value is None or value == "" else severity_get(value=value, field="auto_page_severity")


def _clean_steps(team: Team, steps: list[dict]) -> list[EscalationStep]:
    """Check each step (its target, the schedule or person of the right team, the wait) and build the rows."""
    if not isinstance(steps, list) or not steps:
        raise ValidationError("A policy needs at least one step.", field="steps")
    if len(steps) > STEPS_MAX:
        raise ValidationError(f"A policy has at most {STEPS_MAX} steps.", field="steps")
    User = get_user_model()
    rows = []
    for index, raw in enumerate(steps):
        label = f"Step {index + 1}"
        target = raw.get("target")
        if target not in EscalationStep.Target.values:
            raise ValidationError(f"{label}: the target is one of schedule, user or team.", field="steps")
        wait = raw.get("wait_minutes", 5)
        if isinstance(wait, bool) or not isinstance(wait, int) or not WAIT_MIN <= wait <= WAIT_MAX:
            raise ValidationError(f"{label}: wait between {WAIT_MIN} and {WAIT_MAX} minutes.", field="steps")
        schedule = user = None
        if target == EscalationStep.Target.SCHEDULE:
            schedule = raw.get("schedule")
            if isinstance(schedule, str):
                schedule = Schedule.objects.filter(team=team, slug=schedule).first()
            if not isinstance(schedule, Schedule) or schedule.team_id != team.pk:
                raise ValidationError(
                    f"{label}: name one of the {team.name} team's schedules.", field="steps"
                )
        elif target == EscalationStep.Target.USER:
            user = raw.get("user")
            if isinstance(user, str):
                user = User.objects.filter(username=user).first()
            if (
                not isinstance(user, User)
                or not user.is_active
                or not Membership.objects.filter(team=team, user=user).exists()
            ):
                raise ValidationError(
                    f"{label}: name an active member of the {team.name} team.", field="steps"
                )
        rows.append(
            EscalationStep(position=index, target=target, schedule=schedule, user=user, wait_minutes=wait)
        )
    return rows


def _set_default(policy: EscalationPolicy) -> None:
    EscalationPolicy.objects.filter(team_id=policy.team_id, is_default=True).exclude(pk=policy.pk).update(
        is_default=False
    )


@atomic
def escalation_policy_create(
    *,
    team: Team,
    name: str,
    steps: list[dict],
    actor,
    repeat: int = 0,
    is_default: bool = False,
    auto_page_severity=None,
) -> EscalationPolicy:
    """Create a policy with its steps. Making it the default takes that from the team's previous default."""
    ensure_can_manage_policies(actor, team)
    Team.objects.select_for_update(of=("self",)).filter(
        pk=team.pk
    ).first()  # serialize default changes per team
    policy = EscalationPolicy(
        team=team,
        name=_clean_name(name),
        repeat=_clean_repeat(repeat),
        is_default=bool(is_default),
        auto_page_severity=_auto_page_severity(auto_page_severity),
    )
    rows = _clean_steps(team, steps)
    if EscalationPolicy.objects.filter(team=team, name__iexact=policy.name).exists():
        raise ValidationError("The team already has a policy with that name.", field="name")
    if policy.is_default:
        _set_default(policy)
    elif not EscalationPolicy.objects.filter(team=team).exists():
        policy.is_default = True  # a team's first policy is its default
    policy.save()
    for row in rows:
        row.policy = policy
    EscalationStep.objects.bulk_create(rows)
    return policy


_UNSET = object()


@atomic
def escalation_policy_update(
    *,
    policy: EscalationPolicy | int,
    actor,
    name: str | None = None,
    repeat: int | None = None,
    is_default: bool | None = None,
    auto_page_severity: Any = _UNSET,
    steps: list[dict] | None = None,
) -> EscalationPolicy:
    """Change a policy; ``steps`` replaces them all. Pages already running follow the new steps from their next
    step on."""
    pk = policy.pk if isinstance(policy, EscalationPolicy) else policy
    policy = (
        EscalationPolicy.objects.select_for_update(of=("self",)).select_related("team").filter(pk=pk).first()
    )
    if policy is None:
        raise NotFound("No such escalation policy.")
    ensure_can_manage_policies(actor, policy.team)
    if name is not None:
        policy.name = _clean_name(name)
        if (
            EscalationPolicy.objects.filter(team=policy.team, name__iexact=policy.name)
            .exclude(pk=pk)
            .exists()
        ):
            raise ValidationError("The team already has a policy with that name.", field="name")
    if repeat is not None:
        policy.repeat = _clean_repeat(repeat)
    if auto_page_severity is not _UNSET:
        policy.auto_page_severity = _auto_page_severity(auto_page_severity)
    if is_default is not None:
        if is_default:
            _set_default(policy)
        policy.is_default = bool(is_default)
    rows = _clean_steps(policy.team, steps) if steps is not None else None
    policy.save()
    if rows is not None:
        policy.steps.all().delete()
        for row in rows:
            row.policy = policy
        EscalationStep.objects.bulk_create(rows)
    return policy


@atomic
def escalation_policy_delete(*, policy: EscalationPolicy | int, actor) -> None:
    pk = policy.pk if isinstance(policy, EscalationPolicy) else policy
    policy = (
        EscalationPolicy.objects.select_for_update(of=("self",)).select_related("team").filter(pk=pk).first()
    )
    if policy is None:
        raise NotFound("No such escalation policy.")
    ensure_can_manage_policies(actor, policy.team)
    if Page.objects.filter(policy=policy, status=Page.Status.TRIGGERED).exists():
        raise Conflict("Pages are running on this policy; wait until they are acknowledged or finished.")
    policy.delete()
