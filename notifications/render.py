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
