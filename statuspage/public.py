"""The public HTML page of each status page and its RSS 2.0 and Atom feeds, served from the same cache as the
Statuspage API (``statuspage.cache``): rendered once from one snapshot, stored under the page's generation, so a
warm request does no database query and a committed change shows at once.

A public page never looks at the session or the signed-in user (nothing on it depends on them, so nothing varies
on cookies and a CDN may keep it); an internal page is for signed-in people and is 404 to anyone else. The page
extends its own standalone base template: no staff navigation, links, names or notes. What it shows is the
public incidents' own text, autoescaped in the HTML and XML-escaped in the feeds (``django.utils.feedgenerator``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import feedgenerator, timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_safe

from statuspage import cache, history, selectors, state
from statuspage.api.render import page_url
from statuspage.api.views import SLUG_MAX, _matches
from statuspage.models import ComponentStatus, PublicIncident, PublicUpdate, ScheduledMaintenance
from statuspage.selectors import Snapshot

PAGE = "page.html"
RSS = "history.rss"
ATOM = "history.atom"
CONTENT_TYPES = {
    PAGE: "text/html; charset=utf-8",
    RSS: "application/rss+xml; charset=utf-8",
    ATOM: "application/atom+xml; charset=utf-8",
}
OUTPUTS = tuple(CONTENT_TYPES)
#: The page runs no script and loads only its own stylesheet: anything injected past the escaping stays inert.
PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"

LABELS = {
    **dict(ComponentStatus.choices),
    **dict(PublicIncident.Status.choices),
    **dict(ScheduledMaintenance.Status.choices),
}


def utc(value: datetime) -> str:
    """``14:30 UTC, 8 Dec`` (with the year when it is not this year's)."""
    value = value.astimezone(UTC)
    text = f"{value:%H:%M} UTC, {value.day} {value:%b}"
    return text if value.year == timezone.now().year else f"{text} {value.year}"


def _updates(updates, names: dict[int, str]) -> list[dict]:
    return [
        {
            "code": u.code,
            "status": u.status,
            "label": LABELS.get(u.status, u.status),
            "body": u.body,
            "at": utc(u.display_at),
            "iso": u.display_at.astimezone(UTC).isoformat(),
            "affected": [names[a.component_id] for a in u.affected.all() if a.component_id in names]
            if isinstance(u, PublicUpdate)
            else [],
        }
        for u in updates
    ]


def _incident(i: PublicIncident, names: dict[int, str]) -> dict:
    return {
        "code": i.code,
        "name": i.name,
        "impact": i.impact,
        "status": i.status,
        "label": LABELS.get(i.status, i.status),
        "updates": _updates(i.updates.all(), names),
        "started": utc(i.created_at),
        "resolved": utc(i.resolved_at) if i.resolved_at else "",
    }


def _maintenance(m: ScheduledMaintenance, names: dict[int, str]) -> dict:
    return {
        "code": m.code,
        "name": m.name,
        "impact": m.impact,
        "status": m.status,
        "label": LABELS.get(m.status, m.status),
        "updates": _updates(m.updates.all(), names),
        "components": [names[c.pk] for c in m.components.all() if c.pk in names],
        "starts": utc(m.scheduled_for),
        "ends": utc(m.scheduled_until),
    }


def _component(snap: Snapshot, c, worst: dict[int, dict], now: datetime) -> dict:
    status = snap.status_of[c.pk]
    return {
        "code": c.code,
        "name": c.name,
        "description": c.description,
        "status": status,
        "label": LABELS[status],
        "bars": history.bars(worst.get(c.pk, {}), now=now) if c.showcase else None,
    }


def _shown(snap: Snapshot, c) -> bool:
    return not c.only_show_if_degraded or snap.status_of[c.pk] != ComponentStatus.OPERATIONAL


def page_context(snap: Snapshot, past: list[PublicIncident], *, now: datetime) -> dict:
    names = {c.pk: c.name for c in snap.components}
    worst = history.worst_by_day(past, now=now)
    rows = [
        (c.position, c.name, {"component": _component(snap, c, worst, now)})
        for c in snap.components
        if not c.group_id and _shown(snap, c)
    ]
    for g in snap.groups:
        members = [c for c in snap.group_members.get(g.pk, []) if _shown(snap, c)]
        if not members:
            continue
        status = state.worst_component_status(snap.status_of[c.pk] for c in members)
        rows.append(
            (
                g.position,
                g.name,
                {
                    "group": {"name": g.name, "status": status, "label": LABELS[status]},
                    "members": [_component(snap, c, worst, now) for c in members],
                },
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    maintenances = sorted(snap.maintenances, key=lambda m: (m.scheduled_for, m.pk))
    return {
        "page": snap.page,
        "indicator": snap.indicator,
        "description": snap.description,
        "rows": [r[2] for r in rows],
        "incidents": [_incident(i, names) for i in snap.unresolved],
        "active": [_maintenance(m, names) for m in maintenances if m.status in state.ACTIVE_MAINTENANCE],
        "upcoming": [_maintenance(m, names) for m in maintenances if m.status in state.UPCOMING_MAINTENANCE],
        "past": [
            {"day": f"{d.day} {d:%b %Y}", "incidents": [_incident(i, names) for i in incidents]}
            for d, incidents in history.past_days(past, now=now)
        ],
        "history_days": history.HISTORY_DAYS,
        "rendered_at": utc(now),
    }


def _update_html(updates) -> str:
    """An incident's or maintenance's updates as the HTML of a feed entry, newest first, every text escaped."""
    return format_html_join(
        "\n",
        "<p><small>{}</small><br><strong>{}</strong> - {}</p>",
        ((utc(u.display_at), LABELS.get(u.status, u.status), u.body) for u in updates),
    )


def feed(snap: Snapshot, kind: str) -> bytes:
    url = page_url(snap.page)
    generator = feedgenerator.Rss201rev2Feed if kind == RSS else feedgenerator.Atom1Feed
    f = generator(
        title=f"{snap.page.name} status",
        link=url,
        description=f"Incidents and maintenances of {snap.page.name}",
        language="en",
        feed_url=f"{url}{kind}",
        feed_guid=f"{url}{kind}",
    )
    items = [("incident", i, "") for i in snap.recent] + [
        (
            "maintenance",
            m,
            format_html("<p>Scheduled {} to {}</p>", utc(m.scheduled_for), utc(m.scheduled_until)),
        )
        for m in snap.maintenances
    ]
    items.sort(key=lambda item: (item[1].created_at, item[1].pk), reverse=True)
    for anchor, row, window in items[: selectors.RECENT_LIMIT]:
        updates = list(row.updates.all())
        link = f"{url}#{anchor}-{row.code}"
        latest = max((u.display_at for u in updates), default=row.updated_at)
        f.add_item(
            title=row.name,
            link=link,
            description=window + (_update_html(updates) or format_html("<p>{}</p>", LABELS[row.status])),
            unique_id=link,
            unique_id_is_permalink=False,
            pubdate=row.created_at,
            updateddate=max(latest, row.updated_at),
        )
    return f.writeString("utf-8").encode()


def _entry(body: bytes, public: bool) -> cache.Entry:
    return cache.Entry(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', public=public)


def entries(snap: Snapshot, *, now: datetime) -> dict[str, cache.Entry]:
    past = history.history_incidents(page=snap.page, now=now)
    html = render_to_string("statuspage/page.html", page_context(snap, past, now=now)).encode()
    public = snap.page.is_public
    return {
        PAGE: _entry(html, public),
        RSS: _entry(feed(snap, RSS), public),
        ATOM: _entry(feed(snap, ATOM), public),
    }


def _render(ref: str, output: str) -> cache.Entry:
    token = cache.generation(ref)
    page = selectors.page_default() if ref == cache.DEFAULT_REF else selectors.page_get(slug=ref)
    if page is None:
        cache.store(ref, token, dict.fromkeys(OUTPUTS, cache.MISSING))
        return cache.MISSING
    rendered = entries(selectors.page_snapshot(page=page), now=timezone.now())
    cache.store(ref, token, rendered)
    return rendered[output]


def _not_found() -> HttpResponse:
    response = HttpResponse(
        b"<!doctype html><title>Not found</title><p>No such status page.</p>",
        status=404,
        content_type="text/html; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def output(request, output: str, slug: str | None = None):
    if slug is not None and len(slug) > SLUG_MAX:
        return _not_found()
    ref = slug if slug is not None else cache.DEFAULT_REF
    _, entry = cache.lookup(ref, output)
    if entry is None:
        entry = _render(ref, output)
    if entry.missing:
        return _not_found()
    # Only an internal page looks at who is asking: a public one never reads the session.
    if not entry.public and not request.user.is_authenticated:
        return _not_found()
    if _matches(request.headers.get("If-None-Match", ""), entry.etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(entry.body, content_type=CONTENT_TYPES[output])
    response["ETag"] = entry.etag
    if output == PAGE:
        response["Content-Security-Policy"] = PAGE_CSP
    if entry.public:
        response["Cache-Control"] = f"public, max-age={settings.STATUSPAGE_MAX_AGE}"
    else:
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Cookie"
    return response
