"""Every write of status pages: pages, component groups, components, public incidents with their updates, and
scheduled maintenances. Reads are in ``statuspage.selectors``, who may do what in ``statuspage.permissions``, the
derived statuses and allowed status changes in ``statuspage.state``.

Every write stamps the page's ``updated_at`` and, once the transaction commits, drops the page's rendered API from
the cache (``statuspage.cache.invalidate_on_commit``): a rolled-back write never invalidates, and a committed one
is visible to the next request.

A public incident may be linked to an incident, which must not be private: a private (security) incident never
reaches a status page, and publishing an update to a public incident whose incident became private is refused
too. Nothing is copied from the incident: what customers read is what the publisher wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import atomic
from core.errors import InvalidTransition, NotFound, ValidationError
from core.validation import reject_nul
from incidents.models import Incident
from statuspage import cache, state
from statuspage.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    ComponentStatus,
    Impact,
    MaintenanceUpdate,
    PublicIncident,
    PublicUpdate,
    ScheduledMaintenance,
    StatusPage,
)
from statuspage.permissions import ensure_can_create_page, ensure_can_manage, ensure_can_publish
from teams.models import Service, Team

NAME_MAX = 100
TITLE_MAX = 200
BODY_MAX = 10_000
DESCRIPTION_MAX = 2_000
PRIVATE_REFUSAL = (
    "A private incident can never be published to a status page: publish a public incident without the link, "
    "worded for customers."
)


# --- Helpers --------------------------------------------------------------------------------------------------


def _text(value, *, field: str, max_length: int, required: bool = True) -> str:
    value = reject_nul("" if value is None else str(value), field=field).strip()
    if required and not value:
        raise ValidationError(f"The {field.replace('_', ' ')} is required.", field=field)
    if len(value) > max_length:
        raise ValidationError(
            f"The {field.replace('_', ' ')} is longer than {max_length} characters.", field=field
        )
    return value


def _position(value) -> int:
    try:
        position = int(value)
    except (TypeError, ValueError, OverflowError):
        position = -1
    if not 0 <= position <= 32767:
        raise ValidationError("The position is a whole number from 0 to 32767.", field="position")
    return position


def _choice(value, choices, *, field: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationError(f"Unknown {field.replace('_', ' ')} {value!r}; one of: {allowed}.", field=field)
    return str(value)


def _touch(page: StatusPage, *old_slugs: str) -> None:
    """Stamp the page changed and drop its rendered API after commit."""
    page.updated_at = timezone.now()
    StatusPage.objects.filter(pk=page.pk).update(updated_at=page.updated_at)
    cache.invalidate_on_commit(page.slug, *old_slugs)


def _ensure_publishable(incident: Incident | None) -> None:
    if incident is not None and incident.private:
        raise ValidationError(PRIVATE_REFUSAL, code="private_incident", field="incident")


def _components(
    page: StatusPage, components: Mapping | Iterable | None, *, default: str
) -> dict[Component, str]:
    """``{component: status}`` from a mapping or a list of components (each then at ``default``), all of ``page``."""
    if not components:
        return {}
    pairs = components.items() if isinstance(components, Mapping) else ((c, default) for c in components)
    out = {}
    for component, status in pairs:
        if not isinstance(component, Component) or component.page_id != page.pk:
            raise ValidationError("Every affected component must be one of this page's.", field="components")
        out[component] = _choice(status, ComponentStatus, field="component_status")
    return out


# --- Pages ----------------------------------------------------------------------------------------------------


def _page_fields(data: dict) -> dict:
    out = {}
    if "name" in data:
        out["name"] = _text(data["name"], field="name", max_length=NAME_MAX)
    if "slug" in data:
        slug = _text(data["slug"], field="slug", max_length=50)
        if not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in slug):
            raise ValidationError("The slug may hold only letters, digits, - and _.", field="slug")
        out["slug"] = slug
    if "visibility" in data:
        out["visibility"] = _choice(data["visibility"], StatusPage.Visibility, field="visibility")
    for name in ("support_email", "url"):
        if name in data:
            out[name] = _text(data[name], field=name, max_length=200, required=False)
    if "is_default" in data:
        out["is_default"] = bool(data["is_default"])
    return out


def _save_page(page: StatusPage) -> None:
    if page.is_default:
        StatusPage.objects.filter(is_default=True).exclude(pk=page.pk).update(is_default=False)
    if StatusPage.objects.filter(slug=page.slug).exclude(pk=page.pk).exists():
        raise ValidationError("Another status page has that slug.", field="slug")
    try:
        with transaction.atomic():
            page.save()
    except IntegrityError as exc:
        raise ValidationError("Another status page has that slug.", field="slug") from exc


@atomic
def status_page_create(
    *,
    actor,
    name: str,
    slug: str,
    visibility: str = StatusPage.Visibility.PUBLIC,
    team: Team | None = None,
    support_email: str = "",
    url: str = "",
    is_default: bool = False,
) -> StatusPage:
    ensure_can_create_page(actor, team)
    fields = _page_fields(
        {"name": name, "slug": slug, "visibility": visibility, "support_email": support_email, "url": url,
         "is_default": is_default}
    )  # fmt: skip
    page = StatusPage(team=team, **fields)
    _save_page(page)
    cache.invalidate_on_commit(page.slug)
    return page


@atomic
def status_page_update(*, actor, page: StatusPage, **changes) -> StatusPage:
    page = StatusPage.objects.select_for_update(of=("self",)).get(pk=page.pk)
    ensure_can_manage(actor, page)
    unknown = set(changes) - {"name", "slug", "visibility", "support_email", "url", "is_default", "team"}
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    old_slug = page.slug
    if "team" in changes and changes["team"] != page.team:
        # Handing the page to another team takes the right to manage both.
        ensure_can_create_page(actor, changes["team"])
        page.team = changes["team"]
    for name, value in _page_fields(changes).items():
        setattr(page, name, value)
    page.updated_at = timezone.now()
    _save_page(page)
    cache.invalidate_on_commit(page.slug, old_slug)
    return page


@atomic
def status_page_delete(*, actor, page: StatusPage) -> None:
    ensure_can_manage(actor, page)
    slug = page.slug
    page.delete()
    cache.invalidate_on_commit(slug)


# --- Components -----------------------------------------------------------------------------------------------


@atomic
def component_group_create(
    *, actor, page: StatusPage, name: str, description: str = "", position: int = 0
) -> ComponentGroup:
    ensure_can_manage(actor, page)
    group = ComponentGroup.objects.create(
        page=page,
        name=_text(name, field="name", max_length=NAME_MAX),
        description=_text(description, field="description", max_length=DESCRIPTION_MAX, required=False),
        position=_position(position),
    )
    _touch(page)
    return group


@atomic
def component_group_update(
    *, actor, group: ComponentGroup, name: str | None = None, description: str | None = None, position=None
) -> ComponentGroup:
    group = ComponentGroup.objects.select_for_update(of=("self",)).select_related("page").get(pk=group.pk)
    ensure_can_manage(actor, group.page)
    if name is not None:
        group.name = _text(name, field="name", max_length=NAME_MAX)
    if description is not None:
        group.description = _text(
            description, field="description", max_length=DESCRIPTION_MAX, required=False
        )
    if position is not None:
        group.position = _position(position)
    group.updated_at = timezone.now()
    group.save()
    _touch(group.page)
    return group


@atomic
def component_group_delete(*, actor, group: ComponentGroup) -> None:
    """Delete a group; its components stay on the page, ungrouped."""
    ensure_can_manage(actor, group.page)
    page = group.page
    group.delete()
    _touch(page)


def _component_fields(page: StatusPage, data: dict) -> dict:
    out = {}
    if "name" in data:
        out["name"] = _text(data["name"], field="name", max_length=NAME_MAX)
    if "description" in data:
        out["description"] = _text(
            data["description"], field="description", max_length=DESCRIPTION_MAX, required=False
        )
    if "position" in data and data["position"] is not None:
        out["position"] = _position(data["position"])
    if "group" in data:
        group = data["group"]
        if group is not None and group.page_id != page.pk:
            raise ValidationError("The group must be one of this page's.", field="group")
        out["group"] = group
    if "manual_status" in data:
        out["manual_status"] = _choice(data["manual_status"], ComponentStatus, field="manual_status")
    for flag in ("override", "showcase", "only_show_if_degraded"):
        if flag in data:
            out[flag] = bool(data[flag])
    return out


@atomic
def component_create(
    *,
    actor,
    page: StatusPage,
    name: str,
    description: str = "",
    position: int | None = None,
    group: ComponentGroup | None = None,
    services: Iterable[Service] = (),
    manual_status: str = ComponentStatus.OPERATIONAL,
    override: bool = False,
    showcase: bool = True,
    only_show_if_degraded: bool = False,
) -> Component:
    ensure_can_manage(actor, page)
    fields = _component_fields(
        page, {"name": name, "description": description, "position": position, "group": group,
               "manual_status": manual_status, "override": override, "showcase": showcase,
               "only_show_if_degraded": only_show_if_degraded}
    )  # fmt: skip
    if "position" not in fields:
        last = (
            Component.objects.filter(page=page)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        fields["position"] = 0 if last is None else min(last + 1, 32767)
    component = Component.objects.create(page=page, **fields)
    component.services.set(list(services))
    _touch(page)
    return component


@atomic
def component_update(
    *, actor, component: Component, services: Iterable[Service] | None = None, **changes
) -> Component:
    component = Component.objects.select_for_update(of=("self",)).select_related("page").get(pk=component.pk)
    ensure_can_manage(actor, component.page)
    unknown = set(changes) - {"name", "description", "position", "group", "manual_status", "override", "showcase",
                              "only_show_if_degraded"}  # fmt: skip
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    for name, value in _component_fields(component.page, changes).items():
        setattr(component, name, value)
    component.updated_at = timezone.now()
    component.save()
    if services is not None:
        component.services.set(list(services))
    _touch(component.page)
    return component


@atomic
def component_delete(*, actor, component: Component) -> None:
    ensure_can_manage(actor, component.page)
    page = component.page
    component.delete()
    _touch(page)


# --- Public incidents -----------------------------------------------------------------------------------------


def _stamp_status(public_incident: PublicIncident, status: str, now: datetime) -> None:
    public_incident.status = status
    if status == PublicIncident.Status.MONITORING and public_incident.monitoring_at is None:
        public_incident.monitoring_at = now
    if status in state.CLOSED_INCIDENT:
        public_incident.resolved_at = public_incident.resolved_at or now
    else:
        public_incident.resolved_at = None


def _add_update(
    *, public_incident: PublicIncident, status: str, body: str, components: dict, display_at, actor, now
) -> PublicUpdate:
    update = PublicUpdate.objects.create(
        public_incident=public_incident,
        status=status,
        body=body,
        display_at=display_at or now,
        created_at=now,
        updated_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    AffectedComponent.objects.bulk_create(
        [AffectedComponent(update=update, component=c, status=s) for c, s in components.items()]
    )
    return update


@atomic
def public_incident_create(
    *,
    actor,
    page: StatusPage,
    name: str,
    body: str,
    status: str = PublicIncident.Status.INVESTIGATING,
    impact: str = Impact.MINOR,
    components: Mapping[Component, str] | Iterable[Component] | None = None,
    incident: Incident | None = None,
    display_at: datetime | None = None,
) -> PublicIncident:
    """Open a public incident on ``page`` with its first update. ``components``: ``{component: status}`` (or a list
    of components, then at ``partial_outage``). ``incident``: the incident it tells about, never a private one."""
    if incident is not None:
        incident = Incident.objects.filter(pk=incident.pk).first()
        if incident is None:
            raise NotFound("No such incident.", field="incident")
    ensure_can_publish(actor, page, incident)
    _ensure_publishable(incident)
    status = _choice(status, PublicIncident.Status, field="status")
    if status == PublicIncident.Status.POSTMORTEM:
        raise InvalidTransition("A postmortem follows a resolved incident; open it with another status.")
    affected = _components(page, components, default=ComponentStatus.PARTIAL_OUTAGE)
    now = timezone.now()
    public_incident = PublicIncident(
        page=page,
        incident=incident,
        name=_text(name, field="name", max_length=TITLE_MAX),
        impact=_choice(impact, Impact, field="impact"),
        created_at=now,
        updated_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _stamp_status(public_incident, status, now)
    public_incident.save()
    _add_update(
        public_incident=public_incident,
        status=status,
        body=_text(body, field="body", max_length=BODY_MAX),
        components=affected,
        display_at=display_at,
        actor=actor,
        now=now,
    )
    _touch(page)
    return public_incident


@atomic
def public_update_publish(
    *,
    actor,
    public_incident: PublicIncident,
    status: str,
    body: str,
    components: Mapping[Component, str] | Iterable[Component] | None = None,
    display_at: datetime | None = None,
) -> PublicUpdate:
    """Publish an update: its status becomes the incident's. ``components`` None keeps the last update's affected
    components and their statuses (a resolution needs no list: a resolved incident no longer affects any)."""
    public_incident = (
        PublicIncident.objects.select_for_update(of=("self",))
        .select_related("page", "incident")
        .get(pk=public_incident.pk)
    )
    page = public_incident.page
    ensure_can_publish(actor, page, public_incident.incident)
    _ensure_publishable(public_incident.incident)
    status = _choice(status, PublicIncident.Status, field="status")
    if not state.incident_may_become(public_incident.status, status):
        raise InvalidTransition(
            f"A public incident cannot go from {public_incident.status} to {status}.", field="update_status"
        )
    if components is None:
        last = public_incident.updates.order_by("-created_at", "-id").first()
        affected = {a.component: a.status for a in last.affected.select_related("component")} if last else {}
    else:
        affected = _components(page, components, default=ComponentStatus.PARTIAL_OUTAGE)
    now = timezone.now()
    update = _add_update(
        public_incident=public_incident,
        status=status,
        body=_text(body, field="body", max_length=BODY_MAX),
        components=affected,
        display_at=display_at,
        actor=actor,
        now=now,
    )
    _stamp_status(public_incident, status, now)
    public_incident.updated_at = now
    public_incident.save(update_fields=["status", "monitoring_at", "resolved_at", "updated_at"])
    _touch(page)
    return update


@atomic
def public_incident_update(
    *, actor, public_incident: PublicIncident, name: str | None = None, impact: str | None = None
) -> PublicIncident:
    """Correct a public incident's name or impact (its status changes only by an update)."""
    public_incident = (
        PublicIncident.objects.select_for_update(of=("self",))
        .select_related("page", "incident")
        .get(pk=public_incident.pk)
    )
    ensure_can_publish(actor, public_incident.page, public_incident.incident)
    _ensure_publishable(public_incident.incident)
    if name is not None:
        public_incident.name = _text(name, field="name", max_length=TITLE_MAX)
    if impact is not None:
        public_incident.impact = _choice(impact, Impact, field="impact")
    public_incident.updated_at = timezone.now()
    public_incident.save(update_fields=["name", "impact", "updated_at"])
    _touch(public_incident.page)
    return public_incident


