"""Transactions that survive contention: the write services' ``atomic``, retried on a deadlock.

Locking order, for every service in the project:

1. the incident's row first (``incidents.services.incident_lock``, ``FOR NO KEY UPDATE``, so rows that merely
   point at the incident, a note or a timeline event, can still be inserted while it is held);
2. then the rows under it (role assignments, pages, messages ...), each locked with ``of=("self",)`` so that a
   joined row (the role holder's ``auth_user`` row, the event of a consumer run) is never locked on the way;
3. never a row of a lower level after a higher one (a team's row is locked before the incidents of that team).

``tests/test_locks.py`` checks that every ``select_for_update`` names what it locks. If PostgreSQL still finds a
deadlock or a serialization failure (another installation's trigger, a manual query, an order this code did not
foresee), ``atomic`` rolls the whole transaction back and runs it again, twice at most, after a short random
pause; when that fails too, the caller gets ``Busy`` (409 "try again"), never a 500.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, transaction

from core.errors import Conflict

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable)

RETRIES = 2


class Busy(Conflict):
    code = "busy"
    default_message = "Someone else was changing this at the same moment; try again."


def is_contention(exc: BaseException) -> bool:
    """True for a deadlock or a serialization failure, which succeed when tried again."""
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover - SQLite-only installations
        return False
    seen = exc
    while seen is not None:
        if isinstance(seen, errors.DeadlockDetected | errors.SerializationFailure | errors.LockNotAvailable):
            return True
        seen = seen.__cause__
    return False


def atomic(func: F | None = None, *, using: str = DEFAULT_DB_ALIAS, retries: int = RETRIES):
    """``transaction.atomic`` for a write service, retried when the database reports contention.

    Only the outermost block retries: inside another transaction the error goes up to the block that owns it.
    """

    def decorate(fn: F) -> F:
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if transaction.get_connection(using).in_atomic_block:
                with transaction.atomic(using=using):
                    return fn(*args, **kwargs)
            for attempt in range(retries + 1):
                try:
                    with transaction.atomic(using=using):
                        return fn(*args, **kwargs)
                except OperationalError as exc:
                    if not is_contention(exc):
                        raise
                    if attempt == retries:
                        logger.warning("%s gave up after %d attempts: %s", name, attempt + 1, exc)
                        raise Busy() from exc
                    logger.info("%s met contention (%s); trying again", name, exc.__cause__)
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate
