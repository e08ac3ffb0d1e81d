"""Every write to teams, memberships and services."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core.db import atomic
from core.errors import Conflict, PermissionDenied, ValidationError
from core.validation import reject_nul
from teams.models import Membership, Service, Team
from teams.selectors import user_is_admin, user_team_role


def can_manage_team(user, team: Team | None) -> bool:
    """Superusers manage every team; a team's leads and admins manage it; staff may create new teams."""
    if user_is_admin(user):
        return True
    if team is None:
        return bool(getattr(user, "is_staff", False))
    return user_team_role(user, team) in (Membership.Role.LEAD, Membership.Role.ADMIN)


def _clean_name(model, name: str, *, noun: str, exclude_pk: int | None = None) -> str:
    """A trimmed, non-empty name that fits the column and no other row of ``model`` has (case-insensitive)."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(f"A {noun} needs a name.", field="name")
    limit = model._meta.get_field("name").max_length
    if len(name) > limit:
        raise ValidationError(f"Keep the {noun}'s name under {limit} characters.", field="name")
    clash = model.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(f"A {noun} named '{name}' already exists.", code="duplicate", field="name")
    return name


DESCRIPTION_MAX = 20_000


def _clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            f"Keep the description under {DESCRIPTION_MAX} characters of text.", field="description"
        )
    return reject_nul(description, field="description")


#: Slugs that would shadow a page under /teams/.
RESERVED_SLUGS = frozenset({"new", "create", "edit", "delete", "api"})


@atomic
def team_create(*, name: str, slug: str = "", description: str = "", actor: AbstractBaseUser) -> Team:
    if not can_manage_team(actor, None):
        raise PermissionDenied("Only staff and admins can create teams.")
    name = _clean_name(Team, name, noun="team")
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ValidationError("A team needs a slug of letters, digits or dashes.", field="slug")
    if slug in RESERVED_SLUGS:
        raise ValidationError(f"'{slug}' is reserved; choose another slug.", field="slug")
    if Team.objects.filter(slug=slug).exists():
        raise Conflict(f"A team with slug '{slug}' already exists.", code="duplicate", field="slug")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, slug=slug, description=_clean_description(description))
    except IntegrityError as exc:
        raise Conflict("That team already exists.", code="duplicate") from exc
    if not user_is_admin(actor):
        Membership.objects.create(team=team, user=actor, role=Membership.Role.ADMIN)
    return team


@atomic
def team_update(
    *, team: Team, actor: AbstractBaseUser, name: str | None = None, description: str | None = None
) -> Team:
    if not can_manage_team(actor, team):
        raise PermissionDenied("Only the team's leads and admins can change it.")
    if name is not None:
        team.name = _clean_name(Team, name, noun="team", exclude_pk=team.pk)
    if description is not None:
        team.description = _clean_description(description)
    team.save()
    return team


@atomic
def membership_set(*, team: Team, user: AbstractBaseUser, role: str, actor: AbstractBaseUser) -> Membership:
    """Add ``user`` to ``team`` with ``role``, or change the role of an existing member."""
    if role not in Membership.Role.values:
        raise ValidationError(
            f"Unknown team role '{role}'. Use one of: {', '.join(Membership.Role.values)}.", field="role"
        )
    if not can_manage_team(actor, team):
        raise PermissionDenied("Only the team's leads and admins can change its members.")
    membership, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    return membership


@atomic
def membership_remove(*, team: Team, user: AbstractBaseUser, actor: AbstractBaseUser) -> None:
    if not can_manage_team(actor, team):
        raise PermissionDenied("Only the team's leads and admins can change its members.")
    Membership.objects.filter(team=team, user=user).delete()


@atomic
def service_create(
    *, team: Team, name: str, slug: str = "", description: str = "", actor: AbstractBaseUser
) -> Service:
    if not can_manage_team(actor, team):
        raise PermissionDenied("Only the team's leads and admins can add services.")
    name = _clean_name(Service, name, noun="service")
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ValidationError("A service needs a slug of letters, digits or dashes.", field="slug")
    if Service.objects.filter(slug=slug).exists():
        raise Conflict(f"A service with slug '{slug}' already exists.", code="duplicate", field="slug")
    return Service.objects.create(
        team=team, name=name, slug=slug, description=_clean_description(description)
    )


@atomic
def service_update(
    *,
    service: Service,
    actor: AbstractBaseUser,
    name: str | None = None,
    description: str | None = None,
    team: Team | None = None,
) -> Service:
    """Rename, describe or move a service to another team (the actor must manage both teams)."""
    if not can_manage_team(actor, service.team) or (team is not None and not can_manage_team(actor, team)):
        raise PermissionDenied("Only the team's leads and admins can change its services.")
    if name is not None:
        service.name = _clean_name(Service, name, noun="service", exclude_pk=service.pk)
    if description is not None:
        service.description = _clean_description(description)
    if team is not None:
        service.team = team
    service.save()
    return service


@atomic
def service_delete(*, service: Service, actor: AbstractBaseUser) -> None:
    """Delete a service that no incident refers to (incidents keep their history)."""
    if not can_manage_team(actor, service.team):
        raise PermissionDenied("Only the team's leads and admins can remove its services.")
    if service.incidents.exists():
        raise Conflict(
            f"Incidents refer to '{service.name}'; it stays in the catalog to keep their history.",
            code="in_use",
        )
    service.delete()
