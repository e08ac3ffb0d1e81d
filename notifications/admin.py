"""The notifications admin: where messages go (destinations, routing rules, attention windows, contacts) and the
outbox itself, read-only. Messages are never edited by hand: the only write is "Resend", through
``notifications.services.message_resend``. Messages of private incidents stay invisible to those who may not see
the incident, as everywhere else.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import DomainErrorsAdminMixin, HiddenAsNotFoundMixin
from core.errors import DomainError
from incidents.admin import IncidentVisibleAdminMixin
from incidents.models import Incident
from incidents.selectors import parse_reference
from notifications import channels, checks, selectors, services
from notifications.models import (
    AttentionWindow,
    Contact,
    Destination,
    IncidentSlackChannel,
    Message,
    Reminder,
    RoutingRule,
)
from notifications.permissions import can_resend


def health_url() -> str:
    """The delivery health page, linked from the Message and Destination lists (see their change_list.html)."""
    return reverse("notifications:health")


def short(text: str, length: int = 80) -> str:
    return Truncator(text or "").chars(length)


# --- Destinations -------------------------------------------------------------------------------------------


@admin.register(Destination)
class DestinationAdmin(DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    """Destinations are checked by ``services.destination_check`` (through ``Destination.clean``) before saving."""

    list_display = ("name", "channel", "target_summary", "active", "error_summary", "last_error_at")
    list_filter = ("channel", "active")
    search_fields = ("name", "slack_channel", "email_addresses", "webhook_url")
    ordering = ("channel", "name")
    readonly_fields = ("last_error", "last_error_at")
    actions = ("send_test", "clear_last_error")
    fieldsets = (
        (None, {"fields": ("name", "channel", "active")}),
        (
            "Where",
            {
                "fields": (
                    "slack_channel",
                    "mention",
                    "email_addresses",
                    "webhook_url",
                    "webhook_secret",
                    "address",
                ),
                "description": "Fill in the fields of the destination's channel; the others are ignored.",
            },
        ),
        ("Last delivery error", {"fields": ("last_error", "last_error_at")}),
    )

    def save_model(self, request, obj, form, change):
        services.destination_save(destination=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.destination_delete(destination=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.destination_delete(destination=obj, actor=request.user)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "channel":
            return forms.ChoiceField(
                choices=channels.choices, label="Channel", help_text="The registered transport that delivers."
            )
        if db_field.name == "webhook_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Target")
    def target_summary(self, obj: Destination) -> str:
        transport = channels.registry().get(obj.channel)
        return (transport.describe(obj) if transport is not None else "") or "-"

    @admin.display(description="Last error", ordering="last_error_at")
    def error_summary(self, obj: Destination) -> str:
        if not obj.last_error:
            return "-"
        return format_html('<span style="color:#b91c1c">{}</span>', short(obj.last_error, 100))

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test(self, request, queryset):
        destinations = list(queryset.filter(active=True))
        skipped = queryset.filter(active=False).count()
        if destinations:
            queued = checks.destinations_send_test(destinations=destinations, actor=request.user)
            self.message_user(
                request,
                format_html(
                    'Queued {} test message(s) to {}. Their delivery shows in <a href="{}">Messages</a> and on '
                    'the <a href="{}">delivery health</a> page within seconds.',
                    queued,
                    ", ".join(d.name for d in destinations),
                    reverse("admin:notifications_message_changelist") + "?q=test%3A",
                    health_url(),
                ),
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} inactive destination(s): switch them on first.", messages.WARNING
            )

    @admin.action(description="Clear the last error (after fixing the destination)", permissions=["change"])
    def clear_last_error(self, request, queryset):
        cleared = queryset.exclude(last_error="").update(last_error="", last_error_at=None)
        self.message_user(request, f"Cleared the error of {cleared} destination(s).", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "health_url": health_url()})


# --- Routing rules ------------------------------------------------------------------------------------------


@admin.register(RoutingRule)
class RoutingRuleAdmin(DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    list_display = ("name", "enabled", "order", "conditions", "destination_names")
    list_display_links = ("name",)
    list_editable = ("enabled", "order")
    list_filter = ("enabled", "team", "during_attention_window", "include_private")
    list_select_related = ("team", "min_severity", "service")
    search_fields = ("name",)
    ordering = ("order", "id")
    filter_horizontal = ("destinations",)
    fieldsets = (
        (None, {"fields": ("name", "enabled", "order")}),
        (
            "When (every condition set must match; empty matches everything)",
            {
                "fields": (
                    "team",
                    "event_kinds",
                    "min_severity",
                    "customer_impact_only",
                    "service",
                    "during_attention_window",
                    "include_private",
                )
            },
        ),
        ("Where", {"fields": ("destinations",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("destinations")

    def save_model(self, request, obj, form, change):
        services.routing_rule_save(
            rule=obj, actor=request.user, destinations=form.cleaned_data.get("destinations")
        )

    def delete_model(self, request, obj):
        services.routing_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.routing_rule_delete(rule=obj, actor=request.user)

    def save_related(self, request, form, formsets, change):
        # The destinations were set by routing_rule_save; the rule has no other relation to save.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.display(description="When")
    def conditions(self, obj: RoutingRule) -> str:
        parts = [f"team {obj.team.name}" if obj.team_id else "any team"]
        if obj.event_kinds:
            parts.append("on " + ", ".join(str(kind).replace("_", " ") for kind in obj.event_kinds))
        if obj.min_severity_id:
            parts.append(f"{obj.min_severity.name} or worse")
        if obj.customer_impact_only:
            parts.append("customer impact")
        if obj.service_id:
            parts.append(f"service {obj.service.name}")
        if obj.during_attention_window:
            parts.append("during attention windows")
        parts.append("private too" if obj.include_private else "not private")
        return "; ".join(parts)

    @admin.display(description="Destinations")
    def destination_names(self, obj: RoutingRule) -> str:
        names = [d.name + ("" if d.active else " (off)") for d in obj.destinations.all()]
        return ", ".join(names) or "-"


# --- Attention windows --------------------------------------------------------------------------------------


class ActiveNowFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return (("active", "Active now"), ("upcoming", "Upcoming"), ("past", "Past"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(starts_at__lte=now, ends_at__gt=now)
        if self.value() == "upcoming":
            return queryset.filter(starts_at__gt=now)
        if self.value() == "past":
            return queryset.filter(ends_at__lte=now)
        return queryset


@admin.register(AttentionWindow)
class AttentionWindowAdmin(DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    list_display = ("note", "starts_at", "ends_at", "active_now", "created_by")
    list_filter = (ActiveNowFilter,)
    list_select_related = ("created_by",)
    search_fields = ("note",)
    ordering = ("-starts_at",)
    fields = ("note", "starts_at", "ends_at", "created_by")
    readonly_fields = ("created_by",)

    @admin.display(description="Active now", boolean=True)
    def active_now(self, obj: AttentionWindow) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        services.attention_window_save(window=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.attention_window_delete(window=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.attention_window_delete(window=obj, actor=request.user)


# --- Contacts -----------------------------------------------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    """Written by ``notifications.services.contact_save``: only the person and superusers change where their
    messages go."""

    list_display = ("user", "email", "slack_user_id")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "user__first_name", "user__last_name", "slack_user_id")
    autocomplete_fields = ("user",)
    ordering = ("user__username",)

    @admin.display(description="Email", ordering="user__email")
    def email(self, obj: Contact) -> str:
        return obj.user.email or "-"

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        services.contact_save(contact=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.contact_delete(contact=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for contact in queryset.select_related("user"):
            services.contact_delete(contact=contact, actor=request.user)


# --- Messages: the outbox, read-only, with Resend ----------------------------------------------------------


@admin.register(Message)
class MessageAdmin(
    IncidentVisibleAdminMixin, DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin
):
    incident_optional = True  # a message tied to no incident: staff only (selectors.message_visible_q)
    """Every message Muster sent or is sending. Read-only; dead and failed messages can be resent."""

    list_display = (
        "created_at",
        "channel",
        "kind",
        "short_target",
        "incident_link",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "short_error",
    )
    list_display_links = ("created_at",)
    list_filter = ("status", "channel", "kind", "created_at")
    list_select_related = ("incident", "destination")
    search_fields = ("target", "dedupe_key", "subject")
    search_help_text = (
        "A target (channel, address, URL), a dedupe key or subject, or a reference such as INC-12."
    )
    date_hierarchy = "created_at"
    ordering = ("-id",)
    list_per_page = 50
    actions = ("resend",)
    fieldsets = (
        (
            None,
            {"fields": ("uid", "channel", "kind", "target", "destination", "recipient", "incident", "event")},
        ),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempts",
                    "created_at",
                    "next_attempt_at",
                    "lease_until",
                    "sent_at",
                    "external_id",
                    "last_error",
                    "dedupe_key",
                )
            },
        ),
        ("Content", {"fields": ("subject", "body", "html", "payload"), "classes": ("collapse",)}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def get_queryset(self, request):
        # A destination can hold thousands of addresses: the list never shows them.
        return (
            super()
            .get_queryset(request)
            .filter(selectors.message_visible_q(request.user))
            .defer("html", "payload", "destination__email_addresses", "destination__webhook_secret")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission allows the Resend action; one message's page is view-only (a worker owns the row).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # The outbox is the record of what was said to whom; its dedupe keys also keep messages from repeating.
        return False

    def get_search_results(self, request, queryset, search_term):
        pk = parse_reference(search_term)
        if pk is not None:
            return queryset.filter(incident_id=pk), False
        return super().get_search_results(request, queryset, search_term)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "health_url": health_url()})

    # -- Columns

    @admin.display(description="Target", ordering="target")
    def short_target(self, obj: Message) -> str:
        return short(obj.target, 50)

    @admin.display(description="Incident", ordering="incident_id")
    def incident_link(self, obj: Message) -> str:
        if obj.incident_id is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("notifications:incident_messages", args=[obj.incident_id]),
            Incident.reference_for(obj.incident_id),
        )

    STATUS_COLOURS = {
        Message.Status.PENDING: "#6b7280",
        Message.Status.SENDING: "#2563eb",
        Message.Status.SENT: "#15803d",
        Message.Status.FAILED: "#b45309",
        Message.Status.DEAD: "#b91c1c",
    }

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Message) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            self.STATUS_COLOURS.get(obj.status, "#6b7280"),
            obj.get_status_display(),
        )

    @admin.display(description="Last error")
    def short_error(self, obj: Message) -> str:
        return short(obj.last_error, 100) or "-"

    # -- Resend

    @admin.action(description="Resend dead or failed messages", permissions=["change"])
    def resend(self, request, queryset):
        """Put dead and failed messages back in the queue, for whoever may act on their incident (as on the web
        and in the API); every other message is refused with the reason."""
        rows = list(queryset.select_related("incident").defer("html", "payload", "body"))
        resendable = {Message.Status.DEAD, Message.Status.FAILED}
        refused = [m for m in rows if m.status not in resendable]
        resent = 0
        for message in rows:
            if message.status not in resendable:
                continue
            if not can_resend(request.user, message):
                self.message_user(
                    request,
                    f"Message {message.pk}: only those who can act on {Incident.reference_for(message.incident_id)} "
                    "can resend it.",
                    messages.ERROR,
                )
                continue
            try:
                services.message_resend(message=message.pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"Message {message.pk}: {exc}", messages.ERROR)
            else:
                resent += 1
        if resent:
            self.message_user(request, f"Queued {resent} message(s) for delivery again.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"Did not resend {len(refused)} message(s): only dead or failed messages can be resent "
                "(pending and sending ones are on their way; sent ones were delivered).",
                messages.WARNING,
            )


# --- Incident Slack channels and reminders (read-only records) -----------------------------------------------


class _IncidentRecordAdmin(IncidentVisibleAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    """Read-only rows tied to an incident, hidden with the incident from those who may not see it."""

    list_select_related = ("incident",)
    search_fields = ("incident__title",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Incident", ordering="incident_id")
    def incident_ref(self, obj) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("incidents:detail", args=[obj.incident_id]),
            Incident.reference_for(obj.incident_id),
        )


@admin.register(IncidentSlackChannel)
class IncidentSlackChannelAdmin(_IncidentRecordAdmin):
    list_display = ("name", "incident_ref", "is_private", "channel_id", "created_at", "archived_at")
    list_filter = ("is_private",)
    search_fields = ("name", "channel_id", "incident__title")


@admin.register(Reminder)
class ReminderAdmin(_IncidentRecordAdmin):
    list_display = ("created_at", "kind", "incident_ref", "key")
    list_filter = ("kind",)
    search_fields = ("key", "incident__title")
