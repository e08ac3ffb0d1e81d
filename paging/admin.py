"""Paging admin: the escalation policy editor (steps inline, checked like the service checks them) and pages with
their steps.

Pages are read-only here: they change through the "Acknowledge" action, which calls ``paging.services``.
"""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin import DomainErrorsAdminMixin, HiddenAsNotFoundMixin, ReadOnlyInline, ServiceWritesAdmin
from core.errors import DomainError
from incidents.admin import IncidentVisibleAdminMixin
from incidents.models import Source
from paging import services
from paging.forms import EscalationPolicyForm, EscalationStepForm, EscalationStepFormSet
from paging.models import EscalationPolicy, EscalationStep, Page, PageStep


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    form = EscalationStepForm
    formset = EscalationStepFormSet
    extra = 1
    autocomplete_fields = ()
    fields = ["position", "target", "schedule", "user", "wait_minutes"]


POLICY_FIELDS = ("name", "repeat", "is_default", "auto_page_severity")


def _steps(formsets) -> list[dict] | None:
    """The steps the inline formset holds after this save, in position order, as the service takes them."""
    for formset in formsets:
        if formset.model is EscalationStep:
            alive = [
                f.cleaned_data for f in formset.forms if f.cleaned_data and not formset._should_delete_form(f)
            ]
            alive.sort(key=lambda data: data.get("position") or 0)
            return [
                {
                    "target": data.get("target"),
                    "schedule": data.get("schedule"),
                    "user": data.get("user"),
                    "wait_minutes": data.get("wait_minutes"),
                }
                for data in alive
            ]
    return None


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ServiceWritesAdmin):
    """Policies are written by ``paging.services`` (only the team's leads and admins, one default per team, steps
    checked), exactly as through the API; the step rows are replaced with the policy's, never saved on their own."""

    form = EscalationPolicyForm
    inlines = [EscalationStepInline]
    list_display = ("name", "team", "is_default", "repeat", "auto_page_severity", "step_count")
    list_filter = ("team", "is_default")
    search_fields = ("name", "team__name")
    list_select_related = ("team", "auto_page_severity")

    def get_readonly_fields(self, request, obj=None):
        # A policy stays with its team (moving it would need the leads of both).
        return ["team"] if obj is not None else []

    @admin.display(description="Steps")
    def step_count(self, obj) -> int:
        return obj.steps.count()

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.escalation_policy_create(
            actor=request.user,
            team=data.get("team"),
            steps=_steps(formsets) or [],
            **{name: data.get(name) for name in POLICY_FIELDS},
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.escalation_policy_update(
            actor=request.user,
            policy=obj,
            steps=_steps(formsets),
            **{name: data.get(name) for name in POLICY_FIELDS if name in form.changed_data},
        )

    def service_delete(self, request, obj):
        services.escalation_policy_delete(actor=request.user, policy=obj)

    def save_inline_through_services(self, request, parent, formset):
        # The service already replaced the steps with the formset's.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class PageStepInline(IncidentVisibleAdminMixin, ReadOnlyInline):
    incident_path = "page__incident"
    model = PageStep
    fields = ("round", "step", "notified", "notified_at")


@admin.register(Page)
class PageAdmin(IncidentVisibleAdminMixin, DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    """Pages of incidents the staff user may see, and only those (a private incident's pages are absent)."""

    list_display = (
        "__str__",
        "incident",
        "team",
        "user",
        "status",
        "round",
        "step",
        "next_escalation_at",
        "created_at",
    )
    list_filter = ("status", "team")
    list_select_related = ("incident", "team", "user")
    search_fields = ("incident__title", "team__name", "user__username")
    readonly_fields = [f.name for f in Page._meta.fields]
    inlines = [PageStepInline]
    actions = ("acknowledge",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Acknowledge (stop escalating)", permissions=["change"])
    def acknowledge(self, request, queryset):
        done = 0
        for page in queryset.filter(status=Page.Status.TRIGGERED):
            try:
                services.page_acknowledge(page=page, actor=request.user, source=Source.ADMIN)
            except DomainError as exc:
                self.message_user(request, f"Page {page.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Acknowledged {done} page(s).", messages.SUCCESS)
