"""The timeline event kinds of paging, registered in ``incidents.kinds`` by ``PagingConfig.ready()`` and rendered
by ``templates/paging/timeline/<kind>.html``. Stored kinds are plain strings, so these values never change."""

from __future__ import annotations

PAGED = "paged"
PAGE_ACKNOWLEDGED = "page_acknowledged"
PAGE_EXHAUSTED = "page_exhausted"

KINDS = (
    (PAGED, "Paged", "alert"),
    (PAGE_ACKNOWLEDGED, "Page acknowledged", "check"),
    (PAGE_EXHAUSTED, "Page unanswered", "alert"),
)


def register() -> None:
    from incidents.kinds import register_kind

    for value, label, icon in KINDS:
        register_kind(value, label=label, icon=icon, template=f"paging/timeline/{value}.html")
