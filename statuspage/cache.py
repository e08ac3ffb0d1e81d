"""The rendered API of each status page, kept in a cache shared by every process, so a warm request does no query.

Each page's entries live under a *generation*: ``statuspage:gen:<ref>`` holds a random token and the entries are
keyed ``statuspage:<ref>:<token>:<endpoint>`` (``ref`` is the page's slug, or ``~default`` for the default page).
A change made through ``statuspage.services`` replaces the token after its transaction commits
(``invalidate_on_commit``), so every entry of the page is dropped at once; a render that read the database before
the change and stores after it writes under the old token, which nobody reads any more. Entries also expire after
``STATUSPAGE_CACHE_SECONDS``, which bounds how long a change made outside the services (an incident made private
in the admin) can stay visible.

The cache is ``caches[settings.STATUSPAGE_CACHE]``: the ``shared`` one (Redis in production, files shared by the
processes of one machine without Redis), never a per-process one, or another worker would keep serving what was
invalidated here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

DEFAULT_REF = "~default"
ENDPOINTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)


@dataclass(frozen=True)
class Entry:
    """One rendered endpoint of a page (``missing``: there is no such page)."""

    body: bytes = b""
    etag: str = ""
    public: bool = True
    missing: bool = False


MISSING = Entry(missing=True)


def _cache():
    return caches[settings.STATUSPAGE_CACHE]


def _gen_key(ref: str) -> str:
    return f"statuspage:gen:{ref}"


def generation(ref: str) -> str:
    """The page's current token (created on first use)."""
    cache = _cache()
    token = cache.get(_gen_key(ref))
    if token is None:
        cache.add(_gen_key(ref), uuid.uuid4().hex, timeout=None)
        token = cache.get(_gen_key(ref))
    return token


def entry_key(ref: str, token: str, endpoint: str) -> str:
    return f"statuspage:{ref}:{token}:{endpoint}"


def lookup(ref: str, endpoint: str) -> tuple[str, Entry | None]:
    token = generation(ref)
    return token, _cache().get(entry_key(ref, token, endpoint))


def store(ref: str, token: str, entries: dict[str, Entry]) -> None:
    missing = any(e.missing for e in entries.values())
    timeout = settings.STATUSPAGE_MISSING_CACHE_SECONDS if missing else settings.STATUSPAGE_CACHE_SECONDS
    _cache().set_many({entry_key(ref, token, name): e for name, e in entries.items()}, timeout=timeout)


def invalidate(*refs: str) -> None:
    _cache().set_many({_gen_key(ref): uuid.uuid4().hex for ref in {*refs, DEFAULT_REF}}, timeout=None)


def invalidate_on_commit(*slugs: str) -> None:
    """Drop the rendered pages of ``slugs`` (and the default page's) once the current transaction commits."""
    refs = tuple(s for s in slugs if s)
    transaction.on_commit(lambda: invalidate(*refs))
