"""Paging admin: the escalation policy editor (steps inline, checked like the service checks them) and pages with
their steps. Imported by ``oncall.admin``.

Pages are read-only here: they change through the "Acknowledge" action, which calls ``oncall.paging``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from core.admin import DomainErrorsAdminMixin, HiddenAsNotFoundMixin, ReadOnlyInline
from core.errors import DomainError
from incidents.admin import IncidentVisibleAdminMixin
from incidents.models import Source
from oncall import paging
from oncall.admin import ServiceWritesAdmin
from oncall.models import EscalationPolicy, EscalationStep, Page, PageStep
from teams.models import Membership


class EscalationStepForm(forms.ModelForm):
    class Meta:
        model = EscalationStep
        fields = ["position", "target", "schedule", "user", "wait_minutes"]

    def clean(self):
        data = super().clean()
        target, schedule, user = data.get("target"), data.get("schedule"), data.get("user")
        team = getattr(self.instance.policy, "team", None) if self.instance.policy_id else None
        team = team or getattr(self, "parent_team", None)
        wait = data.get("wait_minutes")
        if wait is not None and not paging.WAIT_MIN <= wait <= paging.WAIT_MAX:
            self.add_error("wait_minutes", f"Wait between {paging.WAIT_MIN} and {paging.WAIT_MAX} minutes.")
        if target == EscalationStep.Target.SCHEDULE:
            if schedule is None:
                self.add_error("schedule", "Choose the schedule whose on-call is notified.")
            elif team is not None and schedule.team_id != team.pk:
                self.add_error("schedule", f"Choose one of the {team.name} team's schedules.")
            data["user"] = None
        elif target == EscalationStep.Target.USER:
            if user is None:
                self.add_error("user", "Choose the person notified.")
            elif team is not None and not Membership.objects.filter(team=team, user=user).exists():
                self.add_error("user", f"Choose a member of the {team.name} team.")
            data["schedule"] = None
        elif target == EscalationStep.Target.TEAM:
            data["schedule"] = data["user"] = None
        return data


class EscalationStepFormSet(forms.BaseInlineFormSet):
    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.parent_team = getattr(self.instance, "team", None) if self.instance.team_id else None
        return form

    def clean(self):
        super().clean()
        alive = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not alive:
            raise forms.ValidationError("A policy needs at least one step.")
        if len(alive) > paging.STEPS_MAX:
            raise forms.ValidationError(f"A policy has at most {paging.STEPS_MAX} steps.")
        positions = [f.cleaned_data.get("position") for f in alive]
        if len(set(positions)) != len(positions):
            raise forms.ValidationError("Give each step its own position.")


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    form = EscalationStepForm
    formset = EscalationStepFormSet
    extra = 1
    autocomplete_fields = ()
    fields = ["position", "target", "schedule", "user", "wait_minutes"]


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["team", "name", "is_default", "repeat", "auto_page_severity"]

    def _get_validation_exclusions(self):
        # The service moves the team's default to this policy (and checks the name); the "one default per team"
        # constraint is its guarantee. Checked here, it would refuse a second default with the constraint's name.
        return super()._get_validation_exclusions() | {"is_default"}

    def clean_repeat(self):
        repeat = self.cleaned_data.get("repeat")
        if repeat is not None and repeat > paging.REPEAT_MAX:
            raise forms.ValidationError(f"Repeat at most {paging.REPEAT_MAX} times.")
        return repeat


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
    """Policies are written by ``oncall.paging`` (only the team's leads and admins, one default per team, steps
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
        return paging.escalation_policy_create(
            actor=request.user,
            team=data.get("team"),
            steps=_steps(formsets) or [],
            **{name: data.get(name) for name in POLICY_FIELDS},
        )

    def service_update(self, request, obj, form, formsets):
        data = form.cleaned_data
        return paging.escalation_policy_update(
            actor=request.user,
            policy=obj,
            steps=_steps(formsets),
            **{name: data.get(name) for name in POLICY_FIELDS if name in form.changed_data},
        )

    def service_delete(self, request, obj):
        paging.escalation_policy_delete(actor=request.user, policy=obj)

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
                paging.page_acknowledge(page=page, actor=request.user, source=Source.ADMIN)
            except DomainError as exc:
                self.message_user(request, f"Page {page.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Acknowledged {done} page(s).", messages.SUCCESS)
