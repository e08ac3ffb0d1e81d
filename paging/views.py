"""Web entrances of paging: page a team or a person from the incident page, acknowledge (button or the link in
the message), and the list of one's pages. Every write calls ``paging.services``; plain POST forms, then a
redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.views import safe_next_url
from incidents import permissions
from incidents import selectors as incident_selectors
from incidents.models import Source
from paging import selectors, services
from paging.forms import PageForm
from paging.models import Page
from teams.models import Team

PAGE_SIZE = 25


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    return redirect(safe_next_url(request, fallback))


@login_required
@require_POST
def page_create(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        incident = incident_selectors.incident_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such incident.") from None
    form = PageForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(incident)
    data = form.cleaned_data
    team = user = None
    if data.get("team"):
        team = Team.objects.filter(slug=data["team"]).first()
        if team is None:
            messages.error(request, "No such team.")
            return redirect(incident)
    else:
        user = get_user_model().objects.filter(pk=data["user"], is_active=True).first()
        if user is None:
            messages.error(request, "No such person.")
            return redirect(incident)
    try:
        page = services.page_create(
            incident=incident,
            team=team,
            user=user,
            actor=request.user,
            source=Source.WEB,
            reason=data["reason"],
            expected_version=data["version"],
        )
    except DomainError as error:
        if isinstance(error, NotFound):
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        who = f"the {page.team.name} team" if page.team_id else (user.get_full_name() or user.get_username())
        messages.success(request, f"Paging {who}.")
    return redirect(incident)


@login_required
@require_POST
def page_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        page = selectors.page_get(user=request.user, pk=pk)
        services.page_acknowledge(page=page, actor=request.user, source=Source.WEB)
    except NotFound:
        raise Http404("No such page.") from None
    except DomainError as error:
        messages.error(request, error.message)
        return _back(request, page.incident.get_absolute_url())
    messages.success(request, "Acknowledged: escalation stopped.")
    return _back(request, page.incident.get_absolute_url())


@login_required
@require_http_methods(["GET", "POST"])
def page_ack_link(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The link in the page message: a confirmation page (GET), then the acknowledgement (POST)."""
    page = selectors.page_get_by_ack_token(pk=pk, token=token)
    if page is None:
        raise Http404("This acknowledgement link is not valid.")
    if request.method == "POST":
        try:
            services.page_acknowledge(page=page, actor=request.user, source=Source.WEB, token=token)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise Http404(error.message) from None
            messages.error(request, error.message)
        else:
            messages.success(request, "Acknowledged: escalation stopped. Thank you.")
        page.refresh_from_db()
    can_see = permissions.can_view(request.user, page.incident)
    return render(request, "paging/ack.html", {"page": page, "token": token, "can_see": can_see})


@login_required
@require_GET
def my_pages(request: HttpRequest) -> HttpResponse:
    """The pages that reached me: still ringing first, then the newest."""
    status = request.GET.get("status", "")
    pages = selectors.pages_for_user(user=request.user)
    if status in Page.Status.values:
        pages = pages.filter(status=status)
    else:
        status = ""
    paginator = Paginator(pages, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "paging/list.html",
        {
            "page_obj": page_obj,
            "pages": page_obj.object_list,
            "status": status,
            "statuses": Page.Status.choices,
        },
    )
