"""Template tags and filters shared by every page: severity chips, status pills, relative times, icons.

Core knows no domain: ``severity_chip`` takes anything with ``name`` and ``colour``, ``status_pill`` takes a status
value string.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from core.timeutils import format_duration, format_utc, utc_iso

register = template.Library()
logger = logging.getLogger(__name__)

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
DEFAULT_COLOUR = "#6b7280"


def safe_colour(value: str | None) -> str:
    """A colour that is safe to put in a style attribute: a hex colour or the neutral grey."""
    return value if isinstance(value, str) and HEX_COLOUR.match(value) else DEFAULT_COLOUR


@register.filter(name="hex_colour")
def hex_colour(value) -> str:
    return safe_colour(value)


@register.simple_tag
def severity_chip(severity, size: str = "") -> str:
    """A coloured chip for a severity (``name`` and ``colour``)."""
    if severity is None:
        return ""
    classes = "chip sev" + (f" chip-{size}" if size in ("lg", "sm") else "")
    return format_html(
        '<span class="{}" style="--sev: {}"><span class="chip-dot" aria-hidden="true"></span>{}</span>',
        classes,
        safe_colour(getattr(severity, "colour", None)),
        getattr(severity, "name", severity),
    )


@register.simple_tag
def status_pill(status, size: str = "") -> str:
    """A pill for a status value such as ``investigating``."""
    if not status:
        return ""
    value = str(getattr(status, "value", status))
    slug = re.sub(r"[^a-z0-9_-]", "", value.lower())
    classes = f"pill status-{slug}" + (f" pill-{size}" if size in ("lg", "sm") else "")
    return format_html(
        '<span class="{}" data-status="{}"><span class="pill-dot" aria-hidden="true"></span>{}</span>',
        classes,
        slug,
        value.replace("_", " ").capitalize(),
    )


def relative(value: datetime, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', '4 d ago', then the date."""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    if seconds < 0:
        seconds = -seconds
        future = True
    else:
        future = False
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        text = f"{max(1, round(seconds / 60))} min"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)} h"
    elif seconds < 7 * 86400:
        days = int(seconds // 86400)
        if days == 1 and not future:
            return "yesterday"
        text = f"{days} d"
    else:
        return format_utc(value)[:10]
    return f"in {text}" if future else f"{text} ago"


@register.simple_tag
def reltime(value) -> str:
    """``<time>`` with a relative text ('5 min ago') and the UTC time on hover."""
    if not value:
        return ""
    return format_html(
        '<time class="reltime" datetime="{}" title="{}">{}</time>',
        utc_iso(value),
        format_utc(value),
        relative(value),
    )


@register.filter
def utc(value) -> str:
    """'2026-11-23 14:05 UTC'."""
    return format_utc(value) if value else ""


@register.filter
def duration(value, end=None) -> str:
    """A timedelta as '2h 5m'; or ``start|duration:end`` (end defaults to now)."""
    if value is None or value == "":
        return ""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return format_duration((end or timezone.now()) - value)
    return ""


@register.filter
def display_name(user) -> str:
    """'Alice Nakamura', or the username when the user has no name."""
    if user is None:
        return "System"
    full = (user.get_full_name() if hasattr(user, "get_full_name") else "").strip()
    return full or user.get_username()


@register.filter
def initials(user) -> str:
    if user is None:
        return "?"
    first = (getattr(user, "first_name", "") or "").strip()
    last = (getattr(user, "last_name", "") or "").strip()
    if first or last:
        return ((first[:1] + last[:1]) or "?").upper()
    return (user.get_username()[:2] or "?").upper()


@register.simple_tag(takes_context=True)
def query_transform(context, **kwargs) -> str:
    """The current query string with some parameters replaced (``None`` or '' removes one); for page links."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    return escape(params.urlencode())


# Small stroke icons (24x24 grid, drawn for Muster). ``{% icon "flag" %}``.
ICONS = {
    "flag": '<path d="M4 21V4"/><path d="M4 4h12l-2 4 2 4H4"/>',
    "alert": '<path d="M12 3 2 20h20L12 3Z"/><path d="M12 10v4"/><path d="M12 17.5v.01"/>',
    "arrow-right": '<path d="M5 12h14"/><path d="m13 6 6 6-6 6"/>',
    "signal": '<path d="M4 20v-4"/><path d="M10 20v-8"/><path d="M16 20V8"/><path d="M22 20V4"/>',
    "user-plus": '<circle cx="9" cy="8" r="4"/><path d="M2 21a7 7 0 0 1 14 0"/><path d="M19 8v6"/><path d="M16 11h6"/>',
    "user-minus": '<circle cx="9" cy="8" r="4"/><path d="M2 21a7 7 0 0 1 14 0"/><path d="M16 11h6"/>',
    "message": '<path d="M4 5h16v11H9l-5 4V5Z"/>',
    "megaphone": '<path d="M3 10v4h4l8 5V5L7 10H3Z"/><path d="M19 9a4 4 0 0 1 0 6"/>',
    "pencil": '<path d="M4 20h4L19 9l-4-4L4 16v4Z"/><path d="m14 6 4 4"/>',
    "lock": '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    "users": '<circle cx="9" cy="8" r="4"/><path d="M2 21a7 7 0 0 1 14 0"/><path d="M16 4a4 4 0 0 1 0 8"/><path d="M18 14a7 7 0 0 1 4 7"/>',
    "plus": '<path d="M12 5v14"/><path d="M5 12h14"/>',
    "check": '<path d="m5 12 5 5 9-10"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4"/>',
    "menu": '<path d="M4 6h16"/><path d="M4 12h16"/><path d="M4 18h16"/>',
    "x": '<path d="m6 6 12 12"/><path d="M18 6 6 18"/>',
    "dot": '<circle cx="12" cy="12" r="3"/>',
    "home": '<path d="M3 11 12 4l9 7"/><path d="M5 10v10h14V10"/>',
    "list": '<path d="M9 6h11"/><path d="M9 12h11"/><path d="M9 18h11"/><path d="M4 6h.01"/><path d="M4 12h.01"/><path d="M4 18h.01"/>',
    "book": '<path d="M4 4h7a3 3 0 0 1 3 3v13a2 2 0 0 0-2-2H4V4Z"/><path d="M20 4h-4a2 2 0 0 0-2 2"/><path d="M20 4v14h-6"/>',
    "shield": '<path d="M12 3 4 6v6c0 5 3.5 8 8 9 4.5-1 8-4 8-9V6l-8-3Z"/>',
    "bolt": '<path d="M13 2 4 14h7l-1 8 9-12h-7l1-8Z"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "info": '<circle cx="12" cy="12" r="9"/><path d="M12 11v5"/><path d="M12 8v.01"/>',
    "logout": '<path d="M15 4h4v16h-4"/><path d="M10 8l-4 4 4 4"/><path d="M6 12h10"/>',
    "settings": '<circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1"/>',
    "chevron-down": '<path d="m6 9 6 6 6-6"/>',
    "server": '<rect x="3" y="4" width="18" height="7" rx="2"/><rect x="3" y="13" width="18" height="7" rx="2"/><path d="M7 7.5h.01M7 16.5h.01"/>',
}


@register.simple_tag
def icon(name: str, size: int = 16, label: str = "") -> str:
    body = ICONS.get(name, ICONS["dot"])
    aria = format_html('role="img" aria-label="{}"', label) if label else mark_safe('aria-hidden="true"')
    return format_html(
        '<svg class="icon icon-{}" width="{}" height="{}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" {}>{}</svg>',
        name,
        int(size),
        int(size),
        aria,
        mark_safe(body),  # constant markup from ICONS
    )


# --- Slots: what apps above contribute to a page (core.slots) ------------------------------------------------


@register.simple_tag(takes_context=True)
def slot(context, name: str, obj=None) -> str:
    """``{% slot "incident.main" incident %}``: render every panel registered in the slot, in order."""
    from django.template.loader import get_template

    from core import slots

    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    parts = []
    for panel in slots.panels(name):
        extra = panel.context(obj, user) if panel.context is not None else {}
        if extra is None:
            continue
        with context.push(panel=panel, slot_object=obj, **extra):
            parts.append(get_template(panel.template).template.render(context))
    return mark_safe("".join(parts))


@register.simple_tag(takes_context=True)
def nav_links(context, place: str = "main") -> list:
    """The navigation entries of ``place`` the user may see, each with its URL and whether it is current."""
    from django.urls import NoReverseMatch, reverse

    from core import slots

    request = context.get("request")
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    here = (match.namespace, f"{match.namespace}:{match.url_name}") if match else ("", "")
    links = []
    for entry in slots.nav_entries(place):
        if entry.staff_only and not getattr(user, "is_staff", False):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        exact = here[1] in entry.namespaces
        links.append(
            {
                "entry": entry,
                "url": url,
                "exact": exact,
                "current": exact or here[0] in entry.namespaces,
                "badge": _nav_badge(entry, user),
            }
        )
    # "incidents:dashboard" beats "incidents": only the most specific entry is the current page.
    if any(link["exact"] for link in links):
        for link in links:
            link["current"] = link["exact"]
    return links


def _nav_badge(entry, user) -> int | None:
    """The entry's count for a signed-in user; nothing (and no query) without one. A failing badge costs the
    badge, never the page."""
    if entry.badge is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        count = entry.badge(user)
    except Exception:
        logger.exception("The badge of the navigation entry %r failed", entry.name)
        return None
    return count or None


@register.simple_tag
def version_field(obj, form=None) -> str:
    """The hidden ``version`` input of an action form: the version of ``obj`` the page was rendered with, so the
    action is refused if what it acts on changed since. A bound ``form`` (re-shown with its errors) keeps the
    version it was first submitted with."""
    version = getattr(obj, "version", None)
    if form is not None and getattr(form, "is_bound", False):
        version = form.data.get("version") or version
    return format_html('<input type="hidden" name="version" value="{}" data-version>', version or "")


# --- Absolute times (timelines people reconstruct later) ---------------------------------------------------------


def absolute_utc(value: datetime, now: datetime | None = None) -> str:
    """'23:41:07 UTC' today (UTC), '2026-12-06 23:41:07 UTC' on any other day."""
    now = (now or timezone.now()).astimezone(UTC)
    value = value.astimezone(UTC)
    if value.date() == now.date():
        return value.strftime("%H:%M:%S UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


@register.simple_tag
def abstime(value) -> str:
    """The absolute UTC time of ``value`` in a ``<time>``, with the relative time beside it:
    ``23:41:07 UTC · 3 min ago`` (the date is shown when it is not today). The relative part is a ``reltime``, so
    the page keeps it current."""
    if not value:
        return ""
    return format_html(
        '<span class="abstime"><time class="abstime-utc" datetime="{}">{}</time>'
        ' <span class="abstime-sep" aria-hidden="true">·</span> '
        '<time class="reltime" datetime="{}" title="{}">{}</time></span>',
        utc_iso(value),
        absolute_utc(value),
        utc_iso(value),
        format_utc(value),
        relative(value),
    )
