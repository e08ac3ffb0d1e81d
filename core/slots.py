"""Slots: the places on a page where an app above contributes a panel, and the navigation entries.

A template of a lower app never includes, loads or links what an app above it offers; it leaves a slot, and each
app fills the slots it wants in its ``AppConfig.ready()``::

    from core.slots import register_panel, register_nav

    register_panel(
        "incident.main",                       # the slot
        name="paging",                         # unique in the slot
        order=20,                              # lower comes first
        template="paging/panel.html",
        context=lambda obj, user: {"pages": page_list_for_incident(incident=obj)},
    )
    register_nav(name="oncall", label="On call", url_name="oncall:index", icon="clock", order=40)
    register_nav(name="pages", label="My pages", url_name="paging:pages", badge=ringing_count)

A navigation entry's ``badge(user)`` returns a count to show beside its label (``None`` or 0 shows none). It is
called only for a signed-in user, on every page, so it must cost at most one query.

The slots the house offers:

==================  ===========================================  ==========================================
slot                where                                         ``obj``
==================  ===========================================  ==========================================
``incident.main``   the incident page, main column, under         the ``Incident``
                    the timeline
``incident.side``   the incident page, side column, after the     the ``Incident``
                    controls
``dashboard.main``  the dashboard, after the open incidents       ``None``
``team.actions``    the team page's header buttons                the ``Team``
``team.main``       the team page, main column                    the ``Team``
``team.card``       each team's card on the team list             the ``Team``
``team.list``       after the team list                           the teams shown
``dashboard.side``  the dashboard, side column                    ``None``
``page.banner``     every page, under the top bar                 ``None``
``page.actions``    every page, the top bar's buttons              ``None``
``page.search``     every page, the top bar's search box          ``None``
==================  ===========================================  ==========================================

``context(obj, user)`` returns the panel's template context, or ``None`` to leave the panel out for this user. It
must cost a constant number of queries whatever the number of rows it shows (prefetch, aggregate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PanelContext = Callable[[Any, Any], dict[str, Any] | None]
NavBadge = Callable[[Any], int | None]


@dataclass(frozen=True)
class Panel:
    slot: str
    name: str
    template: str
    order: int = 100
    context: PanelContext | None = field(default=None, compare=False)


@dataclass(frozen=True)
class NavEntry:
    name: str
    label: str
    url_name: str
    icon: str = "dot"
    order: int = 100
    # The URL namespaces under which the entry shows as the current page.
    namespaces: tuple[str, ...] = ()
    staff_only: bool = False
    # "main": the top navigation; "menu": the account menu.
    place: str = "main"
    # A count beside the label for the signed-in user (e.g. pages ringing for them), or None.
    badge: NavBadge | None = field(default=None, compare=False)
    # What the count counts, for screen readers ("ringing").
    badge_label: str = ""


_panels: dict[str, dict[str, Panel]] = {}
_nav: dict[str, NavEntry] = {}


def register_panel(
    slot: str, *, name: str, template: str, order: int = 100, context: PanelContext | None = None
) -> Panel:
    panel = Panel(slot=slot, name=name, template=template, order=order, context=context)
    existing = _panels.setdefault(slot, {}).get(name)
    if existing is not None and existing.template != template:
        raise ValueError(f"A panel named {name!r} is already registered in the slot {slot!r}.")
    _panels[slot][name] = panel
    return panel


def unregister_panel(slot: str, name: str) -> None:
    _panels.get(slot, {}).pop(name, None)


def panels(slot: str) -> list[Panel]:
    return sorted(_panels.get(slot, {}).values(), key=lambda p: (p.order, p.name))


def register_nav(
    *,
    name: str,
    label: str,
    url_name: str,
    icon: str = "dot",
    order: int = 100,
    namespaces: tuple[str, ...] = (),
    staff_only: bool = False,
    place: str = "main",
    badge: NavBadge | None = None,
    badge_label: str = "",
) -> NavEntry:
    if place not in ("main", "menu"):
        raise ValueError("A navigation entry goes in 'main' or 'menu'.")
    entry = NavEntry(
        name=name,
        label=label,
        url_name=url_name,
        icon=icon,
        order=order,
        namespaces=namespaces,
        staff_only=staff_only,
        place=place,
        badge=badge,
        badge_label=badge_label,
    )
    _nav[f"{place}:{name}"] = entry
    return entry


def unregister_nav(name: str, place: str = "main") -> None:
    _nav.pop(f"{place}:{name}", None)


def nav_entries(place: str = "main") -> list[NavEntry]:
    return sorted((e for e in _nav.values() if e.place == place), key=lambda e: (e.order, e.name))
