"""Hints: what needs doing on an incident now, said in its header ("Nobody leads this incident", "Nobody has been
paged", "Customer update overdue (42 min)"), each with the one-click action that does it.

The incident core offers the registry and the core's own hints (no lead, no messenger while customers are affected,
resolved but not closed); the wings add theirs in their ``AppConfig.ready()``::

    from incidents.hints import register_hints

    register_hints("paging.unpaged", unpaged_hints, order=10)

A hint function takes ``(incident, user)`` and returns the hints for that person (an empty list when all is well).
The header renders them through ``templates/incidents/partials/hints.html``: the incident page, every action that
re-renders the header, and the live refresh call them, so a hint function must be cheap. It reads what the incident
page has already loaded (``incident.severity``, ``incident.team``, the prefetched services and current roles) and
costs at most a query or two whatever the incident's size, and none when its condition cannot hold (a closed
incident, no customer impact). A hint function that fails is logged and left out: a broken hint never costs the
page.

An action is a link (``method="get"``) or a one-click form (``method="post"``): the form carries the CSRF token and
the incident's version (``{% version_field incident %}``), so the service refuses a click made on a state that has
changed since, and its hidden ``fields``; ``select`` adds one chooser (e.g. a team) before the button. ``htmx=True``
for the core's own action views, which answer the re-rendered regions; a wing's view that answers with a redirect
leaves it off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone

from incidents import permissions, selectors, state

logger = logging.getLogger(__name__)

#: Most urgent first: the order hints are shown in.
LEVELS = ("danger", "warn", "info")


@dataclass(frozen=True)
class HintSelect:
    """A chooser shown before an action's button: ``<select name=...>`` with ``choices`` as (value, label)."""

    name: str
    label: str
    choices: tuple[tuple[str, str], ...]
    placeholder: str = ""


@dataclass(frozen=True)
class HintAction:
    label: str
    url: str
    method: str = (
        "get"  # "get": a link; "post": a one-click form with the CSRF token and the incident's version
    )
    fields: tuple[tuple[str, str], ...] = ()  # hidden inputs of a post form
    select: HintSelect | None = None
    primary: bool = True
    htmx: bool = False
    testid: str = ""

    def __post_init__(self) -> None:
        if self.method not in ("get", "post"):
            raise ValueError("A hint's action is a link ('get') or a form ('post').")


@dataclass(frozen=True)
class Hint:
    level: str  # "danger" | "warn" | "info"
    code: str  # stable, for tests and styling: "no-lead", "paging.unpaged"
    text: str
    title: str = ""
    actions: tuple[HintAction, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"A hint's level is one of {', '.join(LEVELS)}.")


HintFunction = Callable[[Any, Any], Iterable[Hint]]


@dataclass(frozen=True)
class _Entry:
    name: str
    function: HintFunction = field(compare=False)
    order: int = 100


_registry: dict[str, _Entry] = {}


def register_hints(name: str, function: HintFunction, *, order: int = 100) -> None:
    """Add (or replace) the hint function ``name``; ``order`` sorts hints of one level (lower first)."""
    _registry[name] = _Entry(name=name, function=function, order=order)


def unregister_hints(name: str) -> None:
    _registry.pop(name, None)


def registered() -> list[str]:
    return [e.name for e in sorted(_registry.values(), key=lambda e: (e.order, e.name))]


def incident_hints(incident, user) -> list[Hint]:
    """Every registered hint for ``user`` on ``incident``, most urgent first (then by the function's order)."""
    found: list[tuple[int, int, int, Hint]] = []
    for entry in sorted(_registry.values(), key=lambda e: (e.order, e.name)):
        try:
            hints = list(entry.function(incident, user) or ())
        except Exception:
            logger.exception("The hint function %r failed on incident %s", entry.name, incident.pk)
            continue
        for hint in hints:
            found.append((LEVELS.index(hint.level), entry.order, len(found), hint))
    return [hint for *_, hint in sorted(found, key=lambda row: row[:3])]


def can_act(incident, user) -> bool:
    """``incidents.permissions.can_act``, asked once per person and incident for all the hints of a render."""
    cache = incident.__dict__.setdefault("_hint_can_act", {})
    key = getattr(user, "pk", None)
    if key not in cache:
        cache[key] = permissions.can_act(user, incident)
    return cache[key]


def ago(when) -> str:
    """'4 min', '2 h 5 min', '3 days': how long ago, short, for a hint's text."""
    minutes = max(0, int((timezone.now() - when).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return f"{days} day{'' if days == 1 else 's'}"


# --- The core's hints ------------------------------------------------------------------------------------


def _take_role(incident, user, role: str, label: str) -> tuple[HintAction, ...]:
    url = reverse("incidents:assign_role", args=[incident.pk])
    return (
        HintAction(
            label=label,
            url=url,
            method="post",
            fields=(("role", role), ("user", str(user.pk))),
            htmx=True,
            testid=f"hint-take-{role}",
        ),
        HintAction(label="Choose someone", url=f"#role-{role}", primary=False),
    )


def core_hints(incident, user) -> list[Hint]:
    """No lead; no messenger while customers are affected; resolved but not closed. No query: the roles are the
    prefetched ones (``incident_get``)."""
    hints: list[Hint] = []
    acts = can_act(incident, user)
    if incident.is_open:
        current = selectors.current_roles(incident)
        if "lead" not in current:
            hints.append(
                Hint(
                    level="warn",
                    code="no-lead",
                    title="Nobody leads this incident",
                    text="Someone needs to drive it: decide, delegate and keep the status current.",
                    actions=_take_role(incident, user, "lead", "I'll lead") if acts else (),
                )
            )
        if incident.customer_impact and "messenger" not in current:
            hints.append(
                Hint(
                    level="warn",
                    code="no-messenger",
                    title="Nobody talks to customers",
                    text="Customers are affected: someone should own the updates to them.",
                    actions=_take_role(incident, user, "messenger", "I'll do it") if acts else (),
                )
            )
    elif incident.status == state.Status.RESOLVED:
        age = ago(incident.resolved_at) if incident.resolved_at else None
        since = (
            "Resolved" if age is None else "Resolved just now" if age == "0 min" else f"Resolved {age} ago"
        )
        close = HintAction(
            label="Close incident",
            url=reverse("incidents:transition", args=[incident.pk]),
            method="post",
            fields=(("to", state.Status.CLOSED.value),),
            htmx=True,
            testid="hint-close",
        )
        hints.append(
            Hint(
                level="info",
                code="resolved-not-closed",
                title=f"{since}: close it or write the postmortem",
                text="Close it once the follow-ups are captured, or re-open it if it comes back.",
                actions=(close,) if acts else (),
            )
        )
    return hints


def register_core() -> None:
    register_hints("incidents.core", core_hints, order=50)
