"""Escalation policies and pages: every write, and the idempotent escalation wake-up.

How a page runs
---------------
A page follows a *plan*: the steps of the team's default escalation policy (repeated ``repeat`` more times), or,
for a team without a policy or a page to one person, a single implicit step (the team's on-call, else its leads or
members; or that person) waiting ``ONCALL_DEFAULT_WAIT_MINUTES``. The first step is notified in the transaction
that creates the page. ``page.round`` / ``page.step`` name the step last notified and ``next_escalation_at`` when
the next one is due.

The next step is woken by a Celery countdown carrying the page's ``wake_token`` (``oncall.tasks.page_wake``); a beat
sweeper (``oncall.tasks.sweep_pages``) wakes pages whose time passed by a grace, which catches a wake-up lost to a
killed worker or a Redis restart. ``page_step_run`` locks the page row, refuses a stale token, a page that is not
triggered or not yet due, inserts the ``PageStep`` (unique per page, round and step), writes the outbox messages
(dedupe keys ``page:<id>:r<round>:s<step>:...``) and the ``paged`` timeline event, and rotates the token, all in one
transaction: a step is never notified twice, and a lost wake-up only delays it.

Durations in minutes are multiplied by ``settings.ONCALL_MINUTE_SECONDS`` (60; the worker tests use 1).

Webhooks (for SMS or phone providers): a page step also goes to every active webhook destination of an enabled
routing rule that lists the ``paged`` event kind and whose team is empty or the paged team (private incidents only
when the rule includes private ones). The routing consumer itself does not route ``paged`` events.

Acknowledging: the people paged, anyone who may act on the incident, or anyone signed in holding the page's
``ack_token`` (the link in the message). The link lands on a confirmation page that needs a sign-in and a POST, so
mail scanners that follow links do not acknowledge pages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.db import atomic
from core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.validation import reject_nul
from incidents import permissions
from incidents.models import EventKind, Incident, Severity, Source, TimelineEvent
from incidents.selectors import severity_get
from incidents.services import incident_add_participants, incident_lock, timeline_record
from incidents.state import OPEN_STATUSES
from notifications.models import Channel, RoutingRule
from notifications.recipients import drafts_for_person, team_oncall
from notifications.render import incident_payload, incident_url, render
from notifications.services import Draft, messages_enqueue
from oncall.models import EscalationPolicy, EscalationStep, Page, PageStep, Schedule
from teams.models import Membership, Team
from teams.selectors import user_is_admin

logger = logging.getLogger(__name__)

REASON_MAX = 500
NAME_MAX = 100
WAIT_MIN, WAIT_MAX = 1, 1440
REPEAT_MAX = 10
STEPS_MAX = 20
# A wake-up may arrive a moment before its time (clocks, rounding): treat it as due within this margin.
DUE_MARGIN = timedelta(milliseconds=250)
OPEN = {s.value for s in OPEN_STATUSES}


def minutes(n: int | float) -> timedelta:
    return timedelta(seconds=float(n) * settings.ONCALL_MINUTE_SECONDS)


# --- Who is on call ----------------------------------------------------------------------------------


def _as_users(value) -> list:
    if value is None:
        return []
    if isinstance(value, list | tuple | set) or (hasattr(value, "__iter__") and not hasattr(value, "pk")):
        return [u for u in value if u is not None]
    return [value]


def _schedule_oncall(schedule: Schedule, at: datetime) -> list:
    """The people on call for ``schedule`` at ``at``.

    Asks ``oncall.selectors.oncall_for_schedule(schedule, at)`` when the schedule engine provides it; otherwise the
    first member of the schedule's first rotation stands in.
    """
    try:
        from oncall.selectors import oncall_for_schedule  # the schedule engine, when present
    except ImportError:
        oncall_for_schedule = None
    if oncall_for_schedule is not None:
        return [u for u in _as_users(oncall_for_schedule(schedule, at)) if getattr(u, "is_active", True)]
    rotation = schedule.rotations.order_by("-layer", "id").first()
    if rotation is None:
        return []
    member = rotation.members.select_related("user").order_by("position", "id").first()
    return [member.user] if member and member.user.is_active else []


def _team_people(team: Team | None, at: datetime) -> list:
    """The team's on-call (its leads when nobody is known), else every active member."""
    if team is None:
        return []
    people = [u for u in team_oncall(team, at=at) if u.is_active]
    if people:
        return people
    User = get_user_model()
    return list(User.objects.filter(is_active=True, memberships__team=team).distinct().order_by("pk"))


