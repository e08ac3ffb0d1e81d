"""Who may page, acknowledge and change escalation policies. The services check these; views and templates ask
them to show only what a person can do.

- Page: anyone who may act on the incident (``incidents.permissions``), while it is open.
- Acknowledge: the people paged, anyone who may act on the incident, or anyone signed in holding the page's ack token
  (the link in the message).
- Escalation policies: the team's leads and admins, and Muster's admins.
"""

from __future__ import annotations

from core.errors import PermissionDenied
from incidents import permissions as incident_permissions
from paging.models import Page
from paging.state import INCIDENT_OPEN
from teams.models import Membership, Team
from teams.selectors import user_is_admin


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def can_page(user, incident) -> bool:
    return incident.status in INCIDENT_OPEN and incident_permissions.can_act(user, incident)


def can_acknowledge(user, page: Page, token: str | None = None) -> bool:
    if not _signed_in(user):
        return False
    if token is not None and token == page.ack_token:
        return True
    if page.user_id == user.pk:
        return True
    if any(user.pk in (s.notified or []) for s in page.steps.all()):
        return True
    return incident_permissions.can_act(user, page.incident)


def can_manage_policies(user, team: Team) -> bool:
    if not _signed_in(user):
        return False
    if user_is_admin(user):
        return True
    return Membership.objects.filter(
        team=team, user=user, role__in=[Membership.Role.LEAD, Membership.Role.ADMIN]
    ).exists()


def ensure_can_manage_policies(user, team: Team) -> None:
    if not can_manage_policies(user, team):
        raise PermissionDenied("Only the team's leads and admins can change its escalation policies.")
