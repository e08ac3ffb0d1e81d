"""The Statuspage API v2 of each page, served from the cache (``statuspage.cache``): a warm request does no
database query, answers ``ETag`` with ``304`` on a matching ``If-None-Match``, and says how long a CDN may keep it.

A public page is read signed out (and by browsers on other sites: ``Access-Control-Allow-Origin: *``, as
Statuspage answers, so widgets work). An internal page is for signed-in people: to anyone else it does not exist
(404, like a missing page), and it is never stored by shared caches.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_safe

from statuspage import cache, selectors
from statuspage.api import render

SLUG_MAX = 50


def _not_found() -> JsonResponse:
    response = JsonResponse({"detail": "No such status page.", "code": "not_found"}, status=404)
    response["Cache-Control"] = "no-store"
    return response


def _render(ref: str, endpoint: str) -> cache.Entry:
    token = cache.generation(ref)
    page = selectors.page_default() if ref == cache.DEFAULT_REF else selectors.page_get(slug=ref)
    if page is None:
        cache.store(ref, token, dict.fromkeys(cache.ENDPOINTS, cache.MISSING))
        return cache.MISSING
    entries = render.entries(selectors.page_snapshot(page=page))
    cache.store(ref, token, entries)
    return entries[endpoint]


def _matches(header: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@require_safe
def endpoint(request, endpoint: str, slug: str | None = None):
    if slug is not None and len(slug) > SLUG_MAX:
        return _not_found()
    ref = slug if slug is not None else cache.DEFAULT_REF
    _, entry = cache.lookup(ref, endpoint)
    if entry is None:
        entry = _render(ref, endpoint)
    if entry.missing:
        return _not_found()
    if not entry.public and not request.user.is_authenticated:
        return _not_found()
    if _matches(request.headers.get("If-None-Match", ""), entry.etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(entry.body, content_type="application/json")
    response["ETag"] = entry.etag
    if entry.public:
        response["Cache-Control"] = f"public, max-age={settings.STATUSPAGE_MAX_AGE}"
        response["Access-Control-Allow-Origin"] = "*"
    else:
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Cookie"
    return response


@require_safe
def shortlink(request, code: str):
    """``/status/s/<code>``, the shortlink of a public incident or maintenance: to its page."""
    page = selectors.shortlink_page(shortlink=code[:12])
    if page is None or (not page.is_public and not request.user.is_authenticated):
        return _not_found()
    return HttpResponseRedirect(render.page_url(page))
