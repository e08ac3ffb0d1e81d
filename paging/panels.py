"""The incident page's "Paging" panel (slot ``incident.main``): who is being paged, acknowledge buttons, and the
form to page a team or a person. Its queries do not grow with the number of pages shown."""

from __future__ import annotations

from paging import selectors
from paging.models import Page
from paging.permissions import can_acknowledge, can_page
from teams.models import Team
from teams.selectors import assignable_user_groups

PAGES_SHOWN = 20


def incident_panel(incident, user) -> dict:
    pages = list(selectors.page_list_for_incident(incident=incident)[:PAGES_SHOWN])
    for page in pages:
        page.incident = (
            incident  # one incident for every row: permission checks share its cached role holders
        )
    ctx = {
        "incident": incident,
        "pages": pages,
        "acknowledgeable": {
            page.pk for page in pages if page.status == Page.Status.TRIGGERED and can_acknowledge(user, page)
        },
        "can_page": can_page(user, incident),
    }
    if ctx["can_page"]:
        ctx["teams"] = list(Team.objects.order_by("name").only("slug", "name"))
        ctx["users"] = assignable_user_groups(team=incident.team)
    return ctx
