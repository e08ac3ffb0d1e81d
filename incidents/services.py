"""Every write to an incident. Each change appends its timeline event in the same transaction.

Entrances (web views, API, admin, Slack, tasks) call these and nothing else; they pass ``source`` so the timeline
says where a change came from.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db import atomic
from core.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Unprocessable,
    ValidationError,
)
from core.validation import reject_nul
from incidents import consumers, kinds, permissions, state, versions
from incidents.models import (
    ConsumerRun,
    EventKind,
    IdempotencyKey,
    Incident,
    Participant,
    Role,
    RoleAssignment,
    Severity,
    Source,
    TimelineEvent,
)
from incidents.selectors import severity_get
from teams.models import Service, Team

logger = logging.getLogger(__name__)

TITLE_MAX = 200
TEXT_MAX = 20_000
SERVICES_MAX = 50

STATUS_TIMESTAMP = {
    state.Status.INVESTIGATING: "investigating_at",
    state.Status.IDENTIFIED: "identified_at",
    state.Status.MONITORING: "monitoring_at",
    state.Status.RESOLVED: "resolved_at",
    state.Status.CLOSED: "closed_at",
    state.Status.DECLINED: "declined_at",
}


def _actor_id(actor) -> int | None:
    return actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None


def _clean_via(via: str) -> str:
    via = reject_nul((via or "").strip(), field="via")
    if len(via) > 100:
        raise ValidationError("An integration's name is at most 100 characters.", field="via")
    return via


def _check_source(source: str) -> str:
    if source not in Source.values:
        raise ValidationError(f"Unknown source '{source}'.", field="source")
    return source


# --- Timeline --------------------------------------------------------------------------------------


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    actor=None,
    source: str = Source.SYSTEM,
    text: str = "",
    data: dict[str, Any] | None = None,
    occurred_at=None,
    via: str = "",
) -> TimelineEvent:
    """Append one immutable event and its consumer runs; dispatch them after commit.

    ``via`` names the integration that acted when no person did (shown as "via <name>").

    Must be called inside the transaction that makes the change it records, after the incident's row lock
    (``incident_lock``): every event but a note bumps the incident's version (``incidents.versions``) and records
    the version it made. The declaration is version 1.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("timeline_record must run inside the transaction of the change it records.")
    if kind == EventKind.NOTE_ADDED:
        version = None  # a note changes nothing an action acts on
    elif kind == EventKind.DECLARED:
        version = incident.version
    else:
        version = _version_bump(incident)
    event = TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        actor_id=_actor_id(actor),
        source=_check_source(source),
        via=_clean_via(via),
        text=text,
        data=data or {},
        occurred_at=occurred_at or timezone.now(),
        incident_version=version,
    )
    wanted = consumers.consumers_for(kind)
    if wanted:
        now = event.occurred_at
        ConsumerRun.objects.bulk_create(
            [ConsumerRun(event=event, consumer=c.name, created_at=now, next_attempt_at=now) for c in wanted]
        )
        event_id = event.pk
        transaction.on_commit(lambda: _dispatch_after_commit(event_id))
    return event


