"""Serializers of the schedules API: schedules, rotations, overrides, final shifts and who is on call."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import PersonSerializer, StrictInputSerializer, absolute_url, person
from oncall import services
from oncall.models import Override, Rotation, Schedule
from teams.api.serializers import SLUG_MAX, USERNAME_MAX

# --- Shifts ---------------------------------------------------------------------------------------------


class ShiftSerializer(serializers.Serializer):
    user = PersonSerializer()
    start = serializers.DateTimeField(help_text="UTC.")
    end = serializers.DateTimeField(help_text="UTC (exclusive).")
    layer = serializers.IntegerField(allow_null=True, help_text="The rotation layer; null for an override.")
    override = serializers.BooleanField(help_text="True when an override covers this span.")
    rotation_id = serializers.IntegerField(allow_null=True)
    override_id = serializers.IntegerField(allow_null=True)


def shift_data(shift) -> dict | None:
    if shift is None:
        return None
    return {
        "user": person(shift.user),
        "start": shift.start,
        "end": shift.end,
        "layer": shift.layer,
        "override": shift.is_override,
        "rotation_id": shift.rotation_id or None,
        "override_id": shift.override_id or None,
    }


class GapSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class TimelineSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    shifts = ShiftSerializer(many=True)
    gaps = GapSerializer(many=True, help_text="Spans nobody covers.")


def timeline_data(timeline) -> dict:
    return {
        "start": timeline.start,
        "end": timeline.end,
        "shifts": [shift_data(sh) for sh in timeline.shifts],
        "gaps": [{"start": g.start, "end": g.end} for g in timeline.gaps],
    }


class ScheduleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    time_zone = serializers.CharField()


class ScheduleOncallSerializer(serializers.Serializer):
    schedule = ScheduleRefSerializer()
    on_call = ShiftSerializer(allow_null=True, help_text="The shift holding `at`; null in a gap.")
    next = ShiftSerializer(allow_null=True, help_text="The next shift with someone else (within 14 days).")


class TeamOncallSerializer(serializers.Serializer):
    team = serializers.CharField(help_text="The team's slug.")
    at = serializers.DateTimeField()
    schedules = ScheduleOncallSerializer(many=True)


def oncall_data(team, at, entries) -> dict:
    return {
        "team": team.slug,
        "at": at,
        "schedules": [
            {
                "schedule": {
                    "id": e.schedule.pk,
                    "name": e.schedule.name,
                    "slug": e.schedule.slug,
                    "time_zone": e.schedule.time_zone,
                },
                "on_call": shift_data(e.shift),
                "next": shift_data(e.next_shift),
            }
            for e in entries
        ],
    }


# --- Rotations ----------------------------------------------------------------------------------------------


class RestrictionSerializer(serializers.Serializer):
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), help_text="Monday = 0."
    )
    start = serializers.CharField(help_text="HH:MM, local to the rotation.")
    end = serializers.CharField(
        help_text="HH:MM; at or before start ends on the next day; 24:00 is midnight."
    )


class RotationSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()
    restrictions = serializers.SerializerMethodField()

    class Meta:
        model = Rotation
        fields = [
            "id",
            "name",
            "layer",
            "time_zone",
            "start_date",
            "handoff_time",
            "period",
            "period_hours",
            "ends_on",
            "restrictions",
            "members",
        ]
        read_only_fields = fields

    @extend_schema_field(RestrictionSerializer(many=True))
    def get_restrictions(self, rotation: Rotation) -> list:
        return rotation.restrictions or []

    @extend_schema_field(PersonSerializer(many=True))
    def get_members(self, rotation: Rotation) -> list:
        return [person(m.user) for m in rotation.members.all()]


class RotationWriteSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=services.NAME_MAX)
    layer = serializers.IntegerField(min_value=1, max_value=services.LAYER_MAX, default=1)
    time_zone = serializers.CharField(max_length=64, default="UTC")
    start_date = serializers.DateField()
    handoff_time = serializers.TimeField(help_text="Local time of each hand-off, e.g. 09:00.")
    period = serializers.ChoiceField(choices=Rotation.Period.choices, default=Rotation.Period.WEEKLY)
    period_hours = serializers.IntegerField(
        min_value=1, max_value=services.PERIOD_HOURS_MAX, required=False, allow_null=True
    )
    ends_on = serializers.DateField(required=False, allow_null=True)
    restrictions = serializers.JSONField(
        required=False, help_text='A list of {"days": [0-6], "start": "09:00", "end": "17:00"} local windows.'
    )
    members = serializers.ListField(
        child=serializers.CharField(max_length=USERNAME_MAX),
        max_length=services.MEMBERS_MAX,
        help_text="The people in hand-off order: usernames (or user ids).",
    )


class RotationUpdateSerializer(RotationWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
            if hasattr(f, "default"):
                f.default = serializers.empty


# --- Overrides ------------------------------------------------------------------------------------------------


class OverrideSerializer(serializers.ModelSerializer):
    user = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Override
        fields = ["id", "user", "starts_at", "ends_at", "note", "created_by", "created_at"]
        read_only_fields = fields

    @extend_schema_field(PersonSerializer)
    def get_user(self, override: Override) -> dict:
        return person(override.user)

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_created_by(self, override: Override) -> dict | None:
        return person(override.created_by)


class OverrideWriteSerializer(StrictInputSerializer):
    user = serializers.CharField(max_length=USERNAME_MAX, help_text="Username (or user id) of who covers.")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=services.NOTE_MAX, required=False, allow_blank=True)


class OverrideUpdateSerializer(OverrideWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False


# --- Schedules -------------------------------------------------------------------------------------------------


class ScheduleSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug", read_only=True)
    rotations = RotationSerializer(many=True, read_only=True)
    ical_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["id", "team", "name", "slug", "description", "time_zone", "rotations", "ical_url", "url"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_ical_url(self, schedule: Schedule) -> str | None:
        """The secret iCalendar feed URL of the schedule (anyone with it can read the shifts), for those who may
        reset it (the team's leads and admins); null for everyone else, who subscribe to their personal feed."""
        may_see = self.context.get("may_see_feed")
        if may_see is None or not may_see(schedule):
            return None
        return absolute_url(
            self.context.get("request"), reverse("oncall:ical_schedule", args=[schedule.ical_token])
        )

    @extend_schema_field(serializers.URLField())
    def get_url(self, schedule: Schedule) -> str:
        return absolute_url(self.context.get("request"), reverse("api-schedule-detail", args=[schedule.pk]))


class ScheduleCreateSerializer(StrictInputSerializer):
    team = serializers.CharField(max_length=SLUG_MAX, help_text="The team's slug.")
    name = serializers.CharField(max_length=services.NAME_MAX)
    time_zone = serializers.CharField(max_length=64, default="UTC")
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)


class ScheduleUpdateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)


class ResetFeedSerializer(StrictInputSerializer):
    confirm = serializers.BooleanField(
        help_text="Must be true: every calendar subscribed to the old URL stops updating."
    )

    def validate_confirm(self, value):
        if value is not True:
            raise serializers.ValidationError("Send true to confirm.")
        return value