# --- Scheduled maintenance ------------------------------------------------------------------------------------


@atomic
def maintenance_create(
    *,
    actor,
    page: StatusPage,
    name: str,
    body: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: Iterable[Component] = (),
    impact: str = Impact.NONE,
) -> ScheduledMaintenance:
    ensure_can_manage(actor, page)
    if scheduled_for is None or scheduled_until is None or scheduled_until <= scheduled_for:
        raise ValidationError("A maintenance ends after it starts.", field="scheduled_until")
    chosen = list(_components(page, components, default=ComponentStatus.UNDER_MAINTENANCE))
    now = timezone.now()
    maintenance = ScheduledMaintenance.objects.create(
        page=page,
        name=_text(name, field="name", max_length=TITLE_MAX),
        impact=_choice(impact, Impact, field="impact"),
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        created_at=now,
        updated_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    maintenance.components.set(chosen)
    MaintenanceUpdate.objects.create(
        maintenance=maintenance,
        status=ScheduledMaintenance.Status.SCHEDULED,
        body=_text(body, field="body", max_length=BODY_MAX),
        display_at=now,
        created_at=now,
        updated_at=now,
    )
    _touch(page)
    return maintenance


@atomic
def maintenance_update_publish(
    *, actor, maintenance: ScheduledMaintenance, status: str, body: str
) -> MaintenanceUpdate:
    maintenance = (
        ScheduledMaintenance.objects.select_for_update(of=("self",))
        .select_related("page")
        .get(pk=maintenance.pk)
    )
    ensure_can_manage(actor, maintenance.page)
    status = _choice(status, ScheduledMaintenance.Status, field="status")
    if not state.maintenance_may_become(maintenance.status, status):
        raise InvalidTransition(
            f"A {maintenance.get_status_display().lower()} maintenance cannot become {status}."
        )
    now = timezone.now()
    update = MaintenanceUpdate.objects.create(
        maintenance=maintenance,
        status=status,
        body=_text(body, field="body", max_length=BODY_MAX),
        display_at=now,
        created_at=now,
        updated_at=now,
    )
    maintenance.status = status
    maintenance.updated_at = now
    if status == ScheduledMaintenance.Status.COMPLETED:
        maintenance.resolved_at = now
    maintenance.save(update_fields=["status", "updated_at", "resolved_at"])
    _touch(maintenance.page)
    return update
