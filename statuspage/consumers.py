"""Timeline consumers of status pages (``incidents.consumers``).

An incident made private after a public incident was linked to it: the pages showing that public incident drop
their rendered API at once (the selectors already leave it out of every new render), instead of serving it until
the cache entry expires.
"""

from __future__ import annotations

from incidents.models import EventKind, TimelineEvent
from statuspage import cache
from statuspage.models import StatusPage

HIDE_PRIVATE = "statuspage.hide_private"


def hide_private(event: TimelineEvent) -> None:
    """Consumer of ``fields_changed``: when ``private`` became true, invalidate the pages linked to the incident."""
    data = event.data if isinstance(event.data, dict) else {}
    private = (data.get("changes") or {}).get("private") or {}
    if not private.get("new"):
        return
    slugs = StatusPage.objects.filter(incidents__incident_id=event.incident_id).values_list("slug", flat=True)
    cache.invalidate_on_commit(*set(slugs))


def register() -> None:
    from incidents.consumers import register

    register(HIDE_PRIVATE, kinds={EventKind.FIELDS_CHANGED}, handler=hide_private)
