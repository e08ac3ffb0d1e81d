"""On-call admin.

Schedules part (H5): Schedule (rotations and overrides inline, the next 14 days of final shifts), Rotation (members
inline, restrictions checked), Override, CalendarFeed. The web editor (oncall:rotation_edit) previews a rotation's
final shifts before saving; the admin links to it. Paging admin classes follow below this part.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from oncall import selectors, services
from oncall import shifts as engine
from oncall.models import CalendarFeed, Override, Rotation, RotationMember, Schedule

# === Schedules (H5) ======================================================================================


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
    model = Rotation
    form = RotationAdminForm
    extra = 0
    fields = ["name", "layer", "time_zone", "start_date", "handoff_time", "period", "period_hours", "ends_on"]
    show_change_link = True


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


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone"]
    list_filter = ["team"]
    search_fields = ["name", "slug", "team__name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["next_14_days", "editor"]
    inlines = [ScheduleRotationInline, ScheduleOverrideInline]

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
class RotationAdmin(admin.ModelAdmin):
    form = RotationAdminForm
    list_display = ["name", "schedule", "layer", "period", "handoff_time", "time_zone"]
    list_filter = ["period", "schedule__team"]
    search_fields = ["name", "schedule__name"]
    inlines = [RotationMemberInline]
    readonly_fields = ["preview_link"]

    @admin.display(description="Preview before saving")
    def preview_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Edit with a 14-day preview</a>',
            reverse("oncall:rotation_edit", args=[obj.schedule_id, obj.pk]),
        )


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    form = OverrideAdminForm
    list_display = ["schedule", "user", "starts_at", "ends_at", "note"]
    list_filter = ["schedule__team"]
    search_fields = ["schedule__name", "user__username", "note"]
    autocomplete_fields = ["user"]
    date_hierarchy = "starts_at"


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user"]
    search_fields = ["user__username"]
    readonly_fields = ["token"]
    autocomplete_fields = ["user"]


# === End of schedules (H5) ==============================================================================

# === Paging (H6): escalation policies and pages, in oncall/admin_paging.py ================================
from oncall import admin_paging  # noqa: E402, F401
