"""Timeline consumers: how the wings (notifications, paging, playbooks, postmortems) react to incidents.

An app registers a consumer for the event kinds it cares about in its ``AppConfig.ready()``::

    from incidents.consumers import register

    class PagingConfig(AppConfig):
        def ready(self):
            register("paging.auto_page", kinds={"declared"}, handler=auto_page_on_declare)

When a timeline event is appended, a ``ConsumerRun`` row is written for each consumer of its kind in the same
transaction. After commit one Celery task (``incidents.tasks.dispatch_timeline_event``) runs each pending consumer
inside its own transaction, locking its run row: the handler's writes and the run's ``done`` mark commit together,
so a consumer's reaction happens once. A handler that raises is retried with backoff, and a periodic sweeper
(``incidents.tasks.sweep_timeline_consumers``) re-dispatches runs a lost message or a killed worker left behind.

Handlers receive the ``TimelineEvent`` and must write to the database only (outbox rows, pages, checklists):
network calls belong in tasks that those rows trigger after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from incidents.models import TimelineEvent

Handler = Callable[["TimelineEvent"], None]


KindsSource = Callable[[], Iterable[str]]


@dataclass(frozen=True)
class Consumer:
    name: str
    kinds: frozenset[str] | KindsSource | None  # None: every kind; a callable: asked each time (a registry)
    handler: Handler

    def wants(self, kind: str) -> bool:
        if self.kinds is None:
            return True
        if callable(self.kinds):
            return kind in self.kinds()
        return kind in self.kinds


_registry: dict[str, Consumer] = {}


def register(name: str, *, kinds: Iterable[str] | KindsSource | None, handler: Handler) -> Consumer:
    """Register ``handler`` under the stable ``name`` for the event ``kinds`` (``None`` for all).

    ``kinds`` may be a function returning the kinds, for a consumer whose kinds are registered later by apps
    above it (routing takes every kind registered as routable).
    """
    if not name or len(name) > 100:
        raise ValueError("A consumer needs a name of 1 to 100 characters.")
    existing = _registry.get(name)
    if kinds is not None and not callable(kinds):
        kinds = frozenset(kinds)
    consumer = Consumer(name=name, kinds=kinds, handler=handler)
    if existing is not None and existing.handler is not handler:
        raise ValueError(f"A consumer named {name!r} is already registered.")
    _registry[name] = consumer
    return consumer


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get(name: str) -> Consumer | None:
    return _registry.get(name)


def consumers_for(kind: str) -> list[Consumer]:
    return [c for c in _registry.values() if c.wants(kind)]


def all_consumers() -> list[Consumer]:
    return list(_registry.values())
