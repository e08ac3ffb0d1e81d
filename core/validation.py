"""Checks of client input that know no domain: row ids and text the database can store.

Every entrance and service uses these, so an id past 64 bits or a NUL byte is refused the same way everywhere,
before it reaches the database (PostgreSQL refuses both, with an error that would be a 500).
"""

from __future__ import annotations

from core.errors import NotFound, ValidationError

#: Ids are PostgreSQL ``bigint`` primary keys (``DEFAULT_AUTO_FIELD`` is ``BigAutoField``): its sequences start at 1
#: and the type ends at 2**63 - 1. Nothing outside 1..ID_MAX can name a row.
ID_MIN = 1
ID_MAX = 2**63 - 1

NUL_MESSAGE = "Text cannot contain NUL characters."
NUL_CODE = "null_characters_not_allowed"  # the code DRF's CharField gives the same refusal


def to_id(value) -> int | None:
    """``value`` (an int, or a string of digits as it comes from a URL or a form) as a row id, or None when it
    cannot be one: not an integer (a bool, a float, ``"abc"``), or outside 1..2**63 - 1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        pk = value
    elif isinstance(value, str):
        try:
            pk = int(value)
        except ValueError:  # also for a string past Python's digit limit
            return None
    else:
        return None
    return pk if ID_MIN <= pk <= ID_MAX else None


def parse_id(value, *, what: str = "object") -> int:
    """``value`` as a row id (see :func:`to_id`), or ``NotFound`` ("No such <what>."): an id that cannot exist is
    answered like one that does not."""
    pk = to_id(value)
    if pk is None:
        raise NotFound(f"No such {what}.")
    return pk


def contains_nul(value) -> bool:
    """Whether ``value`` is text with a NUL byte in it (PostgreSQL cannot store one in a text column)."""
    return isinstance(value, str) and "\x00" in value


def reject_nul(text: str, *, field: str) -> str:
    """``text`` unchanged, or a ``ValidationError`` keyed by ``field`` when it holds a NUL byte."""
    if contains_nul(text):
        raise ValidationError(NUL_MESSAGE, code=NUL_CODE, field=field)
    return text
