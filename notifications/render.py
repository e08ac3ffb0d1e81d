"""Message text comes from templates under ``templates/notifications/<channel>/``; times are shown in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse


@dataclass(frozen=True)
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""


def incident_url(incident) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("incidents:detail", args=[incident.pk])


def render(
    channel: str, name: str, context: dict[str, Any], *, html: bool = False, subject: bool = False
) -> Rendered:
    """Render ``notifications/<channel>/<name>.txt`` (and ``<name>.html``, ``<name>_subject.txt`` when asked)."""
    base = f"notifications/{channel}/{name}"
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    text = render_to_string(f"{base}.txt", context).strip()
    return Rendered(
        subject=" ".join(render_to_string(f"{base}_subject.txt", context).split())[:255] if subject else "",
        text=text,
        html=render_to_string(f"{base}.html", context) if html else "",
    )
