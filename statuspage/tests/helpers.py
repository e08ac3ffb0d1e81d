"""A status page with something in every list, built through the services as a messenger would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from statuspage import services
from statuspage.models import Component, PublicIncident, ScheduledMaintenance, StatusPage
from tests.factories import IncidentFactory, TeamFactory, UserFactory

INTERNAL_NOTE = "db-primary-7.corp.internal is swapping, paging Dana"
PRIVATE_TITLE = "Credential leak in the billing vault"


@dataclass
class World:
    admin: object
    page: StatusPage
    api: Component
    portal: Component
    grouped: Component
    open_incident: PublicIncident
    resolved_incident: PublicIncident
    upcoming: ScheduledMaintenance
    active: ScheduledMaintenance
    incident: object


def build_world(*, slug: str = "acme", default: bool = True, groups: bool = False) -> World:
    from incidents.services import incident_add_note

    admin = UserFactory(username=f"root-{slug}", is_staff=True, is_superuser=True)
    page = services.status_page_create(
        actor=admin, name="Acme", slug=slug, is_default=default, support_email="support@example.com"
    )
    api = services.component_create(actor=admin, page=page, name="API", description="The public REST API")
    portal = services.component_create(actor=admin, page=page, name="Management Portal")
    grouped = None
    if groups:
        group = services.component_group_create(actor=admin, page=page, name="Storage", position=5)
        grouped = services.component_create(actor=admin, page=page, name="Blobs", group=group)
    incident = IncidentFactory(title="Checkout latency", team=TeamFactory(name=f"Payments {slug}"))
    incident_add_note(incident=incident, text=INTERNAL_NOTE, actor=admin)
    open_incident = services.public_incident_create(
        actor=admin,
        page=page,
        incident=incident,
        name="Elevated API errors",
        impact="major",
        status="investigating",
        body="We are investigating elevated error rates on the API.",
        components={api: "partial_outage"},
    )
    services.public_update_publish(
        actor=admin,
        public_incident=open_incident,
        status="identified",
        body="We are aware there is an issue with the API. We are investigating a resolution.",
    )
    resolved = services.public_incident_create(
        actor=admin,
        page=page,
        name="Portal display glitch",
        impact="minor",
        status="identified",
        body="A display issue after a deploy.",
        components={portal: "degraded_performance"},
    )
    services.public_update_publish(
        actor=admin, public_incident=resolved, status="monitoring", body="Rolled back; watching."
    )
    services.public_update_publish(
        actor=admin, public_incident=resolved, status="resolved", body="We have resolved the issue."
    )
    now = timezone.now()
    upcoming = services.maintenance_create(
        actor=admin,
        page=page,
        name="Network maintenance",
        body="Routine network maintenance; no interruption expected.",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=2),
        components=[api],
    )
    active = services.maintenance_create(
        actor=admin,
        page=page,
        name="Web tier recycle",
        body="Rolling restarts of the web tier.",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=[portal],
        impact="minor",
    )
    services.maintenance_update_publish(
        actor=admin, maintenance=active, status="in_progress", body="Maintenance is in progress."
    )
    return World(admin, page, api, portal, grouped, open_incident, resolved, upcoming, active, incident)