def _team_members(team: Team) -> list:
    User = get_user_model()
    return list(User.objects.filter(is_active=True, memberships__team=team).distinct().order_by("pk"))


# --- Plans ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    target: str
    wait_minutes: int
    schedule: Schedule | None = None
    user: Any = None
    team: Team | None = None

    def describe(self) -> str:
        if self.target == EscalationStep.Target.SCHEDULE and self.schedule is not None:
            return f"the on-call of {self.schedule.name}"
        if self.target == EscalationStep.Target.USER and self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        if self.team is not None:
            return f"the {self.team.name} team"
        return "nobody"


def _plan(page: Page) -> tuple[list[PlanStep], int]:
    """The steps of the page and how many times they repeat after the first round."""
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


def _people(step: PlanStep, at: datetime) -> list:
    if step.target == EscalationStep.Target.USER:
        return [step.user] if step.user is not None and step.user.is_active else []
    if step.target == EscalationStep.Target.SCHEDULE and step.schedule is not None:
        people = _schedule_oncall(step.schedule, at)
        # Nobody on the schedule now (a gap, restrictions): the team's on-call or leads rather than silence.
        return people or _team_people(step.schedule.team, at)
    if step.target == EscalationStep.Target.TEAM and step.team is not None:
        return _team_members(step.team)
    return _team_people(step.team, at)


# --- Messages ----------------------------------------------------------------------------------------


def ack_url(page: Page) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("oncall:page_ack_link", args=[page.pk, page.ack_token])


def _webhook_destinations(page: Page, incident: Incident) -> list:
    chosen: dict[int, Any] = {}
    rules = RoutingRule.objects.filter(enabled=True).prefetch_related("destinations").order_by("order", "id")
    for rule in rules:
        if EventKind.PAGED not in (rule.event_kinds or []):
            continue
        if rule.team_id is not None and rule.team_id != (page.team_id or incident.team_id):
            continue
        if incident.private and not rule.include_private:
            continue
        for destination in rule.destinations.all():
            if destination.active and destination.channel == Channel.WEBHOOK and destination.webhook_url:
                chosen.setdefault(destination.pk, destination)
    return list(chosen.values())


def _page_drafts(*, page: Page, incident: Incident, people: list, event: TimelineEvent, step_label: str):
    prefix = f"page:{page.pk}:r{page.round}:s{page.step}"
    context = {
        "page": page,
        "incident": incident,
        "url": incident_url(incident),
        "ack_url": ack_url(page),
        "step_label": step_label,
        "now": event.occurred_at,
    }
    slack = render("slack", "page", context)
    email = render("email", "page", context, html=True, subject=True)
    for person in people:
        yield from drafts_for_person(
            person,
            dedupe_prefix=prefix,
            text=slack.text,
            subject=email.subject,
            html=email.html,
            email_text=email.text,
            incident_id=incident.pk,
            event_id=event.pk,
        )
    destinations = _webhook_destinations(page, incident)
    if destinations:
        text = render("webhook", "page", context).text
        payload = webhook_payload(page=page, incident=incident, people=people, event=event, text=text)
        for destination in destinations:
            yield Draft(
                channel=Channel.WEBHOOK,
                kind="webhook",
                target=destination.webhook_url,
                body=text,
                payload=payload,
                dedupe_key=f"{prefix}:dest{destination.pk}",
                destination_id=destination.pk,
                incident_id=incident.pk,
                event_id=event.pk,
            )


