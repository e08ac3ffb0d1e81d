"""The Statuspage API v2 documents of a page, as Atlassian's public API shapes them (``tests/fixtures``), rendered
from one snapshot. Times are UTC with milliseconds (``2026-12-08T00:50:00.123Z``).

Nothing here reads an incident: names, impacts and update texts are the public incident's own, so no internal
note, private title or responder's name can reach the output.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from django.conf import settings

from statuspage import state
from statuspage.cache import Entry
from statuspage.models import Component, ComponentGroup, PublicIncident, ScheduledMaintenance, StatusPage
from statuspage.selectors import Snapshot


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def page_url(page: StatusPage) -> str:
    return page.url or f"{settings.SITE_URL.rstrip('/')}/status/{page.slug}/"


def _page(page: StatusPage) -> dict:
    return {"id": page.code, "name": page.name, "url": page_url(page), "updated_at": ts(page.updated_at)}


def _summary_component(snap: Snapshot, c: Component) -> dict:
    return {
        "created_at": ts(c.created_at),
        "description": c.description or None,
        "id": c.code,
        "name": c.name,
        "page_id": snap.page.code,
        "position": c.position,
        "status": snap.status_of[c.pk],
        "updated_at": ts(c.updated_at),
    }


def _component(snap: Snapshot, c: Component) -> dict:
    return {
        **_summary_component(snap, c),
        "group": False,
        "group_id": c.group.code if c.group_id else None,
        "only_show_if_degraded": c.only_show_if_degraded,
        "showcase": c.showcase,
        "start_date": None,
    }


def _group(snap: Snapshot, g: ComponentGroup) -> dict:
    members = snap.group_members.get(g.pk, [])
    return {
        "created_at": ts(g.created_at),
        "description": g.description or None,
        "group": True,
        "group_id": None,
        "id": g.code,
        "name": g.name,
        "only_show_if_degraded": False,
        "page_id": snap.page.code,
        "position": g.position,
        "showcase": False,
        "start_date": None,
        "status": state.worst_component_status(snap.status_of[c.pk] for c in members),
        "updated_at": ts(g.updated_at),
        "components": [c.code for c in members],
    }


def _updates(snap: Snapshot, parent, updates) -> list[dict]:
    return [
        {
            "body": u.body,
            "created_at": ts(u.created_at),
            "display_at": ts(u.display_at),
            "id": u.code,
            "incident_id": parent.code,
            "status": u.status,
            "updated_at": ts(u.updated_at),
        }
        for u in updates
    ]


def _shortlink(page: StatusPage, code: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/status/s/{code}"


def _incident(snap: Snapshot, i: PublicIncident) -> dict:
    return {
        "created_at": ts(i.created_at),
        "id": i.code,
        "impact": i.impact,
        "incident_updates": _updates(snap, i, i.updates.all()),
        "monitoring_at": ts(i.monitoring_at),
        "name": i.name,
        "page_id": snap.page.code,
        "resolved_at": ts(i.resolved_at),
        "shortlink": _shortlink(snap.page, i.shortlink),
        "status": i.status,
        "updated_at": ts(i.updated_at),
    }


def _maintenance(snap: Snapshot, m: ScheduledMaintenance) -> dict:
    return {
        "created_at": ts(m.created_at),
        "id": m.code,
        "impact": m.impact,
        "incident_updates": _updates(snap, m, m.updates.all()),
        "monitoring_at": None,
        "name": m.name,
        "page_id": snap.page.code,
        "resolved_at": ts(m.resolved_at),
        "scheduled_for": ts(m.scheduled_for),
        "scheduled_until": ts(m.scheduled_until),
        "shortlink": _shortlink(snap.page, m.shortlink),
        "status": m.status,
        "updated_at": ts(m.updated_at),
    }


def documents(snap: Snapshot) -> dict[str, dict]:
    """Every endpoint's document, by endpoint name (``statuspage.cache.ENDPOINTS``)."""
    page = _page(snap.page)
    status = {"description": snap.description, "indicator": snap.indicator}
    # Maintenances are listed soonest first, as Statuspage lists the upcoming ones.
    maintenances = sorted(snap.maintenances, key=lambda m: (m.scheduled_for, m.pk))
    upcoming = [_maintenance(snap, m) for m in maintenances if m.status in state.UPCOMING_MAINTENANCE]
    active = [_maintenance(snap, m) for m in maintenances if m.status in state.ACTIVE_MAINTENANCE]
    unresolved = [_incident(snap, i) for i in snap.unresolved]
    components = [_component(snap, c) for c in snap.components] + [_group(snap, g) for g in snap.groups]
    components.sort(key=lambda c: (c["position"], c["name"]))
    return {
        "summary": {
            "page": page,
            "status": status,
            "components": [_summary_component(snap, c) for c in snap.components],
            "incidents": unresolved,
            "scheduled_maintenances": active + upcoming,
        },
        "status": {"page": page, "status": status},
        "components": {"page": page, "components": components},
        "incidents": {"page": page, "incidents": [_incident(snap, i) for i in snap.recent]},
        "incidents/unresolved": {"page": page, "incidents": unresolved},
        "scheduled-maintenances": {
            "page": page,
            "scheduled_maintenances": [_maintenance(snap, m) for m in snap.maintenances],
        },
        "scheduled-maintenances/upcoming": {"page": page, "scheduled_maintenances": upcoming},
        "scheduled-maintenances/active": {"page": page, "scheduled_maintenances": active},
    }


def entries(snap: Snapshot) -> dict[str, Entry]:
    out = {}
    for name, doc in documents(snap).items():
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        out[name] = Entry(body=body, etag=etag, public=snap.page.is_public)
    return out
