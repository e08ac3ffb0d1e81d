"""The wording a public update starts from: the process's templates, prefilled.

The messenger picks a status and gets the house wording with the affected components, the support address
and the time of the next update filled in; they edit it before publishing. Pure: no models, no database.

    >>> prefill("identified", components=["API", "Dashboard"], support_email="support@example.com")
    'We are aware there is an issue with API and Dashboard. We are investigating a resolution. If you have any questions, email support@example.com.'

Times are in UTC ("14:30 UTC", or "2026-12-09 14:30 UTC" when not today in UTC); nothing names a region or a
local time zone.

Setting
-------
``STATUSPAGE_TEMPLATES``: a dict ``{status: template}`` that replaces the built-in wording for those statuses
(the others keep theirs). A template is a ``str.format`` string using only the named placeholders in
``PLACEHOLDERS``; an unknown status or placeholder, a positional ``{}``, attribute or index access, a conversion
or format spec, or unbalanced braces raise ``TemplateConfigError`` naming the setting, the status and the
culprit. The template for a status is checked when it is used; ``validate_templates()`` checks them all (for
a system check or a startup test).

Placeholders
------------
``{components}``     the affected components joined naturally ("API, Dashboard, and Webhooks"), or
                     "some of our services" when none is given
``{support_email}``  the support address, or "our support team" when none is given
``{contact}``        "If you have any questions, email <support address>." or nothing
``{next_update_at}`` the time of the next update ("14:30 UTC"), or "soon" when none is given
``{next_update}``    "We will post another update by 14:30 UTC." or nothing
``{starts_at}``, ``{ends_at}``  the maintenance window's ends ("2026-12-09 02:00 UTC"), or "" when not given
``{window}``         "from 2026-12-09 02:00 UTC to 2026-12-09 04:00 UTC" (or the part that is known), or nothing

After filling, runs of spaces are collapsed and a space left before punctuation by an empty placeholder is
removed, so an optional sentence that is absent leaves no gap.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

# Public incident update statuses, in the order an incident usually goes through them.
INVESTIGATING = "investigating"
IDENTIFIED = "identified"
MONITORING = "monitoring"
RESOLVED = "resolved"
POSTMORTEM = "postmortem"
STATUSES: tuple[str, ...] = (INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED, POSTMORTEM)

# Scheduled maintenance statuses (Statuspage's names).
SCHEDULED = "scheduled"
IN_PROGRESS = "in_progress"
VERIFYING = "verifying"
COMPLETED = "completed"
MAINTENANCE_STATUSES: tuple[str, ...] = (SCHEDULED, IN_PROGRESS, VERIFYING, COMPLETED)

ALL_STATUSES: tuple[str, ...] = STATUSES + MAINTENANCE_STATUSES

STATUS_LABELS: dict[str, str] = {
    INVESTIGATING: "Investigating",
    IDENTIFIED: "Identified",
    MONITORING: "Monitoring",
    RESOLVED: "Resolved",
    POSTMORTEM: "Postmortem",
    SCHEDULED: "Scheduled",
    IN_PROGRESS: "In progress",
    VERIFYING: "Verifying",
    COMPLETED: "Completed",
}

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "components",
        "support_email",
        "contact",
        "next_update_at",
        "next_update",
        "starts_at",
        "ends_at",
        "window",
    }
)

SETTING = "STATUSPAGE_TEMPLATES"

DEFAULT_TEMPLATES: dict[str, str] = {
    INVESTIGATING: (
        "We are continuing to investigate a resolution to the issue with {components}. {next_update} {contact}"
    ),
    IDENTIFIED: (
        "We are aware there is an issue with {components}. We are investigating a resolution. "
        "{next_update} {contact}"
    ),
    MONITORING: (
        "A fix has been put in place for the issue with {components} and we are monitoring the results. "
        "{next_update} {contact}"
    ),
    RESOLVED: (
        "We have resolved the issue with {components} and will conduct a postmortem to understand what "
        "happened and prevent it from happening again. {contact}"
    ),
    POSTMORTEM: (
        "We have completed the postmortem of the issue with {components}. Below is what happened and what "
        "we are changing so that it does not happen again. {contact}"
    ),
    SCHEDULED: "We will be performing scheduled maintenance on {components} {window}. {contact}",
    IN_PROGRESS: "Scheduled maintenance on {components} is in progress. {next_update} {contact}",
    VERIFYING: "Maintenance on {components} has been carried out and we are verifying the results. {contact}",
    COMPLETED: "Scheduled maintenance on {components} has been completed. {contact}",
}

NO_COMPONENTS = "some of our services"
NO_SUPPORT_EMAIL = "our support team"
NO_NEXT_UPDATE = "soon"


class TemplateConfigError(ImproperlyConfigured):
    """``STATUSPAGE_TEMPLATES`` holds something that cannot be rendered; the message says what and where."""


def join_names(names: Iterable[str]) -> str:
    """'A', 'A and B', 'A, B, and C' (the serial comma keeps 'Search and Indexing' one name)."""
    items = _clean_names(names)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def format_time(value: datetime, *, now: datetime | None = None) -> str:
    """'14:30 UTC' when ``value`` falls on today's UTC date, else '2026-12-09 14:30 UTC'.

    A naive datetime is refused: it does not say which instant it is.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("The time of the next update must be timezone-aware (Muster stores UTC).")
    value = value.astimezone(UTC)
    today = (now or timezone.now()).astimezone(UTC).date()
    if value.date() == today:
        return value.strftime("%H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def templates() -> dict[str, str]:
    """The effective template for every status: the built-ins with ``STATUSPAGE_TEMPLATES`` laid over them.

    Not validated (``template_for`` and ``validate_templates`` do that); unknown statuses are an error.
    """
    overrides = _overrides()
    merged = dict(DEFAULT_TEMPLATES)
    merged.update(overrides)
    return merged


def template_for(status: str) -> str:
    """The effective template for one status, checked."""
    if status not in ALL_STATUSES:
        raise ValueError(f"Unknown status {status!r}; expected one of: {', '.join(ALL_STATUSES)}.")
    overrides = _overrides()
    if status in overrides:
        _check_template(status, overrides[status])
        return overrides[status]
    return DEFAULT_TEMPLATES[status]


def validate_templates() -> None:
    """Check every template in ``STATUSPAGE_TEMPLATES``; raise ``TemplateConfigError`` on the first fault."""
    for status, template in _overrides().items():
        _check_template(status, template)


def prefill(
    status: str,
    *,
    components: Iterable[str] = (),
    support_email: str | None = None,
    next_update_at: datetime | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """The wording for ``status`` with the placeholders filled in, ready for the messenger to edit.

    ``components`` are display names (blank ones and repeats are dropped, order kept). ``starts_at`` and
    ``ends_at`` are for scheduled maintenance. ``now`` fixes "today" for the time format (tests); it defaults
    to ``timezone.now()``.
    """
    template = template_for(status)
    names = join_names(components)
    email = (support_email or "").strip()
    next_at = format_time(next_update_at, now=now) if next_update_at is not None else ""
    start = _format_window_end(starts_at)
    end = _format_window_end(ends_at)
    if start and end:
        window = f"from {start} to {end}"
    elif start:
        window = f"starting {start}"
    elif end:
        window = f"until {end}"
    else:
        window = ""
    values = {
        "components": names or NO_COMPONENTS,
        "support_email": email or NO_SUPPORT_EMAIL,
        "contact": f"If you have any questions, email {email}." if email else "",
        "next_update_at": next_at or NO_NEXT_UPDATE,
        "next_update": f"We will post another update by {next_at}." if next_at else "",
        "starts_at": start,
        "ends_at": end,
        "window": window,
    }
    return _tidy(template.format_map(values))


# --- internals -------------------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")


def _clean_names(names: Iterable[str]) -> list[str]:
    if isinstance(names, str):  # a lone name, not an iterable of letters
        names = [names]
    seen: set[str] = set()
    items: list[str] = []
    for name in names:
        cleaned = " ".join(str(name).split())
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            items.append(cleaned)
    return items


def _format_window_end(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Maintenance times must be timezone-aware (Muster stores UTC).")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _tidy(text: str) -> str:
    lines = []
    for line in text.splitlines():
        line = _SPACES.sub(" ", line)
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
        lines.append(line.strip())
    return "\n".join(lines).strip()


def _overrides() -> dict[str, str]:
    raw = getattr(settings, SETTING, None)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TemplateConfigError(
            f"{SETTING} must be a dict of status to template, not {type(raw).__name__}."
        )
    unknown = [key for key in raw if key not in ALL_STATUSES]
    if unknown:
        raise TemplateConfigError(
            f"{SETTING} has unknown status {unknown[0]!r}; the statuses are: {', '.join(ALL_STATUSES)}."
        )
    return dict(raw)


def _check_template(status: str, template: object) -> None:
    where = f"{SETTING}[{status!r}]"
    if not isinstance(template, str):
        raise TemplateConfigError(f"{where} must be a string, not {type(template).__name__}.")
    if not template.strip():
        raise TemplateConfigError(f"{where} is empty.")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateConfigError(
            f"{where} is not a valid template ({exc}); write a literal brace as {{{{ or }}}}."
        ) from exc
    known = ", ".join("{" + name + "}" for name in sorted(PLACEHOLDERS))
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise TemplateConfigError(
                f"{where} uses a positional placeholder {{{field}}}; use a named one: {known}."
            )
        if field not in PLACEHOLDERS:
            raise TemplateConfigError(f"{where} uses unknown placeholder {{{field}}}; known: {known}.")
        if conversion or spec:
            raise TemplateConfigError(
                f"{where} uses a conversion or format spec on {{{field}}}; write the bare placeholder."
            )
