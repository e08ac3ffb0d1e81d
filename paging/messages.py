"""The messages a page step sends: a Slack DM and an email to each person notified (``templates/notifications/
{slack,email}/page.*``), and a JSON call to the webhooks of routing rules that list the ``paged`` kind (for SMS or
phone providers), all through the notifications outbox.

Webhooks: every active webhook destination of an enabled routing rule that lists ``paged`` and whose team is empty or
the paged team (private incidents only when the rule includes private ones). The routing consumer itself does not
route ``paged`` events. Dedupe keys are ``page:<id>:r<round>:s<step>:...``, so a step's messages are written once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from incidents.models import Incident, TimelineEvent
from notifications.models import Channel, RoutingRule
from notifications.recipients import drafts_for_person
from notifications.render import incident_payload, incident_url, render
from notifications.services import Draft
from paging.kinds import PAGED
from paging.models import Page


def ack_url(page: Page) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("paging:page_ack_link", args=[page.pk, page.ack_token])


def webhook_destinations(page: Page, incident: Incident) -> list:
    chosen: dict[int, Any] = {}
    rules = RoutingRule.objects.filter(enabled=True).prefetch_related("destinations").order_by("order", "id")
    for rule in rules:
        if PAGED not in (rule.event_kinds or []):
            continue
        if rule.team_id is not None and rule.team_id != (page.team_id or incident.team_id):
            continue
        if incident.private and not rule.include_private:
            continue
        for destination in rule.destinations.all():
            if destination.active and destination.channel == Channel.WEBHOOK and destination.webhook_url:
                chosen.setdefault(destination.pk, destination)
    return list(chosen.values())


def page_drafts(*, page: Page, incident: Incident, people: list, event: TimelineEvent, step_label: str):
    prefix = f"page:{page.pk}:r{page.round}:s{page.step}"
    context = {
        "page": page,
        "incident": incident,
        "url": incident_url(incident),
        "ack_url": ack_url(page),
        "step_label": step_label,
        "now": event.occurred_at,
    }
    slack = render("slack", "page", context)
    email = render("email", "page", context, html=True, subject=True)
    for person in people:
        yield from drafts_for_person(
            person,
            dedupe_prefix=prefix,
            text=slack.text,
            subject=email.subject,
            html=email.html,
            email_text=email.text,
            incident_id=incident.pk,
            event_id=event.pk,
        )
    destinations = webhook_destinations(page, incident)
    if destinations:
        text = render("webhook", "page", context).text
        payload = webhook_payload(page=page, incident=incident, people=people, event=event, text=text)
        for destination in destinations:
            yield Draft(
                channel=Channel.WEBHOOK,
                kind="webhook",
                target=destination.webhook_url,
                body=text,
                payload=payload,
                dedupe_key=f"{prefix}:dest{destination.pk}",
                destination_id=destination.pk,
                incident_id=incident.pk,
                event_id=event.pk,
            )


def webhook_payload(*, page: Page, incident: Incident, people: list, event: TimelineEvent, text: str) -> dict:
    return {
        "type": "page.step",
        "page": {
            "id": page.pk,
            "status": page.status,
            "round": page.round,
            "step": page.step,
            "team": page.team.slug if page.team_id else None,
            "reason": page.reason,
            "ack_url": ack_url(page),
            "next_escalation_at": page.next_escalation_at.isoformat() if page.next_escalation_at else None,
        },
        "people": [
            {"username": p.get_username(), "name": p.get_full_name(), "email": p.email} for p in people
        ],
        "incident": incident_payload(incident),
        "occurred_at": event.occurred_at.isoformat(),
        "text": text,
    }
