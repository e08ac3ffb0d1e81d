"""ETags of versioned objects, and the ``If-Match`` header that carries the version a client was shown.

An object with a version (a whole number that every change bumps) answers ``ETag: "<version>"``. A client that
acts on it may send that tag back in ``If-Match``; :func:`if_match_version` reads the header into the version to
check (``expected_version`` of the services), which refuse a stale one with ``StaleState`` (412).

- No header: nothing is checked (``None``).
- ``*``: any current version matches (``None``).
- One or more entity tags (``"3"``, ``"2", "3"``): the newest version named. A weak tag (``W/"3"``) is read like
  the strong one, since a proxy that compresses the answer may have weakened the tag it passed on; the check is of
  the version, not of the bytes.
- Anything else (an empty header, a tag this API never gave, an unquoted number) is a 400 keyed ``If-Match``.

It knows no domain: the views say which version an ETag names and which service checks it.
"""

from __future__ import annotations

import re

from core.errors import ValidationError

HEADER = "If-Match"
MAX_TAGS = 20
_TAG = re.compile(r'\s*(?:W/)?"(\d{1,10})"\s*(?:,|$)')


def etag(version: int) -> str:
    """The strong ETag of ``version``: ``"3"``."""
    return f'"{int(version)}"'


def if_match_version(request) -> int | None:
    """The version the ``If-Match`` header names (the newest when it lists several), or None (absent or ``*``)."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return None
    versions = []
    position = 0
    while value and position < len(value):
        match = _TAG.match(value, position)
        if match is None or len(versions) >= MAX_TAGS:
            versions = []
            break
        versions.append(int(match.group(1)))
        position = match.end()
    if not versions or not all(1 <= v <= 2**31 - 1 for v in versions):
        raise ValidationError(
            'If-Match: send the ETag you were given, e.g. If-Match: "3" (or * for any version).',
            code="invalid_precondition",
            field=HEADER,
        )
    return max(versions)
