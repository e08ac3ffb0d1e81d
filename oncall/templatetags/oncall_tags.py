"""Template tags of the on-call app: the incident page's paging panel and page status pills."""

from __future__ import annotations

from django import template
from django.middleware.csrf import get_token
from django.utils.html import format_html

from incidents import permissions
from oncall import paging
from oncall.models import Page
from teams.models import Team
from teams.selectors import assignable_user_groups

register = template.Library()

# Page statuses shown with the incident status pills' colours.
PILL_CLASS = {
    Page.Status.TRIGGERED: "status-investigating",
    Page.Status.ACKNOWLEDGED: "status-resolved",
    Page.Status.EXHAUSTED: "status-triage",
    Page.Status.CANCELLED: "status-closed",
}


@register.simple_tag
def page_pill(page: Page, size: str = "sm") -> str:
    classes = f"pill {PILL_CLASS.get(page.status, '')}" + (f" pill-{size}" if size in ("lg", "sm") else "")
    return format_html(
        '<span class="{}" data-page-status="{}"><span class="pill-dot" aria-hidden="true"></span>{}</span>',
        classes,
        page.status,
        page.get_status_display(),
    )


@register.inclusion_tag("oncall/paging/panel.html", takes_context=True)
def page_panel(context, incident) -> dict:
    """The "Page" panel of the incident page: who is being paged, acknowledge buttons, and the paging form."""
    request = context.get("request")
    user = getattr(request, "user", None)
    can_act = permissions.can_act(user, incident)
    pages = list(paging.page_list_for_incident(incident=incident)[:20])
    for page in pages:
        page.incident = (
            incident  # one incident for every row: permission checks share its cached role holders
        )
        page.can_ack = page.status == Page.Status.TRIGGERED and paging.can_acknowledge(user, page)
        page.step_count = len(page.steps.all())
    ctx = {
        "incident": incident,
        "pages": pages,
        "can_page": can_act and incident.status in paging.OPEN,
        "request": request,
        "csrf_token": get_token(request) if request is not None else "",
    }
    if ctx["can_page"]:
        ctx["teams"] = list(Team.objects.order_by("name").only("slug", "name"))
        ctx["users"] = assignable_user_groups(team=incident.team)
    return ctx
