"""Timeline event kinds: an open registry, filled by each app in its ``AppConfig.ready()``.

A kind is a plain string stored on ``TimelineEvent.kind``. The app that records it registers it here with what the
rest of the house needs to show and route it::

    from incidents.kinds import register_kind

    class PagingConfig(AppConfig):
        def ready(self):
            register_kind(
                "paged",
                label="Paged",
                icon="bell",
                template="paging/timeline/paged.html",
                routable=True,
            )

* ``label``: what the kind is called (filters, the admin, the API schema, a recap line).
* ``icon``: the timeline icon (a name from ``static/img/icons.svg``).
* ``template``: renders the event's sentence on the incident timeline; it gets ``entry`` (a ``TimelineEntry``),
  ``event`` and ``d`` (the event's data). Without a template the timeline shows the label.
* ``recap_template``: the one-line text of the event in plain-text recaps (chat, mail subjects); optional.
* ``routable``: whether routing rules may match the kind.
* ``present``: optional ``present(events, context) -> {event_id: extras}`` called once per page with every event
  of the kind, so a kind can look up what its template shows in one query for all its rows.

An unknown stored kind (its app removed) still renders, with its value as the label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from incidents.models import TimelineEvent

Presenter = Callable[[Sequence["TimelineEvent"], dict[str, Any]], dict[int, dict[str, Any]]]

MAX_KIND_LENGTH = 40


@dataclass(frozen=True)
class Kind:
    value: str
    label: str
    icon: str = "dot"
    template: str = ""
    recap_template: str = ""
    routable: bool = False
    present: Presenter | None = field(default=None, compare=False)
    registered: bool = True


_registry: dict[str, Kind] = {}


def register_kind(
    value: str,
    *,
    label: str,
    icon: str = "dot",
    template: str = "",
    recap_template: str = "",
    routable: bool = False,
    present: Presenter | None = None,
) -> Kind:
    """Register the event kind ``value``; registering the same kind again with the same label is a no-op."""
    if not value or len(value) > MAX_KIND_LENGTH or not value.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"An event kind is 1 to {MAX_KIND_LENGTH} letters, digits, '_' or '.': {value!r}.")
    kind = Kind(
        value=value,
        label=label,
        icon=icon,
        template=template,
        recap_template=recap_template,
        routable=routable,
        present=present,
    )
    existing = _registry.get(value)
    if existing is not None and (existing.label, existing.template) != (kind.label, kind.template):
        raise ValueError(f"The event kind {value!r} is already registered.")
    _registry[value] = kind
    return kind


def unregister_kind(value: str) -> None:
    _registry.pop(value, None)


def get_kind(value: str) -> Kind:
    """The registered kind, or a stand-in that shows the raw value (a stored kind whose app is gone)."""
    kind = _registry.get(value)
    if kind is not None:
        return kind
    return Kind(value=value, label=str(value).replace("_", " ").capitalize(), registered=False)


def is_registered(value: str) -> bool:
    return value in _registry


def all_kinds() -> list[Kind]:
    return sorted(_registry.values(), key=lambda k: k.value)


def kind_choices() -> list[tuple[str, str]]:
    return [(k.value, k.label) for k in all_kinds()]


def routable_kinds() -> frozenset[str]:
    return frozenset(k.value for k in _registry.values() if k.routable)
