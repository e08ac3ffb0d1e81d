"""Who may change a status page and publish to it.

- A page, its components and its maintenances are managed by the leads and admins of the page's team, and by
  administrators; a page without a team by administrators only.
- A public incident is published by the page's managers, or, when it is linked to an incident, by anyone who may
  act on that incident (its team, its role holders such as the messenger, its declarer): the messenger publishes.
- ``actor=None`` is the system (a task, a migration): no check.
"""

from __future__ import annotations

from core.errors import NotFound, PermissionDenied
from incidents import permissions as incident_permissions
from teams.models import Membership, Team
from teams.selectors import user_is_admin

MANAGE_REFUSAL = (
    "Only administrators and the leads and admins of its team can create or change a status page."
)
CREATE_REFUSAL = MANAGE_REFUSAL
PUBLISH_REFUSAL = "Only the status page's managers and those who may act on the incident can publish to it."


def _signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _leads(user, team: Team | None) -> bool:
    return team is not None and (
        Membership.objects.filter(
            team=team, user=user, role__in=[Membership.Role.LEAD, Membership.Role.ADMIN]
        ).exists()
    )


def can_create_page(user, team: Team | None) -> bool:
    return _signed_in(user) and (user_is_admin(user) or _leads(user, team))


def can_manage(user, page) -> bool:
    if not _signed_in(user):
        return False
    return user_is_admin(user) or _leads(user, page.team)


def can_publish(user, page, incident=None) -> bool:
    if can_manage(user, page):
        return True
    return incident is not None and incident_permissions.can_act(user, incident)


def ensure_can_create_page(user, team: Team | None) -> None:
    if user is not None and not can_create_page(user, team):
        raise PermissionDenied(CREATE_REFUSAL, field="team")


def ensure_can_manage(user, page) -> None:
    if user is not None and not can_manage(user, page):
        raise PermissionDenied(MANAGE_REFUSAL)


def ensure_can_publish(user, page, incident=None) -> None:
    if user is None:
        return
    if incident is not None and not incident_permissions.can_view(user, incident):
        raise NotFound("No such incident.", field="incident")
    if not can_publish(user, page, incident):
        raise PermissionDenied(PUBLISH_REFUSAL)
