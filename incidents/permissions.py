"""Who may see and do what on an incident. One place; every entrance (web, API, admin, Slack) asks here.

- Any signed-in user may declare, and may read and add notes to non-private incidents.
- Acting on an incident (status, severity, roles, details, updates) is for members of its team, its current role
  holders, its declarer and admins. An incident with no team yet may be acted on by anyone who can see it, so
  that someone can triage it.
- A private (security) incident is visible only to its participants (declarer, members of its team, anyone who
  has held a role on it, anyone brought in as a ``Participant``, e.g. paged for it) and admins. To everyone else it does not exist: 404, not 403, everywhere.
- Admins are superusers.
"""

from enum import StrEnum

from django.db.models import Q

from core.errors import NotFound, PermissionDenied
from teams.selectors import user_is_admin, user_team_ids


class Action(StrEnum):
    VIEW = "view"
    NOTE = "note"
    ACT = "act"  # transition, severity, roles, details, updates


def _authenticated(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_q(user, prefix: str = "") -> Q:
    """A filter for the incidents ``user`` may see; ``prefix`` for use across a relation (e.g. ``"incident__"``)."""
    if not _authenticated(user):
        return Q(pk__in=[])
    if user_is_admin(user):
        return Q()
    from incidents.models import Participant, RoleAssignment

    p = prefix
    return (
        Q(**{f"{p}private": False})
        | Q(**{f"{p}declared_by_id": user.pk})
        | Q(**{f"{p}team_id__in": user_team_ids(user)})
        | Q(**{f"{p}pk__in": RoleAssignment.objects.filter(user_id=user.pk).values("incident_id")})
        | Q(**{f"{p}pk__in": Participant.objects.filter(user_id=user.pk).values("incident_id")})
    )


def _current_holder_ids(incident) -> set[int]:
    cached = getattr(incident, "_current_holder_ids", None)
    if cached is None:
        assignments = getattr(incident, "current_assignments", None)
        if assignments is not None:
            cached = {a.user_id for a in assignments}
        else:
            cached = set(
                incident.role_assignments.filter(relieved_at__isnull=True).values_list("user_id", flat=True)
            )
        incident._current_holder_ids = cached
    return cached


def _ever_held_role(user, incident) -> bool:
    return incident.role_assignments.filter(user_id=user.pk).exists()


def can_view(user, incident) -> bool:
    if not _authenticated(user):
        return False
    if not incident.private or user_is_admin(user):
        return True
    return (
        incident.declared_by_id == user.pk
        or (incident.team_id is not None and incident.team_id in user_team_ids(user))
        or _ever_held_role(user, incident)
        or incident.participants.filter(user_id=user.pk).exists()
    )


def can_act(user, incident) -> bool:
    if not can_view(user, incident):
        return False
    if user_is_admin(user) or incident.team_id is None:
        return True
    return (
        incident.team_id in user_team_ids(user)
        or incident.declared_by_id == user.pk
        or user.pk in _current_holder_ids(incident)
    )


def can_note(user, incident) -> bool:
    return can_view(user, incident)


def can_declare(user) -> bool:
    return _authenticated(user)


CHECKS = {Action.VIEW: can_view, Action.NOTE: can_note, Action.ACT: can_act}


def ensure(user, incident, action: Action | str = Action.VIEW) -> None:
    """Raise ``NotFound`` if ``user`` may not see the incident, ``PermissionDenied`` if it may see but not act."""
    if not can_view(user, incident):
        raise NotFound("No such incident.")
    if not CHECKS[Action(action)](user, incident):
        raise PermissionDenied(
            "Only members of the incident's team, its role holders, its declarer and admins can do that."
        )
