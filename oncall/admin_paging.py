"""Paging admin: the escalation policy editor (steps inline, checked like the service checks them) and pages with
their steps. Imported by ``oncall.admin``.

Pages are read-only here: they change through the "Acknowledge" action, which calls ``oncall.paging``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from core.admin import DomainErrorsAdminMixin, ReadOnlyInline
from core.errors import DomainError
from incidents.models import Source
from oncall import paging
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

    def clean_repeat(self):
        repeat = self.cleaned_data.get("repeat")
        if repeat is not None and repeat > paging.REPEAT_MAX:
            raise forms.ValidationError(f"Repeat at most {paging.REPEAT_MAX} times.")
        return repeat


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
    form = EscalationPolicyForm
    inlines = [EscalationStepInline]
    list_display = ("name", "team", "is_default", "repeat", "auto_page_severity", "step_count")
    list_filter = ("team", "is_default")
    search_fields = ("name", "team__name")
    list_select_related = ("team", "auto_page_severity")

    @admin.display(description="Steps")
    def step_count(self, obj) -> int:
        return obj.steps.count()

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if obj.is_default:
                # One default per team: this one takes it from the previous default.
                EscalationPolicy.objects.filter(team_id=obj.team_id, is_default=True).exclude(
                    pk=obj.pk
                ).update(is_default=False)
            super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        # Deletions first, so a step may take a position another step just gave up.
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        # Positions are unique per policy: park the changed rows out of the way, then write the final positions.
        moved = [i for i in instances if i.pk]
        for offset, instance in enumerate(moved):
            EscalationStep.objects.filter(pk=instance.pk).update(position=10_000 + offset)
        for instance in instances:
            instance.save()
        formset.save_m2m()


class PageStepInline(ReadOnlyInline):
    model = PageStep
    fields = ("round", "step", "notified", "notified_at")


@admin.register(Page)
class PageAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
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