def _version_bump(incident: Incident) -> int:
    """Add one to the incident's version in the database (one statement, whatever the caller's copy holds) and
    keep the caller's copy in step."""
    table = connection.ops.quote_name(Incident._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET version = version + 1 WHERE id = %s RETURNING version", [incident.pk]
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such incident.")
    incident.version = row[0]
    return incident.version


def _dispatch_after_commit(event_id: int) -> None:
    """Hand the event to a worker. A broker outage is logged, not raised: the sweeper will pick the runs up."""
    from incidents.tasks import dispatch_timeline_event

    try:
        dispatch_timeline_event.delay(event_id)
    except Exception:
        logger.warning(
            "Could not queue timeline event %s; the sweeper will dispatch it.", event_id, exc_info=True
        )


def consumer_backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: ~2s, 4s, 8s ... capped at 10 minutes."""
    base = min(600.0, 2.0 ** max(1, attempts))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


class RunOutcome(StrEnum):
    """What ``consumer_run_execute`` came to when it did not run the consumer (else the run's status)."""

    LOCKED = "locked"  # another worker holds the run


def consumer_run_execute(*, run_id: int) -> str:
    """Run one consumer for one event, at most once to completion. Returns the run's status afterwards.

    The run row is locked for the duration, so two workers never run the same consumer for the same event at
    once; the handler's writes and the ``done`` mark commit together.
    """
    with transaction.atomic():
        run = (
            ConsumerRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "event__incident")
            .filter(pk=run_id)
            .first()
        )
        if run is None:
            return RunOutcome.LOCKED
        if run.status != ConsumerRun.Status.PENDING:
            return run.status
        consumer = consumers.get(run.consumer)
        now = timezone.now()
        run.attempts += 1
        if consumer is None:
            run.status = ConsumerRun.Status.FAILED
            run.last_error = f"No consumer named {run.consumer!r} is registered."
            run.finished_at = now
            run.save(update_fields=["status", "attempts", "last_error", "finished_at"])
            return run.status
        try:
            with transaction.atomic():
                consumer.handler(run.event)
        except Exception as exc:
            logger.exception("Consumer %s failed on event %s", run.consumer, run.event_id)
            run.last_error = f"{exc.__class__.__name__}: {exc}"[:4000]
            if run.attempts >= settings.TIMELINE_CONSUMER_MAX_ATTEMPTS:
                run.status = ConsumerRun.Status.FAILED
                run.finished_at = now
            else:
                run.next_attempt_at = now + consumer_backoff(run.attempts)
            run.save(update_fields=["status", "attempts", "last_error", "finished_at", "next_attempt_at"])
            return run.status
        run.status = ConsumerRun.Status.DONE
        run.finished_at = timezone.now()
        run.last_error = ""
        run.save(update_fields=["status", "attempts", "last_error", "finished_at"])
        return run.status


def consumer_run_retry(*, run_id: int) -> ConsumerRun:
    """Put a failed run back to pending (admin action)."""
    with transaction.atomic():
        run = ConsumerRun.objects.select_for_update(of=("self",)).filter(pk=run_id).first()
        if run is None:
            raise NotFound("No such consumer run.")
        if run.status == ConsumerRun.Status.FAILED:
            run.status = ConsumerRun.Status.PENDING
            run.attempts = 0
            run.next_attempt_at = timezone.now()
            run.finished_at = None
            run.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at"])
            event_id = run.event_id
            transaction.on_commit(lambda: _dispatch_after_commit(event_id))
    return run


# --- Lookups used by every entrance ---------------------------------------------------------------


def _team(value: Team | str | None) -> Team | None:
    if value is None or value == "":
        return None
    if isinstance(value, Team):
        return value
    team = Team.objects.filter(slug=value).first() if isinstance(value, str) else None
    if team is None:
        raise ValidationError(f"Unknown team '{value}'.", field="team")
    return team


def _services(values: Iterable[Service | str]) -> list[Service]:
    values = list(values or [])
    if len(values) > SERVICES_MAX:
        raise ValidationError(f"Name at most {SERVICES_MAX} affected services.", field="services")
    objs = [v for v in values if isinstance(v, Service)]
    slugs = [v for v in values if isinstance(v, str)]
    if slugs:
        found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
        missing = [s for s in slugs if s not in found]
        if missing:
            raise ValidationError(f"Unknown service(s): {', '.join(missing)}.", field="services")
        objs.extend(found[s] for s in slugs)
    return list({s.pk: s for s in objs}.values())


def _role(value: Role | str) -> Role:
    if isinstance(value, Role):
        return value
    role = Role.objects.filter(slug=value, active=True).first() if isinstance(value, str) else None
    if role is None:
        choices = ", ".join(Role.objects.filter(active=True).values_list("slug", flat=True))
        raise ValidationError(f"Unknown role '{value}'. Use one of: {choices}.", field="role")
    return role


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError("Say in a few words what is wrong.", field="title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"Keep the title under {TITLE_MAX} characters.", field="title")
    return reject_nul(title, field="title")


def _clean_text(text: str, field: str, *, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError("This cannot be empty.", field=field)
    if len(text) > TEXT_MAX:
        raise ValidationError(f"Keep this under {TEXT_MAX} characters.", field=field)
    return reject_nul(text, field=field)


def _lock(incident: Incident | int) -> Incident:
    """Re-read the incident under a row lock: concurrent changes of one incident run one after the other."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    locked = Incident.objects.select_for_update(of=("self",), no_key=True).filter(pk=pk).first()
    if locked is None:
        raise NotFound("No such incident.")
    return locked


# --- Incident lifecycle ----------------------------------------------------------------------------


@atomic
def incident_declare(
    *,
    title: str,
    severity: Severity | str,
    actor,
    source: str = Source.WEB,
    summary: str = "",
    team: Team | str | None = None,
    services: Iterable[Service | str] = (),
    customer_impact: bool = False,
    private: bool = False,
    lead=None,
    via: str = "",
) -> Incident:
    """Declare an incident. Anyone signed in may; false positives are welcome (they end as *declined*).

    An integration (Slack, an alert, another system) declares with ``actor=None`` and ``via`` its name: the
    timeline shows "via <name>" and no person. Use ``incident_declare_once`` for a request that may be retried.
    """
    via = _clean_via(via)
    integration = bool(via) and _actor_id(actor) is None
    if not integration and not permissions.can_declare(actor):
        raise PermissionDenied("Sign in to declare an incident.")
    if integration:
        actor = None
    incident = Incident(
        title=_clean_title(title),
        summary=_clean_text(summary, "summary"),
        severity=severity_get(value=severity),
        team=_team(team),
        customer_impact=bool(customer_impact),
        private=bool(private),
        declared_by=actor,
        declared_at=timezone.now(),
    )
    service_objs = _services(services)
    incident.save()
    if service_objs:
        incident.services.add(*service_objs)  # a new row has no links yet: add() skips set()'s read
    timeline_record(
        incident=incident,
        kind=EventKind.DECLARED,
        actor=actor,
        source=source,
        via=via,
        occurred_at=incident.declared_at,
        data={
            "title": incident.title,
            "severity": incident.severity.slug,
            "status": incident.status,
            "team": incident.team.slug if incident.team else None,
            "services": [s.slug for s in service_objs],
            "customer_impact": incident.customer_impact,
            "private": incident.private,
        },
    )
    if lead is not None:
        _assign_role(incident=incident, role=_role("lead"), user=lead, actor=actor, source=source)
    return incident


IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_key_clean(key: str) -> str:
    key = (key or "").strip()
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise ValidationError(
            "An idempotency key is 1 to 255 printable characters without spaces.", field="idempotency_key"
        )
    return key


def incident_declare_once(
    *, idempotency_key: str, request_hash: str, scope: str, source: str, **declare: Any
) -> tuple[Incident, bool]:
    """Declare, or return the incident a request with the same key already declared: ``(incident, created)``.

    The key is unique per ``source``, ``scope`` (the caller: ``user:<id>``, ``integration:<name>``) and key, for
    ``INCIDENT_IDEMPOTENCY_WINDOW``. Its row is committed before the declaration runs, so a repeat arriving
    meanwhile is refused with ``Conflict`` (in progress) instead of declaring twice; a repeat with another
    ``request_hash`` (another body) is ``Unprocessable``. A key whose declaration failed is released.
    """
    key = idempotency_key_clean(idempotency_key)
    now = timezone.now()
    window = settings.INCIDENT_IDEMPOTENCY_WINDOW
    stale = now - timedelta(seconds=settings.INCIDENT_IDEMPOTENCY_STALE_SECONDS)
    lookup = {"source": source, "scope": scope[:120], "key": key}
    row = None
    for _attempt in range(3):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(**lookup, request_hash=request_hash, created_at=now)
            break
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(**lookup).select_related("incident").first()
            if existing is None:
                continue  # released meanwhile: try again
            expired = existing.created_at < now - window
            abandoned = existing.incident_id is None and existing.created_at < stale
            if expired or abandoned:
                IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                continue
            if existing.incident_id is None:
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed; retry in a moment.",
                    code="idempotency_in_progress",
                ) from None
            if existing.request_hash != request_hash:
                raise Unprocessable(
                    "This Idempotency-Key was used for a different request; use a new key for a new incident.",
                    code="idempotency_key_reused",
                ) from None
            return existing.incident, False
    if row is None:
        raise Conflict("The Idempotency-Key is busy; retry in a moment.", code="idempotency_in_progress")
    try:
        incident = incident_declare(source=source, **declare)
    except Exception:
        IdempotencyKey.objects.filter(pk=row.pk).delete()
        raise
    IdempotencyKey.objects.filter(pk=row.pk).update(incident=incident)
    return incident, True


def idempotency_keys_expire() -> int:
    """Delete the keys past the window (beat task)."""
    cutoff = timezone.now() - settings.INCIDENT_IDEMPOTENCY_WINDOW
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def incident_lock(*, incident_id: int) -> Incident:
    """Lock the incident's row until the end of the caller's transaction (take it first, before other rows).

    For wings that change their own rows of an incident and must be ordered with the incident's other changes.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("incident_lock must run inside a transaction.")
    return _lock(incident_id)


@atomic
def incident_transition(
    *,
    incident: Incident | int,
    to: str,
    actor,
    source: str = Source.WEB,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Move the incident to status ``to``: lock the row, check the table, stamp the time, record the event.

    ``expected_version``: the version the caller was shown; a status change since then refuses (``StaleState``).
    """
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    versions.ensure_current(incident=incident, expected_version=expected_version, concern=versions.STATUS)
    try:
        target = state.check(incident.status, to)
    except state.TransitionError as exc:
        raise InvalidTransition(str(exc), field="to") from exc
    reason = _clean_text(reason, "reason")
    old = incident.status
    now = timezone.now()
    incident.status = target.value
    fields = ["status", "updated_at"]
    if target in STATUS_TIMESTAMP:
        setattr(incident, STATUS_TIMESTAMP[target], now)
        fields.append(STATUS_TIMESTAMP[target])
    if state.is_reopen(old, target):
        incident.resolved_at = None
        fields.append("resolved_at")
    incident.save(update_fields=fields)
    timeline_record(
        incident=incident,
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        source=source,
        text=reason,
        occurred_at=now,
        data={"old": old, "new": target.value, "reopened": state.is_reopen(old, target)},
    )
    return incident


@atomic
def incident_change_severity(
    *,
    incident: Incident | int,
    severity: Severity | str,
    actor,
    source: str = Source.WEB,
    reason: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Change the severity; a severity change since ``expected_version`` refuses (``StaleState``)."""
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    versions.ensure_current(incident=incident, expected_version=expected_version, concern=versions.SEVERITY)
    new = severity_get(value=severity)
    if new.pk == incident.severity_id:
        raise Conflict(f"The incident is already {new.name}.", code="unchanged", field="severity")
    old = Severity.objects.get(pk=incident.severity_id)
    incident.severity = new
    incident.save(update_fields=["severity", "updated_at"])
    timeline_record(
        incident=incident,
        kind=EventKind.SEVERITY_CHANGED,
        actor=actor,
        source=source,
        text=_clean_text(reason, "reason"),
        data={
            "old": old.slug,
            "new": new.slug,
            "escalated": new.rank < old.rank,
        },
    )
    return incident


UPDATABLE_FIELDS = ("title", "summary", "team", "services", "customer_impact", "private")


@atomic
def incident_update(
    *,
    incident: Incident | int,
    actor,
    source: str = Source.WEB,
    expected_version: int | None = None,
    **changes,
) -> Incident:
    """Change descriptive fields. Status, severity and roles have their own services.

    ``expected_version``: a change since then of a field this update changes refuses (``StaleState``): a form
    shown before someone else's edit would put the old values back.
    """
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    diff: dict[str, dict[str, Any]] = {}
    fields: list[str] = []
    if "title" in changes:
        title = _clean_title(changes["title"])
        if title != incident.title:
            diff["title"] = {"old": incident.title, "new": title}
            incident.title = title
            fields.append("title")
    if "summary" in changes:
        summary = _clean_text(changes["summary"], "summary")
        if summary != incident.summary:
            diff["summary"] = {"old": incident.summary, "new": summary}
            incident.summary = summary
            fields.append("summary")
    if "team" in changes:
        team = _team(changes["team"])
        if (team.pk if team else None) != incident.team_id:
            old_team = Team.objects.filter(pk=incident.team_id).values_list("slug", flat=True).first()
            diff["team"] = {"old": old_team, "new": team.slug if team else None}
            incident.team = team
            fields.append("team")
    for flag in ("customer_impact", "private"):
        if flag in changes:
            value = bool(changes[flag])
            if value != getattr(incident, flag):
                diff[flag] = {"old": getattr(incident, flag), "new": value}
                setattr(incident, flag, value)
                fields.append(flag)
    new_services = None
    if "services" in changes:
        new_services = _services(changes["services"])
        old_slugs = sorted(incident.services.values_list("slug", flat=True))
        new_slugs = sorted(s.slug for s in new_services)
        if old_slugs != new_slugs:
            diff["services"] = {"old": old_slugs, "new": new_slugs}
    if diff:
        versions.ensure_current(
            incident=incident, expected_version=expected_version, concern=versions.fields(diff)
        )
    if "services" in diff:
        incident.services.set(new_services)
    if fields:
        incident.save(update_fields=[*fields, "updated_at"])
    if diff:
        timeline_record(
            incident=incident,
            kind=EventKind.FIELDS_CHANGED,
            actor=actor,
            source=source,
            data={"changes": diff},
        )
    return incident


# --- Roles ----------------------------------------------------------------------------------------


def _assign_role(*, incident: Incident, role: Role, user, actor, source: str) -> RoleAssignment:
    if user is None or not getattr(user, "is_active", False):
        raise ValidationError("Choose an active user for the role.", field="user")
    now = timezone.now()
    current = (
        RoleAssignment.objects.select_for_update(of=("self",))
        .filter(incident=incident, role=role, relieved_at__isnull=True)
        .select_related("user")
        .first()
    )
    if current is not None and current.user_id == user.pk:
        raise Conflict(
            f"{user.get_username()} is already the {role.name.lower()}.", code="unchanged", field="user"
        )
    previous = None
    if current is not None:
        previous = current.user.get_username()
        current.relieved_at = now
        current.relieved_by_id = _actor_id(actor)
        current.save(update_fields=["relieved_at", "relieved_by"])
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                incident=incident, role=role, user=user, assigned_at=now, assigned_by_id=_actor_id(actor)
            )
    except IntegrityError as exc:  # a concurrent hand-off won the race
        raise Conflict("Someone else changed this role at the same moment; try again.") from exc
    timeline_record(
        incident=incident,
        kind=EventKind.ROLE_ASSIGNED,
        actor=actor,
        source=source,
        occurred_at=now,
        data={
            "role": role.slug,
            "role_name": role.name,
            "old": previous,
            "new": user.get_username(),
            "new_user_id": user.pk,
        },
    )
    incident.__dict__.pop("_current_holder_ids", None)
    return assignment


def _ensure_roles_editable(incident: Incident) -> None:
    if not state.roles_editable(incident.status):
        raise InvalidTransition(f"The incident is {incident.status}; its roles can no longer change.")


@atomic
def incident_assign_role(
    *,
    incident: Incident | int,
    role: Role | str,
    user,
    actor,
    source: str = Source.WEB,
    expected_version: int | None = None,
) -> RoleAssignment:
    """Give ``role`` to ``user``; the current holder, if any, is relieved (a recorded hand-off).

    ``expected_version``: a hand-off of this role since then refuses (``StaleState``), so "Take it" on a page
    that still says "Unassigned" does not silently replace the lead someone became meanwhile.
    """
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    _ensure_roles_editable(incident)
    role = _role(role)
    versions.ensure_current(
        incident=incident, expected_version=expected_version, concern=versions.role(role.slug)
    )
    return _assign_role(incident=incident, role=role, user=user, actor=actor, source=source)


@atomic
def incident_relieve_role(
    *,
    incident: Incident | int,
    role: Role | str,
    actor,
    source: str = Source.WEB,
    expected_version: int | None = None,
) -> RoleAssignment:
    """Leave ``role`` unheld: relieve its current holder (a hand-off of the role since ``expected_version``
    refuses: the holder shown is not the one who would be relieved)."""
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    _ensure_roles_editable(incident)
    role = _role(role)
    versions.ensure_current(
        incident=incident, expected_version=expected_version, concern=versions.role(role.slug)
    )
    current = (
        RoleAssignment.objects.select_for_update(of=("self",))
        .filter(incident=incident, role=role, relieved_at__isnull=True)
        .select_related("user")
        .first()
    )
    if current is None:
        raise Conflict(f"Nobody holds the {role.name.lower()} role.", code="unchanged", field="role")
    current.relieved_at = timezone.now()
    current.relieved_by_id = _actor_id(actor)
    current.save(update_fields=["relieved_at", "relieved_by"])
    timeline_record(
        incident=incident,
        kind=EventKind.ROLE_RELIEVED,
        actor=actor,
        source=source,
        occurred_at=current.relieved_at,
        data={"role": role.slug, "role_name": role.name, "old": current.user.get_username(), "new": None},
    )
    return current


# --- Participants ---------------------------------------------------------------------------------


def incident_add_participants(
    *, incident: Incident, users, reason: str, actor=None, source: str = Source.SYSTEM, via: str = ""
) -> list:
    """Bring ``users`` into a private incident (a page reached them, someone invited them), so that what they were
    sent about it and the incident itself agree: they see it like its team does. Recorded on the timeline; users
    who could already see it are left alone. Runs inside the caller's transaction, after ``incident_lock``.

    Returns the users added."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("incident_add_participants must run inside a transaction.")
    if not incident.private:
        return []
    added = [
        u
        for u in dict.fromkeys(users)
        if u is not None and u.is_active and not permissions.can_view(u, incident)
    ]
    if not added:
        return []
    now = timezone.now()
    Participant.objects.bulk_create(
        [Participant(incident=incident, user=u, reason=reason, added_at=now) for u in added],
        ignore_conflicts=True,
    )
    timeline_record(
        incident=incident,
        kind=EventKind.PARTICIPANTS_ADDED,
        actor=actor,
        source=source,
        via=via,
        occurred_at=now,
        data={"users": [u.get_username() for u in added], "reason": reason},
    )
    return added


# --- Notes and updates ----------------------------------------------------------------------------


@atomic
def incident_add_note(
    *, incident: Incident | int, text: str, actor, source: str = Source.WEB
) -> TimelineEvent:
    """A free-text note on the timeline. Anyone who can see the incident may add one."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    incident = Incident.objects.filter(pk=pk).first()
    if incident is None:
        raise NotFound("No such incident.")
    permissions.ensure(actor, incident, permissions.Action.NOTE)
    text = _clean_text(text, "text", required=True)
    return timeline_record(
        incident=incident, kind=EventKind.NOTE_ADDED, actor=actor, source=source, text=text
    )


@atomic
def incident_record_event(
    *,
    incident: Incident | int,
    kind: str,
    text: str = "",
    data: dict[str, Any] | None = None,
    actor=None,
    source: str = Source.SYSTEM,
) -> TimelineEvent:
    """Record an event of a kind a wing registered (a reminder sent, a page acknowledged ...) on the incident.

    The incident row is locked first, so the event is ordered with the incident's other changes. The kind must be
    registered in ``incidents.kinds``; the wings that react to it register consumers. The caller owns the
    permission check and makes its own wake-ups idempotent.
    """
    if not kinds.is_registered(kind):
        raise ValidationError(f"Unknown event kind '{kind}'.", field="kind")
    incident = _lock(incident)
    return timeline_record(
        incident=incident,
        kind=kind,
        actor=actor,
        source=source,
        text=_clean_text(text, "text", required=False),
        data=data or {},
    )


@atomic
def incident_post_update(
    *,
    incident: Incident | int,
    text: str,
    actor,
    source: str = Source.WEB,
    expected_version: int | None = None,
) -> TimelineEvent:
    """A status update for stakeholders and customers (what is known, what is being done, when the next update is).

    ``expected_version``: another update or a status change since then refuses (``StaleState``)."""
    incident = _lock(incident)
    permissions.ensure(actor, incident, permissions.Action.ACT)
    versions.ensure_current(incident=incident, expected_version=expected_version, concern=versions.UPDATE)
    text = _clean_text(text, "text", required=True)
    return timeline_record(
        incident=incident,
        kind=EventKind.UPDATE_POSTED,
        actor=actor,
        source=source,
        text=text,
        data={"status": incident.status, "severity_id": incident.severity_id},
    )
