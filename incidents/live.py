"""Live pages: the incident page, the dashboard and the list stay current by a cheap version poll.

A live page carries the *key* of the state it shows (``data-live-key``). Every ``LIVE_POLL_SECONDS`` the page asks
its own address again with ``?_live=<key>`` and the ``X-Muster-Live`` header. The view computes the current key
first, with one indexed query, and when it is the key the page sent it answers ``204 No Content`` without rendering
anything. Otherwise it renders the page as usual and ``static/js/muster.js`` swaps in every element marked
``data-live-region`` whose content changed (header, status actions, roles, severity, every panel the wings put in
the page's slots, the timeline), keeping what the person is typing, and highlights what changed.

The keys:

- an incident: ``<version>.<newest event id>``. Every change of its state bumps the version, and every change,
  notes included, appends a timeline event, so the pair changes whenever anything on the page could.
- the dashboard and the list: the newest timeline event id of all incidents (a declare records an event too), one
  lookup of the primary key index.

What depends on the clock alone (an update becoming overdue, a delivery state) has no event: the page asks for a
full render when the one it shows is older than ``LIVE_MAX_AGE_SECONDS``.

Why a poll and not server-sent events: Muster runs under gunicorn's sync workers, where one open event stream
holds a whole worker (200 open pages would need 200 workers), and proxies in front of it often buffer or cut long
responses; a short request every 15 s works through any proxy, survives a worker restart and costs one query when
nothing changed (``bench/README.md`` has the numbers for 200 open pages).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db.models import Max, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from incidents import permissions
from incidents.models import Incident, TimelineEvent

#: The query parameter that carries the key the page shows (left out of ``request.GET`` for the view).
PARAM = "_live"
#: The request header that marks a poll (a plain link with ``?_live=`` renders the page).
REQUEST_HEADER = "X-Muster-Live"
#: The response header with the current key.
KEY_HEADER = "X-Live-Key"


def incident_key(*, user, pk: int) -> str | None:
    """The key of the incident's state, or None when there is no such incident or ``user`` may not see it.

    One query for an incident that is not private; a private one adds the visibility check's queries."""
    newest = TimelineEvent.objects.filter(incident_id=OuterRef("pk")).order_by("-id").values("id")[:1]
    row = (
        Incident.objects.filter(pk=pk)
        .annotate(newest_event=Subquery(newest))
        .values_list("version", "newest_event", "private")
        .first()
    )
    if row is None:
        return None
    version, newest_event, private = row
    if private and not permissions.can_view(user, Incident.objects.get(pk=pk)):
        return None
    return f"{version}.{newest_event or 0}"


def global_key(*, user) -> str:
    """The key of everything the dashboard and the list show: the newest timeline event."""
    newest = TimelineEvent.objects.aggregate(newest=Max("id"))["newest"]
    return str(newest or 0)


def live_page(key: Callable[..., str | None]):
    """Make a page live: ``key(request, *args, **kwargs)`` is the key of the state it shows (None: let the view
    answer, e.g. its 404). A poll whose key is current gets ``204``; anything else renders the page, with
    ``request.live`` for the page's ``incidents/partials/live.html``."""

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            since = None
            if PARAM in request.GET:
                query = request.GET.copy()
                since = query.pop(PARAM)[-1]
                request.GET = query
            polled = since is not None and request.headers.get(REQUEST_HEADER) == "1"
            current = key(request, *args, **kwargs)
            if polled and current is not None and since == current:
                response = HttpResponse(status=204)
            else:
                request.live = {
                    "key": current or "",
                    "interval_ms": int(settings.LIVE_POLL_SECONDS * 1000),
                    "max_age_ms": int(settings.LIVE_MAX_AGE_SECONDS * 1000),
                }
                response = view(request, *args, **kwargs)
            if current is not None:
                response[KEY_HEADER] = current
            if polled:
                add_never_cache_headers(response)
            return response

        return wrapper

    return decorate


def incident_page_key(request: HttpRequest, pk: int, *args, **kwargs) -> str | None:
    return incident_key(user=request.user, pk=pk)


def global_page_key(request: HttpRequest, *args, **kwargs) -> str:
    return global_key(user=request.user)
