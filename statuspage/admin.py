"""Status page admin: pages, components and public incidents, every write through ``statuspage.services`` (the
same permission checks as everywhere: the page's team leads and admins, administrators, and for a public incident
linked to an incident, those who may act on it). Public incidents of private incidents are hidden like the
incident, and a private incident is never offered as a link."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from core.admin import ReadOnlyInline, ServiceWritesAdmin
from incidents.admin import IncidentVisibleAdminMixin
from incidents.models import Incident
from statuspage import services
from statuspage.forms import MaintenanceForm, PublicIncidentForm
from statuspage.models import (
    Component,
    ComponentGroup,
    MaintenanceUpdate,
    PublicIncident,
    PublicUpdate,
    ScheduledMaintenance,
    StatusPage,
    Subscriber,
)

PAGE_FIELDS = ("name", "slug", "visibility", "is_default", "team", "support_email", "url")
COMPONENT_FIELDS = (
    "group",
    "name",
    "description",
    "position",
    "manual_status",
    "override",
    "showcase",
    "only_show_if_degraded",
)


@admin.register(StatusPage)
class StatusPageAdmin(ServiceWritesAdmin):
    list_display = ("name", "slug", "visibility", "is_default", "team", "updated_at")
    list_filter = ("visibility", "team")
    search_fields = ("name", "slug")
    list_select_related = ("team",)
    fields = PAGE_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.status_page_create(
            actor=request.user, **{name: data.get(name) for name in PAGE_FIELDS}
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        changes = {name: data.get(name) for name in PAGE_FIELDS if name in form.changed_data}
        return services.status_page_update(actor=request.user, page=obj, **changes)

    def service_delete(self, request, obj):
        services.status_page_delete(actor=request.user, page=obj)


@admin.register(Component)
class ComponentAdmin(ServiceWritesAdmin):
    list_display = ("name", "page", "group", "manual_status", "override", "position")
    list_filter = ("page", "manual_status", "override")
    search_fields = ("name", "page__name")
    list_select_related = ("page", "group")
    fields = ("page", *COMPONENT_FIELDS, "services")
    filter_horizontal = ("services",)

    def get_readonly_fields(self, request, obj=None):
        return ["page"] if obj is not None else []

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.component_create(
            actor=request.user,
            page=data.get("page"),
            services=data.get("services") or [],
            **{name: data.get(name) for name in COMPONENT_FIELDS},
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        changes = {name: data.get(name) for name in COMPONENT_FIELDS if name in form.changed_data}
        return services.component_update(
            actor=request.user,
            component=obj,
            services=data.get("services") if "services" in form.changed_data else None,
            **changes,
        )

    def service_delete(self, request, obj):
        services.component_delete(actor=request.user, component=obj)


class PublicUpdateInline(IncidentVisibleAdminMixin, ReadOnlyInline):
    incident_path = "public_incident__incident"
    incident_optional = True
    model = PublicUpdate
    fields = ("status", "body", "display_at", "created_by")


@admin.register(PublicIncident)
class PublicIncidentAdmin(IncidentVisibleAdminMixin, ServiceWritesAdmin):
    """Public incidents on pages; a private incident's are hidden from those who may not see it."""

    incident_optional = True
    form = PublicIncidentForm
    inlines = [PublicUpdateInline]
    list_display = ("name", "page", "status", "impact", "incident", "created_at", "resolved_at")
    list_filter = ("page", "status", "impact")
    search_fields = ("name", "incident__title")
    list_select_related = ("page", "incident")

    def get_fields(self, request, obj=None):
        head = ("page", "incident") if obj is None else ()
        return (
            *head,
            "name",
            "impact",
            "update_status",
            "update_body",
            "affected_components",
            "component_status",
        )

    def get_readonly_fields(self, request, obj=None):
        return ("page", "incident", "status") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.related_model is Incident:
            field.queryset = field.queryset.filter(private=False)
        return field

    @staticmethod
    def _affected(data):
        chosen = data.get("affected_components")
        if not chosen:
            return None
        status = data.get("component_status") or "partial_outage"
        return dict.fromkeys(chosen, status)

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.public_incident_create(
            actor=request.user,
            page=data.get("page"),
            incident=data.get("incident"),
            name=data.get("name"),
            impact=data.get("impact"),
            status=data.get("update_status"),
            body=data.get("update_body"),
            components=self._affected(data),
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        changed = {name: data.get(name) for name in ("name", "impact") if name in form.changed_data}
        if changed:
            services.public_incident_update(actor=request.user, public_incident=obj, **changed)
        if data.get("update_body"):
            services.public_update_publish(
                actor=request.user,
                public_incident=obj,
                status=data.get("update_status"),
                body=data.get("update_body"),
                components=self._affected(data),
            )
        return PublicIncident.objects.get(pk=obj.pk)

    def service_delete(self, request, obj):
        raise NotImplementedError  # has_delete_permission is False: a published incident stays on record

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ComponentGroup)
class ComponentGroupAdmin(ServiceWritesAdmin):
    list_display = ("name", "page", "position")
    list_filter = ("page",)
    search_fields = ("name", "page__name")
    list_select_related = ("page",)
    fields = ("page", "name", "description", "position")

    def get_readonly_fields(self, request, obj=None):
        return ["page"] if obj is not None else []

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.component_group_create(
            actor=request.user,
            page=data.get("page"),
            name=data.get("name"),
            description=data.get("description") or "",
            position=data.get("position") or 0,
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        changes = {n: data.get(n) for n in ("name", "description", "position") if n in form.changed_data}
        return services.component_group_update(actor=request.user, group=obj, **changes)

    def service_delete(self, request, obj):
        services.component_group_delete(actor=request.user, group=obj)


class MaintenanceUpdateInline(ReadOnlyInline):
    model = MaintenanceUpdate
    fields = ("status", "body", "display_at")


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(ServiceWritesAdmin):
    """Maintenances: announced with their first update; afterwards they change only by an update."""

    form = MaintenanceForm
    inlines = [MaintenanceUpdateInline]
    list_display = ("name", "page", "status", "scheduled_for", "scheduled_until")
    list_filter = ("page", "status")
    search_fields = ("name",)
    list_select_related = ("page",)
    filter_horizontal = ("components",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("page", "name", "impact", "scheduled_for", "scheduled_until", "components", "update_body")
        return ("update_status", "update_body")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("page", "name", "status", "impact", "scheduled_for", "scheduled_until")

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.maintenance_create(
            actor=request.user,
            page=data.get("page"),
            name=data.get("name"),
            impact=data.get("impact"),
            scheduled_for=data.get("scheduled_for"),
            scheduled_until=data.get("scheduled_until"),
            components=data.get("components") or [],
            body=data.get("update_body"),
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        if data.get("update_body"):
            services.maintenance_update_publish(
                actor=request.user,
                maintenance=obj,
                status=data.get("update_status"),
                body=data.get("update_body"),
            )
        return ScheduledMaintenance.objects.get(pk=obj.pk)

    def service_delete(self, request, obj):
        raise NotImplementedError  # has_delete_permission is False: an announced maintenance stays on record

    def has_delete_permission(self, request, obj=None):
        return False


# --- Subscribers: read-only (they sign up and leave through their own links), visible to administrators -----------


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "page", "confirmed_at", "unsubscribed_at", "created_at")
    list_filter = ("page",)
    search_fields = ("email",)
    fields = ("page", "email", "components", "confirmed_at", "unsubscribed_at", "created_at")
    readonly_fields = fields
    actions = ["unsubscribe"]

    def _admin(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self._admin(request)

    def has_module_permission(self, request):
        return self._admin(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self._admin(request)  # erasing an address on its owner's request

    @admin.action(description="Unsubscribe the selected subscribers", permissions=["view"])
    def unsubscribe(self, request, queryset):
        from statuspage.subscribers import subscriber_unsubscribe

        for subscriber in queryset:
            subscriber_unsubscribe(subscriber=subscriber)
        self.message_user(request, f"Unsubscribed {queryset.count()} subscriber(s).")
