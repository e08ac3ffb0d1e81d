"""Reads of teams, memberships and services."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q, QuerySet

from teams.models import Membership, Service, Team


def user_is_admin(user) -> bool:
    """Admins see and may do everything, private incidents included: superusers."""
    return bool(user and user.is_authenticated and user.is_active and user.is_superuser)


def user_team_ids(user) -> set[int]:
    """The ids of the teams ``user`` belongs to, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_muster_team_ids", None)
    if cached is None:
        cached = set(Membership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))
        user._muster_team_ids = cached
    return cached


def user_team_role(user, team: Team) -> str | None:
    if not user or not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, team=team).values_list("role", flat=True).first()


def team_list(*, q: str = "") -> QuerySet[Team]:
    """Teams with their member counts, optionally those whose name, slug or description contains ``q``."""
    qs = Team.objects.annotate(member_count=Count("memberships", distinct=True)).order_by("name")
    q = (q or "").strip()[:100]
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(description__icontains=q))
    return qs


def team_get(*, slug: str) -> Team | None:
    return Team.objects.filter(slug=slug).first()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")


def team_detail_queryset() -> QuerySet[Team]:
    return Team.objects.prefetch_related(
        Prefetch(
            "memberships", queryset=Membership.objects.select_related("user").order_by("user__username")
        ),
        "services",
    )


def service_list(*, team: Team | None = None) -> QuerySet[Service]:
    qs = Service.objects.select_related("team").order_by("name")
    if team is not None:
        qs = qs.filter(team=team)
    return qs


def assignable_user_list() -> QuerySet:
    """The users who may be given something to do: an incident role (lead, messenger...), a page, a team
    membership. Every active user, by first name then username."""
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "username")


def assignable_user_groups(*, team: Team | None) -> dict[str, list]:
    """The assignable users as a picker offers them: ``team``'s members first, then everyone else (two queries).

    Kept on the ``team`` object for the request, like ``user_team_ids``: the incident page offers the same
    people in its roles panel and its paging panel, from the same ``incident.team``.
    """
    cached = getattr(team, "_muster_assignable_groups", None) if team is not None else None
    if cached is None:
        users = list(assignable_user_list())
        member_ids = (
            set(Membership.objects.filter(team=team).values_list("user_id", flat=True)) if team else set()
        )
        cached = (
            [u for u in users if u.pk in member_ids],
            [u for u in users if u.pk not in member_ids],
        )
        if team is not None:
            team._muster_assignable_groups = cached
    return {"team": list(cached[0]), "others": list(cached[1])}


def user_get(*, username: str):
    """An assignable user by username (case-insensitive) or email, or None."""
    username = (username or "").strip()
    if not username:
        return None
    user = assignable_user_list().filter(username__iexact=username).first()
    if user is None and "@" in username:
        user = assignable_user_list().filter(email__iexact=username).first()
    return user
