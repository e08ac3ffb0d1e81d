"""Message text comes from templates under ``templates/notifications/<channel>/``; times are shown in UTC.

Every format has a template engine of its own, so that what a template interpolates is escaped for where it goes
by construction, not by a filter someone has to remember:

* ``slack``: Slack mrkdwn. Autoescaping is on and cannot be switched off (``notifications.escaping``), and the
  result keeps only Slack's escaping (``&amp;``, ``&lt;``, ``&gt;``): a team named ``<!channel>`` cannot ping a
  channel, a title cannot forge a link. The links a template builds, ``<{{ url }}|{{ incident.title }}>``, work:
  the brackets and the bar are the template's own text; the URL and the label are escaped.
* ``html`` (the HTML part of a mail): HTML autoescaping, which cannot be switched off either.
* ``text`` (mail text and subjects, webhook text): nothing is escaped.

A template included by another one (``{% include %}``, an event kind's ``recap_template``) is rendered by the
engine of the template that includes it, so a shared line is escaped for each format it ends up in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.template import Context, Engine
from django.template.backends.django import get_installed_libraries
from django.urls import reverse

from notifications.escaping import from_html_escaping

SLACK = "slack"
HTML = "html"
TEXT = "text"

#: The channels whose text part is Slack mrkdwn (every other channel's text part is plain text).
SLACK_CHANNELS = frozenset({"slack"})


@dataclass(frozen=True)
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""


def incident_url(incident) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("incidents:detail", args=[incident.pk])


def incident_payload(incident) -> dict[str, Any]:
    """The ``incident`` block of every outgoing webhook payload (events and pages alike). Load the incident with
    its severity and team."""
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity.slug,
        "customer_impact": incident.customer_impact,
        "team": incident.team.slug if incident.team_id else None,
        "url": incident_url(incident),
    }


@cache
def engine(fmt: str) -> Engine:
    """The template engine of ``fmt`` (``slack``, ``html`` or ``text``), finding templates where the project's
    engine does."""
    if fmt not in (SLACK, HTML, TEXT):
        raise ValueError(f"No template engine for {fmt!r}.")
    options = settings.TEMPLATES[0]
    escaped = fmt != TEXT
    return Engine(
        dirs=[str(d) for d in options.get("DIRS", [])],
        app_dirs=options.get("APP_DIRS", False),
        libraries=get_installed_libraries(),
        builtins=["notifications.escaping"] if escaped else [],
        autoescape=escaped,
        debug=settings.DEBUG,
    )


def _reset_engines(*, setting, **kwargs) -> None:
    if setting in ("TEMPLATES", "INSTALLED_APPS", "DEBUG"):
        engine.cache_clear()


setting_changed.connect(_reset_engines)


def render_template(fmt: str, template_name: str, context: dict[str, Any]) -> str:
    """Render one template with the engine of ``fmt``."""
    chosen = engine(fmt)
    rendered = chosen.get_template(template_name).render(Context(context, autoescape=chosen.autoescape))
    return from_html_escaping(rendered) if fmt == SLACK else str(rendered)


def render(
    channel: str, name: str, context: dict[str, Any], *, html: bool = False, subject: bool = False
) -> Rendered:
    """Render ``notifications/<channel>/<name>.txt`` (and ``<name>.html``, ``<name>_subject.txt`` when asked)."""
    base = f"notifications/{channel}/{name}"
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    text_format = SLACK if channel in SLACK_CHANNELS else TEXT
    text = render_template(text_format, f"{base}.txt", context).strip()
    return Rendered(
        subject=" ".join(render_template(TEXT, f"{base}_subject.txt", context).split())[:255]
        if subject
        else "",
        text=text,
        html=render_template(HTML, f"{base}.html", context) if html else "",
    )
