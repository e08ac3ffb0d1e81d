"""Template tags of paging: a page's status pill."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from paging.models import Page

register = template.Library()

# Page statuses shown with the incident status pills' colours.
PILL_CLASS = {
    Page.Status.TRIGGERED: "status-investigating",
    Page.Status.ACKNOWLEDGED: "status-resolved",
    Page.Status.EXHAUSTED: "status-triage",
    Page.Status.CANCELLED: "status-closed",
}


@register.simple_tag
def page_pill(page: Page, size: str = "sm") -> str:
    classes = f"pill {PILL_CLASS.get(page.status, '')}" + (f" pill-{size}" if size in ("lg", "sm") else "")
    return format_html(
        '<span class="{}" data-page-status="{}"><span class="pill-dot" aria-hidden="true"></span>{}</span>',
        classes,
        page.status,
        page.get_status_display(),
    )
