"""The staff web UI for teams: list, detail (members, services), add a member, create a team.

Teams sit below incidents (``core <- teams <- incidents``), so these views import nothing from ``incidents``: the
open incidents of a team and the open counts on the team list are fragments served by ``incidents.views`` and
loaded into the page with htmx (with a plain link to the filtered incident list when JavaScript is off).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, PermissionDenied
from core.forms import add_domain_error
from teams import selectors, services
from teams.forms import MemberAddForm, TeamCreateForm
from teams.models import Team

PAGE_SIZE = 24


def _can_manage(user, team: Team | None) -> bool:
    # The rule lives in teams.services; the UI only asks it, to decide which controls to show.
    return services.can_manage_team(user, team)


def _team_or_404(slug: str) -> Team:
    team = selectors.team_detail_queryset().filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    teams = selectors.team_list(q=q).prefetch_related("services")
    page = Paginator(teams, PAGE_SIZE).get_page(request.GET.get("page"))
    mine = selectors.user_team_ids(request.user)
    page.object_list = list(page.object_list)
    for team in page.object_list:
        team.is_mine = team.pk in mine
    return render(
        request,
        "teams/list.html",
        {"teams": page.object_list, "page": page, "q": q, "can_create": _can_manage(request.user, None)},
    )


def _detail_context(request: HttpRequest, team: Team, member_form: MemberAddForm | None = None) -> dict:
    can_manage = _can_manage(request.user, team)
    return {
        "team": team,
        "memberships": list(team.memberships.all()),
        "services": list(team.services.all()),
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
