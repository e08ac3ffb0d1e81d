"""The staff web UI for teams: list, detail (members, services, open incidents), add a member, create a team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, PermissionDenied
from incidents import selectors as incident_selectors
from teams import selectors, services
from teams.forms import MemberAddForm, TeamCreateForm, add_domain_error
from teams.models import Team


def _can_manage(user, team: Team | None) -> bool:
    # The rule lives in teams.services; the UI only asks it, to decide which controls to show.
    return services._can_manage_team(user, team)


def _team_or_404(slug: str) -> Team:
    team = selectors.team_detail_queryset().filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.team_list().prefetch_related("services"))
    open_counts = incident_selectors.open_incident_counts(user=request.user)["by_team"]
    mine = selectors.user_team_ids(request.user)
    for team in teams:
        team.open_count = open_counts.get(team.slug, 0)
        team.is_mine = team.pk in mine
    return render(
        request,
        "teams/list.html",
        {"teams": teams, "can_create": _can_manage(request.user, None)},
    )


def _detail_context(request: HttpRequest, team: Team, member_form: MemberAddForm | None = None) -> dict:
    incidents = list(
        incident_selectors.incident_list(user=request.user, filters={"team": team.slug, "status": "open"})
    )
    for incident in incidents:
        incident.lead = next((a.user for a in incident.current_assignments if a.role.slug == "lead"), None)
    can_manage = _can_manage(request.user, team)
    return {
        "team": team,
        "memberships": list(team.memberships.all()),
        "services": list(team.services.all()),
        "incidents": incidents,
        "can_manage": can_manage,
        "member_form": member_form or (MemberAddForm() if can_manage else None),
    }


@login_required
@require_GET
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_or_404(slug)
    return render(request, "teams/detail.html", _detail_context(request, team))


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_or_404(slug)
    if not _can_manage(request.user, team):
        raise DjangoPermissionDenied("Only the team's leads and admins can change its members.")
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user = selectors.user_get(username=form.cleaned_data["username"])
        if user is None:
            form.add_error("username", "No active user with that username or email.")
        else:
            try:
                membership = services.membership_set(
                    team=team, user=user, role=form.cleaned_data["role"], actor=request.user
                )
            except PermissionDenied as error:
                raise DjangoPermissionDenied(error.message) from None
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    f"{user.get_full_name() or user.get_username()} is now a {membership.get_role_display().lower()} of {team.name}.",
                )
                return redirect("teams:detail", slug=team.slug)
    return render(request, "teams/detail.html", _detail_context(request, team, form), status=400)


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    if not _can_manage(request.user, None):
        raise DjangoPermissionDenied("Only staff and admins can create teams.")
    status = 200
    if request.method == "POST":
        form = TeamCreateForm(request.POST)
        if form.is_valid():
            try:
                team = services.team_create(
                    name=form.cleaned_data["name"],
                    slug=form.cleaned_data["slug"],
                    description=form.cleaned_data["description"],
                    actor=request.user,
                )
            except PermissionDenied as error:
                raise DjangoPermissionDenied(error.message) from None
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, f"Team {team.name} created. Add its members below.")
                return redirect("teams:detail", slug=team.slug)
        status = 400
    else:
        form = TeamCreateForm()
    return render(request, "teams/create.html", {"form": form}, status=status)
