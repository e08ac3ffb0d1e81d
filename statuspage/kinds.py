"""The timeline event kinds of the status page, registered in ``incidents.kinds`` by ``StatuspageConfig.ready()``
and rendered by ``statuspage/timeline/<kind>.html``. Stored kinds are plain strings, so these values never change."""

from __future__ import annotations

PUBLISHED = "statuspage.published"
PUBLISHED_LABEL = "Published to the status page"


def register() -> None:
    from incidents.kinds import register_kind

    register_kind(
        PUBLISHED, label=PUBLISHED_LABEL, icon="megaphone", template="statuspage/timeline/published.html"
    )
