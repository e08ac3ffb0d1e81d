"""On-call admin: Schedule (rotations and overrides inline, the next 14 days of final shifts), Rotation (members
inline, restrictions checked), Override, CalendarFeed. The web editor (oncall:rotation_edit) previews a rotation's
final shifts before saving; the admin links to it. Every write goes through ``oncall.services``, with its check that
only the team's leads and admins change its schedules.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import ServiceWritesAdmin
from oncall import selectors, services
from oncall import shifts as engine
from oncall.models import CalendarFeed, Override, Rotation, RotationMember, Schedule


class RotationAdminForm(forms.ModelForm):
    class Meta:
        model = Rotation
        fields = [
            "schedule",
            "name",
            "layer",
            "time_zone",
            "start_date",
            "handoff_time",
            "period",
            "period_hours",
            "ends_on",
            "restrictions",
        ]

    def clean_restrictions(self):
        value = self.cleaned_data.get("restrictions")
        try:
            engine.parse_restrictions(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value or []

    def clean(self):
        data = super().clean()
        if data.get("period") == Rotation.Period.CUSTOM and not data.get("period_hours"):
            self.add_error("period_hours", "A custom rotation needs a shift length in hours.")
        ends_on, start = data.get("ends_on"), data.get("start_date")
        for name, value in (("start_date", start), ("ends_on", ends_on)):
            if value and not services.EARLIEST <= value < services.LATEST:
                self.add_error(name, f"Between {services.EARLIEST.year} and {services.LATEST.year - 1}.")
        if ends_on and start and ends_on <= start:
            self.add_error("ends_on", "The rotation must end after its start date.")
        return data


class OverrideAdminForm(forms.ModelForm):
    class Meta:
        model = Override
        fields = ["schedule", "user", "starts_at", "ends_at", "note"]

    def clean(self):
        data = super().clean()
        for name in ("starts_at", "ends_at"):
            value = data.get(name)
            if value and not services.EARLIEST.year <= value.year < services.LATEST.year:
                self.add_error(name, f"Between {services.EARLIEST.year} and {services.LATEST.year - 1}.")
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The override must end after it starts.")
        return data


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    autocomplete_fields = ["user"]


class ScheduleRotationInline(admin.TabularInline):
    """A schedule's rotations. A new rotation needs its members: it is added on the rotation's own page."""

    model = Rotation
    form = RotationAdminForm
    extra = 0
    fields = ["name", "layer", "time_zone", "start_date", "handoff_time", "period", "period_hours", "ends_on"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ScheduleOverrideInline(admin.TabularInline):
    model = Override
    form = OverrideAdminForm
    extra = 0
    fields = ["user", "starts_at", "ends_at", "note"]
    autocomplete_fields = ["user"]


def _preview_html(schedule: Schedule) -> str:
    now = timezone.now().replace(second=0, microsecond=0)
    timeline = selectors.schedule_timeline(schedule, now, now + timedelta(days=selectors.PREVIEW_DAYS))
    rows = [
        (sh.start, sh.end, str(sh.user), "override" if sh.is_override else f"layer {sh.layer}")
        for sh in timeline.shifts
    ]
    rows += [(g.start, g.end, "GAP: nobody on call", "") for g in timeline.gaps]
    rows.sort(key=lambda r: r[0])
    return format_html(
        "<table><tr><th>From (UTC)</th><th>To (UTC)</th><th>Who</th><th></th></tr>{}</table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((f"{s:%a %d %b %H:%M}", f"{e:%a %d %b %H:%M}", who, src) for s, e, who, src in rows),
        ),
    )


def _changes(form, names) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in names}


OVERRIDE_FIELDS = ("user", "starts_at", "ends_at", "note")
SCHEDULE_FIELDS = ("name", "time_zone", "description")
ROTATION_EDITABLE = tuple(services.ROTATION_FIELDS)


def _override_create(actor, schedule, form):
    data = form.cleaned_data
    return services.override_create(
        actor=actor, schedule=schedule, **{name: data.get(name) for name in OVERRIDE_FIELDS}
    )


def _override_update(actor, override, form):
    return services.override_update(actor=actor, override=override, **_changes(form, OVERRIDE_FIELDS))


def _rotation_update(actor, rotation, form):
    return services.rotation_update(actor=actor, rotation=rotation, **_changes(form, ROTATION_EDITABLE))


def _members(formsets) -> list | None:
    for formset in formsets:
        if formset.model is RotationMember:
            alive = [
                f.cleaned_data
                for f in formset.forms
                if f.cleaned_data and f.cleaned_data.get("user") and not formset._should_delete_form(f)
            ]
            alive.sort(key=lambda d: d.get("position") or 0)
            return [d["user"] for d in alive]
    return None


@admin.register(Schedule)
class ScheduleAdmin(ServiceWritesAdmin):
    list_display = ["name", "team", "time_zone"]
    list_filter = ["team"]
    search_fields = ["name", "slug", "team__name"]
    readonly_fields = ["slug", "created_at", "next_14_days", "editor"]
    inlines = [ScheduleRotationInline, ScheduleOverrideInline]
    inline_services = {
        Rotation: (
            None,
            _rotation_update,
            lambda actor, r: services.rotation_delete(actor=actor, rotation=r),
        ),
        Override: (
            _override_create,
            _override_update,
            lambda actor, o: services.override_delete(actor=actor, override=o),
        ),
    }

    def get_readonly_fields(self, request, obj=None):
        # A schedule stays with its team (moving it would need the leads of both).
        return [*self.readonly_fields, "team"] if obj is not None else self.readonly_fields

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.schedule_create(
            actor=request.user,
            team=data.get("team"),
            name=data.get("name"),
            time_zone=data.get("time_zone") or "UTC",
            description=data.get("description") or "",
        )

    def service_update(self, request, obj, form, formsets):
        return services.schedule_update(actor=request.user, schedule=obj, **_changes(form, SCHEDULE_FIELDS))

    def service_delete(self, request, obj):
        services.schedule_delete(actor=request.user, schedule=obj)

    @admin.display(description="Final shifts, next 14 days")
    def next_14_days(self, obj):
        if obj is None or obj.pk is None:
            return "Save first."
        return _preview_html(obj)

    @admin.display(description="Editor with preview")
    def editor(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Open the schedule page</a>', reverse("oncall:schedule", args=[obj.pk])
        )


@admin.register(Rotation)
class RotationAdmin(ServiceWritesAdmin):
    form = RotationAdminForm
    list_display = ["name", "schedule", "layer", "period", "handoff_time", "time_zone"]
    list_filter = ["period", "schedule__team"]
    search_fields = ["name", "schedule__name"]
    inlines = [RotationMemberInline]
    readonly_fields = ["preview_link"]

    def get_readonly_fields(self, request, obj=None):
        # A rotation stays in its schedule (moving it would need the leads of both teams).
        return [*self.readonly_fields, "schedule"] if obj is not None else self.readonly_fields

    def service_create(self, request, obj, form, formsets):
        data = form.cleaned_data
        return services.rotation_create(
            actor=request.user,
            schedule=data.get("schedule"),
            members=_members(formsets),
            **{name: data.get(name) for name in ROTATION_EDITABLE if name in data},
        )

    def service_update(self, request, obj, form, formsets):
        return services.rotation_update(
            actor=request.user, rotation=obj, members=_members(formsets), **_changes(form, ROTATION_EDITABLE)
        )

    def service_delete(self, request, obj):
        services.rotation_delete(actor=request.user, rotation=obj)

    def save_inline_through_services(self, request, parent, formset):
        # The members were set by rotation_create / rotation_update.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.display(description="Preview before saving")
    def preview_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Edit with a 14-day preview</a>',
            reverse("oncall:rotation_edit", args=[obj.schedule_id, obj.pk]),
        )


@admin.register(Override)
class OverrideAdmin(ServiceWritesAdmin):
    form = OverrideAdminForm
    list_display = ["schedule", "user", "starts_at", "ends_at", "note"]
    list_filter = ["schedule__team"]
    search_fields = ["schedule__name", "user__username", "note"]
    autocomplete_fields = ["user"]
    date_hierarchy = "starts_at"

    def get_readonly_fields(self, request, obj=None):
        # An override stays in its schedule (moving it would need the leads of both teams).
        return ["schedule"] if obj is not None else []

    def service_create(self, request, obj, form, formsets):
        return _override_create(request.user, form.cleaned_data.get("schedule"), form)

    def service_update(self, request, obj, form, formsets):
        return _override_update(request.user, obj, form)

    def service_delete(self, request, obj):
        services.override_delete(actor=request.user, override=obj)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "token"]

    # Feeds are made and reset by their owner (oncall.services.calendar_feed_ensure / calendar_feed_reset).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