def webhook_payload(*, page: Page, incident: Incident, people: list, event: TimelineEvent, text: str) -> dict:
    return {
        "type": "page.step",
        "page": {
            "id": page.pk,
            "status": page.status,
            "round": page.round,
            "step": page.step,
            "team": page.team.slug if page.team_id else None,
            "reason": page.reason,
            "ack_url": ack_url(page),
            "next_escalation_at": page.next_escalation_at.isoformat() if page.next_escalation_at else None,
        },
        "people": [
            {"username": p.get_username(), "name": p.get_full_name(), "email": p.email} for p in people
        ],
        "incident": incident_payload(incident),
        "occurred_at": event.occurred_at.isoformat(),
        "text": text,
    }


# --- Running steps -------------------------------------------------------------------------------------


def _schedule_wake(page: Page) -> None:
    """After commit, queue the wake-up of the page's next step (a broker outage is left to the sweeper)."""
    if page.next_escalation_at is None:
        return
    page_id, token, due = page.pk, str(page.wake_token), page.next_escalation_at

    def queue() -> None:
        from oncall import tasks

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
    people = _people(step, now)
    try:
        with transaction.atomic():
            record = PageStep.objects.create(
                page=page, round=page.round, step=page.step, notified=[p.pk for p in people], notified_at=now
            )
    except IntegrityError:
        return None
    page.next_escalation_at = now + minutes(step.wait_minutes)
    page.wake_token = _new_uuid()
    page.save(update_fields=["round", "step", "next_escalation_at", "wake_token"])
    # Paged for a private incident makes a participant: the message names the incident, so the incident, the page
    # and "My pages" must not be hidden from the one person asked to fix it (README, Security model).
    incident_add_participants(incident=incident, users=people, reason="paged", actor=actor, source=source)
    names = ", ".join(p.get_full_name() or p.get_username() for p in people) or "nobody (no one to reach)"
    step_label = f"step {page.step + 1} of {len(plan)}" + (f", round {page.round + 1}" if page.round else "")
    event = timeline_record(
        incident=incident,
        kind=EventKind.PAGED,
        actor=actor,
        source=source,
        occurred_at=now,
        text=f"Paged {names} ({step.describe()}, {step_label}).",
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
    if people or _webhook_destinations(page, incident):
        messages_enqueue(
            _page_drafts(page=page, incident=incident, people=people, event=event, step_label=step_label)
        )
    _schedule_wake(page)
    return record


def _new_uuid():
    import uuid

    return uuid.uuid4()


def _finish(page: Page, status: str, now: datetime) -> None:
    page.status = status
    page.finished_at = now
    page.next_escalation_at = None
    page.wake_token = _new_uuid()
    page.save(update_fields=["status", "finished_at", "next_escalation_at", "wake_token"])


def page_step_run(*, page_id: int, token: str | None) -> str:
    """The wake-up: notify the page's next step if ``token`` is current and the step is due. Safe to run twice.

    Returns what happened: ``notified``, ``exhausted``, ``cancelled``, ``stale``, ``not_due``, ``finished`` or
    ``missing``. A wake-up that arrives early re-queues itself for the remaining time.
    """
    incident_id = Page.objects.filter(pk=page_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return "missing"
    with transaction.atomic():
        incident = incident_lock(incident_id=incident_id)  # the incident's row first (core.db), then the page
        page = (
            Page.objects.select_for_update(of=("self",))
            .select_related("team", "user", "policy")
            .filter(pk=page_id)
            .first()
        )
        if page is None:
            return "missing"
        if token is not None and str(page.wake_token) != str(token):
            return "stale"
        if page.status != Page.Status.TRIGGERED:
            return "finished"
        now = timezone.now()
        if page.next_escalation_at is None:
            return "finished"
        if page.next_escalation_at > now + DUE_MARGIN:
            _schedule_wake(page)
            return "not_due"
        if incident.status not in OPEN:
            _finish(page, Page.Status.CANCELLED, now)
            return "cancelled"
        plan, repeat = _plan(page)
        next_step, next_round = page.step + 1, page.round
        if next_step >= len(plan):
            next_step, next_round = 0, page.round + 1
        if next_round > repeat:
            _finish(page, Page.Status.EXHAUSTED, now)
            timeline_record(
                incident=incident,
                kind=EventKind.PAGE_EXHAUSTED,
                occurred_at=now,
                text="Nobody acknowledged the page"
                + (f" to the {page.team.name} team" if page.team_id else "")
                + (f" to {page.user.get_username()}" if page.user_id else "")
                + ".",
                data={"page": page.pk, "rounds": page.round + 1},
            )
            return "exhausted"
        page.round, page.step = next_round, next_step
        if _notify_step(page=page, incident=incident, plan=plan) is None:
            return "stale"
        return "notified"


# --- Creating, acknowledging, cancelling --------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    return reject_nul(reason, field="reason")


def default_policy(team: Team) -> EscalationPolicy | None:
    return (
        EscalationPolicy.objects.filter(team=team, is_default=True)
        .select_related("auto_page_severity")
        .first()
    )


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
) -> Page:
    """Page a team (through its default escalation policy) or one person about an incident.

    Anyone who may act on the incident may page; ``system=True`` (auto-paging) skips the check. The first step is
    notified now; later ones by the wake-up.
    """
    if (team is None) == (user is None):
        raise ValidationError("Page either a team or a person.", field="team")
    pk = incident.pk if isinstance(incident, Incident) else incident
    incident = incident_lock(incident_id=pk)
    if not system:
        permissions.ensure(actor, incident, permissions.Action.ACT)
    if incident.status not in OPEN:
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
        policy=default_policy(team) if team is not None else None,
        reason=reason,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    page.round, page.step = 0, 0
    plan, _ = _plan(page)
    _notify_step(page=page, incident=incident, plan=plan, actor=actor, source=source)
    return page


def can_acknowledge(user, page: Page, token: str | None = None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if token is not None and token == page.ack_token:
        return True
    if page.user_id == user.pk:
        return True
    if any(user.pk in (s.notified or []) for s in page.steps.all()):
        return True
    return permissions.can_act(user, page.incident)


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
        if not permissions.can_view(actor, page.incident):
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
        kind=EventKind.PAGE_ACKNOWLEDGED,
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


def pages_cancel_for_incident(*, incident_id: int) -> int:
    """Stop every triggered page of an incident (it was resolved, closed or declined). Returns how many."""
    now = timezone.now()
    count = 0
    for page in Page.objects.select_for_update(of=("self",)).filter(
        incident_id=incident_id, status=Page.Status.TRIGGERED
    ):
        _finish(page, Page.Status.CANCELLED, now)
        count += 1
    return count


# --- Timeline consumers --------------------------------------------------------------------------------


def cancel_pages_on_resolve(event: TimelineEvent) -> None:
    """Consumer of ``status_changed``: an incident that is no longer open stops paging people."""
    new = (event.data or {}).get("new") if isinstance(event.data, dict) else None
    if new and new not in OPEN:
        pages_cancel_for_incident(incident_id=event.incident_id)


def auto_page_on_declare(event: TimelineEvent) -> None:
    """Consumer of ``declared``: page the team when its default policy auto-pages at this severity or worse."""
    incident = Incident.objects.select_related("severity", "team").filter(pk=event.incident_id).first()
    if incident is None or incident.team_id is None or incident.status not in OPEN:
        return
    policy = default_policy(incident.team)
    if policy is None or policy.auto_page_severity is None:
        return
    if incident.severity.rank > policy.auto_page_severity.rank:
        return
    if Page.objects.filter(incident=incident, team=incident.team).exists():
        return
    page_create(
        incident=incident,
        team=incident.team,
        actor=None,
        source=Source.SYSTEM,
        reason=f"Declared {incident.severity.name}: the {policy.name} policy pages automatically.",
        system=True,
    )


def register_consumers() -> None:
    from incidents.consumers import register

    register("oncall.auto_page", kinds={EventKind.DECLARED}, handler=auto_page_on_declare)
    register("oncall.cancel_pages", kinds={EventKind.STATUS_CHANGED}, handler=cancel_pages_on_resolve)


# --- Escalation policies -------------------------------------------------------------------------------


def can_manage_policies(user, team: Team) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user_is_admin(user):
        return True
    return Membership.objects.filter(
        team=team, user=user, role__in=[Membership.Role.LEAD, Membership.Role.ADMIN]
    ).exists()


def _ensure_manager(user, team: Team) -> None:
    if not can_manage_policies(user, team):
        raise PermissionDenied("Only the team's leads and admins can change its escalation policies.")


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


def _severity(value) -> Severity | None:
    """The auto-page threshold: none, or a severity (``incidents.selectors.severity_get``)."""
    if value is None or value == "":
        return None
    return severity_get(value=value, field="auto_page_severity")


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
    _ensure_manager(actor, team)
    Team.objects.select_for_update(of=("self",)).filter(
        pk=team.pk
    ).first()  # serialize default changes per team
    policy = EscalationPolicy(
        team=team,
        name=_clean_name(name),
        repeat=_clean_repeat(repeat),
        is_default=bool(is_default),
        auto_page_severity=_severity(auto_page_severity),
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
    _ensure_manager(actor, policy.team)
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
        policy.auto_page_severity = _severity(auto_page_severity)
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
    _ensure_manager(actor, policy.team)
    if Page.objects.filter(policy=policy, status=Page.Status.TRIGGERED).exists():
        raise Conflict("Pages are running on this policy; wait until they are acknowledged or finished.")
    policy.delete()


# --- Reads ----------------------------------------------------------------------------------------------


def page_list_for_incident(*, incident: Incident):
    return (
        Page.objects.filter(incident=incident)
        .select_related("team", "user", "policy", "created_by", "acknowledged_by")
        .prefetch_related("steps")
        .order_by("-created_at", "-id")
    )


def page_get(*, user, pk) -> Page:
    """A page the user may see (the incident is visible to them, or they were paged), or NotFound."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such page.") from None
    if not -(2**63) <= pk < 2**63:
        raise NotFound("No such page.")
    page = (
        Page.objects.select_related(
            "incident", "incident__severity", "team", "user", "policy", "acknowledged_by"
        )
        .prefetch_related("steps")
        .filter(pk=pk)
        .first()
    )
    if page is None:
        raise NotFound("No such page.")
    if not (permissions.can_view(user, page.incident) or can_acknowledge(user, page)):
        raise NotFound("No such page.")
    return page


def page_get_by_ack_token(*, pk: int, token: str) -> Page | None:
    """The page an acknowledgement link names, or None when the id and secret token do not match."""
    if not token or len(token) > 64:
        return None
    return (
        Page.objects.select_related("incident", "incident__severity", "team", "user", "acknowledged_by")
        .filter(pk=pk, ack_token=token)
        .first()
    )


def pages_for_user(*, user):
    """Pages that reached the user (sent to them, or a step notified them), triggered first, newest first."""
    from django.db.models import Case, IntegerField, Q, Value, When

    step_pages = PageStep.objects.filter(notified__contains=[user.pk]) if _json_contains() else None
    q = Q(user=user)
    if step_pages is not None:
        q |= Q(pk__in=step_pages.values("page_id"))
    else:
        ids = [
            s.page_id for s in PageStep.objects.only("page_id", "notified") if user.pk in (s.notified or [])
        ]
        q |= Q(pk__in=ids)
    return (
        Page.objects.filter(q)
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


def _json_contains() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pages_overdue(*, grace: timedelta, limit: int = 500) -> list[tuple[int, Any]]:
    """(id, wake token) of triggered pages whose next escalation is overdue by ``grace``."""
    cutoff = timezone.now() - grace
    return list(
        Page.objects.filter(status=Page.Status.TRIGGERED, next_escalation_at__lte=cutoff)
        .order_by("next_escalation_at")
        .values_list("pk", "wake_token")[:limit]
    )
