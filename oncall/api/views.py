"""Schedules API: schedules, their rotations and overrides, final shifts, and who is on call for a team.

Views call oncall.services and oncall.selectors only. Anyone signed in reads; a team's leads and admins edit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import IdCursorPagination
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import NotFound, ValidationError
from core.validation import to_id
from oncall import selectors, services
from oncall.api.serializers import (
    OverrideSerializer,
    OverrideUpdateSerializer,
    OverrideWriteSerializer,
    ResetFeedSerializer,
    RotationSerializer,
    RotationUpdateSerializer,
    RotationWriteSerializer,
    ScheduleCreateSerializer,
    ScheduleSerializer,
    ScheduleUpdateSerializer,
    TeamOncallSerializer,
    TimelineSerializer,
    oncall_data,
    timeline_data,
)
from oncall.models import Schedule
from teams import selectors as team_selectors
from teams.api.views import TEAM_SLUG, get_team

SHIFTS_MAX_DAYS = 180

SCHEDULE_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The schedule's id."
)
ROTATION_ID = OpenApiParameter(
    "rid", OpenApiTypes.INT, OpenApiParameter.PATH, description="The rotation's id."
)
OVERRIDE_ID = OpenApiParameter(
    "oid", OpenApiTypes.INT, OpenApiParameter.PATH, description="The override's id."
)
AT = OpenApiParameter(
    "at", OpenApiTypes.DATETIME, description="ISO 8601 instant (default now); without an offset, UTC."
)
START = OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO 8601 (default now).")
END = OpenApiParameter(
    "end",
    OpenApiTypes.DATETIME,
    description=f"ISO 8601 (default start + 14 days; at most {SHIFTS_MAX_DAYS} days).",
)
TEAM_FILTER = OpenApiParameter(
    "team", OpenApiTypes.STR, description="Only this team's schedules (its slug); an unknown one is a 400."
)


def parse_instant(value: str | None, *, field: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 query parameter as an aware datetime (UTC when it has no offset), or a 400."""
    if value is None or value == "":
        if default is not None:
            return default
        raise ValidationError("Required.", code="required", field=field)
    value = value.strip().replace(" ", "+")  # an unencoded "+" in a query string arrives as a space
    try:
        parsed = parse_datetime(value) if len(value) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError("Not an ISO 8601 date and time, e.g. 2026-03-29T09:00:00Z.", field=field)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None or not services.EARLIEST.year <= parsed.year < services.LATEST.year:
        raise ValidationError(
            f"Out of range: between {services.EARLIEST.year} and {services.LATEST.year - 1}.", field=field
        )
    return parsed


def resolve_user(value, *, field: str):
    """A username (or a user id) as an active user, or a 400 keyed by ``field``."""
    value = str(value).strip()
    user = team_selectors.user_get(username=value)
    pk = to_id(value) if user is None else None
    if pk is not None:
        user = team_selectors.assignable_user_list().filter(pk=pk).first()
    if user is None:
        raise ValidationError(f"Unknown user '{value[:150]}'.", code="unknown_user", field=field)
    return user


def get_schedule(pk) -> Schedule:
    schedule = selectors.schedule_get(pk=pk)
    if schedule is None:
        raise NotFound("No such schedule.")
    return schedule


# --- Who is on call --------------------------------------------------------------------------------------


class TeamOncallView(ApiView):
    serializer_class = TeamOncallSerializer

    @extend_schema(
        operation_id="teams_oncall",
        summary="Who is on call for a team, now or at any instant",
        description="Per schedule of the team: the shift holding `at` (who, start, end, layer or override) and "
        "the next hand-off. Shift bounds are looked up within 14 days of `at`.",
        parameters=[TEAM_SLUG, AT],
        responses={200: TeamOncallSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, slug: str):
        team = get_team(slug)
        at = parse_instant(request.query_params.get("at"), field="at", default=timezone.now())
        return Response(oncall_data(team, at, selectors.team_oncall_entries(team, at)))


# --- Schedules ---------------------------------------------------------------------------------------------


def _schedule_context(request) -> dict:
    """A schedule's secret feed URL goes only to those who may reset it (``oncall.services.can_reset_feed``)."""
    return {"request": request, "may_see_feed": services.feed_reset_checker(request.user)}


class ScheduleListView(ApiView):
    serializer_class = ScheduleSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        operation_id="schedules_list",
        summary="List schedules",
        parameters=[TEAM_FILTER],
        responses={200: ScheduleSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        qs = selectors.schedule_list()
        slug = request.query_params.get("team")
        if slug:
            try:
                team = get_team(slug)
            except NotFound:
                raise ValidationError(
                    f"Unknown team '{slug[:50]}'.", code="unknown_team", field="team"
                ) from None
            qs = qs.filter(team=team)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            ScheduleSerializer(page, many=True, context=_schedule_context(request)).data
        )

    @extend_schema(
        operation_id="schedules_create",
        summary="Create a schedule (the team's leads and admins)",
        request=ScheduleCreateSerializer,
        responses={201: ScheduleSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(ScheduleCreateSerializer, request)
        try:
            team = get_team(data.pop("team"))
        except NotFound:
            raise ValidationError("No such team.", field="team") from None
        schedule = services.schedule_create(actor=request.user, team=team, **data)
        schedule = get_schedule(schedule.pk)
        return Response(ScheduleSerializer(schedule, context=_schedule_context(request)).data, status=201)


class ScheduleDetailView(ApiView):
    serializer_class = ScheduleSerializer

    @extend_schema(
        operation_id="schedules_retrieve",
        summary="A schedule with its rotations",
        parameters=[SCHEDULE_ID],
        responses={200: ScheduleSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        return Response(ScheduleSerializer(get_schedule(id), context=_schedule_context(request)).data)

    @extend_schema(
        operation_id="schedules_partial_update",
        summary="Rename a schedule, change its time zone or description (the team's leads and admins)",
        parameters=[SCHEDULE_ID],
        request=ScheduleUpdateSerializer,
        responses={200: ScheduleSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, id: str):
        schedule = get_schedule(id)
        data = validated(ScheduleUpdateSerializer, request)
        services.schedule_update(actor=request.user, schedule=schedule, **data)
        return Response(ScheduleSerializer(get_schedule(id), context=_schedule_context(request)).data)

    @extend_schema(
        operation_id="schedules_destroy",
        summary="Delete a schedule (the team's leads and admins)",
        parameters=[SCHEDULE_ID],
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request, id: str):
        services.schedule_delete(actor=request.user, schedule=get_schedule(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleResetFeedView(ApiView):
    serializer_class = ScheduleSerializer

    @extend_schema(
        operation_id="schedules_reset_feed",
        summary="Give the schedule's iCal feed a new secret URL; the old one stops working (leads and admins)",
        parameters=[SCHEDULE_ID],
        request=ResetFeedSerializer,
        responses={200: ScheduleSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        schedule = get_schedule(id)
        validated(ResetFeedSerializer, request)
        services.schedule_reset_token(actor=request.user, schedule=schedule)
        return Response(ScheduleSerializer(get_schedule(id), context=_schedule_context(request)).data)


class ScheduleShiftsView(ApiView):
    serializer_class = TimelineSerializer

    @extend_schema(
        operation_id="schedules_shifts",
        summary="A schedule's final shifts and gaps in a window",
        description=f"Computed in UTC; the window is at most {SHIFTS_MAX_DAYS} days.",
        parameters=[SCHEDULE_ID, START, END],
        responses={200: TimelineSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, id: str):
        schedule = get_schedule(id)
        start = parse_instant(request.query_params.get("start"), field="start", default=timezone.now())
        end = parse_instant(request.query_params.get("end"), field="end", default=start + timedelta(days=14))
        if end <= start:
            raise ValidationError("The end must be after the start.", field="end")
        if end - start > timedelta(days=SHIFTS_MAX_DAYS):
            raise ValidationError(f"At most {SHIFTS_MAX_DAYS} days at a time.", field="end")
        return Response(timeline_data(selectors.schedule_timeline(schedule, start, end)))


# --- Rotations -----------------------------------------------------------------------------------------------


def _rotation_values(data: dict) -> tuple[dict, list | None]:
    members = data.pop("members", None)
    if members is not None:
        members = [resolve_user(m, field="members") for m in members]
    return data, members


class RotationListView(ApiView):
    serializer_class = RotationSerializer

    @extend_schema(
        operation_id="schedules_rotations_list",
        summary="A schedule's rotations (highest layer first)",
        parameters=[SCHEDULE_ID],
        responses={200: RotationSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        schedule = get_schedule(id)
        return Response(RotationSerializer(schedule.rotations.all(), many=True).data)

    @extend_schema(
        operation_id="schedules_rotations_create",
        summary="Add a rotation (the team's leads and admins)",
        parameters=[SCHEDULE_ID],
        request=RotationWriteSerializer,
        responses={201: RotationSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        schedule = get_schedule(id)
        data, members = _rotation_values(dict(validated(RotationWriteSerializer, request)))
        rotation = services.rotation_create(actor=request.user, schedule=schedule, members=members, **data)
        rotation = selectors.rotation_get(schedule=schedule, pk=rotation.pk)
        return Response(RotationSerializer(rotation).data, status=201)


class RotationDetailView(ApiView):
    serializer_class = RotationSerializer

    def get_rotation(self, id: str, rid: str):
        schedule = get_schedule(id)
        rotation = selectors.rotation_get(schedule=schedule, pk=rid)
        if rotation is None:
            raise NotFound("No such rotation in this schedule.")
        return rotation

    @extend_schema(
        operation_id="schedules_rotations_retrieve",
        summary="A rotation",
        parameters=[SCHEDULE_ID, ROTATION_ID],
        responses={200: RotationSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str, rid: str):
        return Response(RotationSerializer(self.get_rotation(id, rid)).data)

    @extend_schema(
        operation_id="schedules_rotations_partial_update",
        summary="Change a rotation; `members` replaces the whole order (the team's leads and admins)",
        parameters=[SCHEDULE_ID, ROTATION_ID],
        request=RotationUpdateSerializer,
        responses={200: RotationSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, id: str, rid: str):
        rotation = self.get_rotation(id, rid)
        data, members = _rotation_values(dict(validated(RotationUpdateSerializer, request)))
        services.rotation_update(actor=request.user, rotation=rotation, members=members, **data)
        return Response(RotationSerializer(self.get_rotation(id, rid)).data)

    @extend_schema(
        operation_id="schedules_rotations_destroy",
        summary="Delete a rotation (the team's leads and admins)",
        parameters=[SCHEDULE_ID, ROTATION_ID],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, id: str, rid: str):
        services.rotation_delete(actor=request.user, rotation=self.get_rotation(id, rid))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Overrides --------------------------------------------------------------------------------------------------


class OverrideListView(ApiView):
    serializer_class = OverrideSerializer

    @extend_schema(
        operation_id="schedules_overrides_list",
        summary="A schedule's overrides that have not ended (or all overlapping start..end)",
        parameters=[SCHEDULE_ID, START, END],
        responses={200: OverrideSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, id: str):
        schedule = get_schedule(id)
        start = parse_instant(request.query_params.get("start"), field="start", default=timezone.now())
        end = request.query_params.get("end")
        end = parse_instant(end, field="end") if end else None
        overrides = selectors.override_list(schedule=schedule, start=start, end=end)[:500]
        return Response(OverrideSerializer(overrides, many=True).data)

    @extend_schema(
        operation_id="schedules_overrides_create",
        summary="Add an override: one person covers a span (the team's leads and admins)",
        parameters=[SCHEDULE_ID],
        request=OverrideWriteSerializer,
        responses={201: OverrideSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        schedule = get_schedule(id)
        data = dict(validated(OverrideWriteSerializer, request))
        data["user"] = resolve_user(data["user"], field="user")
        override = services.override_create(actor=request.user, schedule=schedule, **data)
        return Response(OverrideSerializer(override).data, status=201)


class OverrideDetailView(ApiView):
    serializer_class = OverrideSerializer

    def get_override(self, id: str, oid: str):
        override = selectors.override_get(schedule=get_schedule(id), pk=oid)
        if override is None:
            raise NotFound("No such override in this schedule.")
        return override

    @extend_schema(
        operation_id="schedules_overrides_retrieve",
        summary="An override",
        parameters=[SCHEDULE_ID, OVERRIDE_ID],
        responses={200: OverrideSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str, oid: str):
        return Response(OverrideSerializer(self.get_override(id, oid)).data)

    @extend_schema(
        operation_id="schedules_overrides_partial_update",
        summary="Change an override (the team's leads and admins)",
        parameters=[SCHEDULE_ID, OVERRIDE_ID],
        request=OverrideUpdateSerializer,
        responses={200: OverrideSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, id: str, oid: str):
        override = self.get_override(id, oid)
        data = dict(validated(OverrideUpdateSerializer, request))
        if "user" in data:
            data["user"] = resolve_user(data["user"], field="user")
        services.override_update(actor=request.user, override=override, **data)
        return Response(OverrideSerializer(self.get_override(id, oid)).data)

    @extend_schema(
        operation_id="schedules_overrides_destroy",
        summary="Delete an override (the team's leads and admins)",
        parameters=[SCHEDULE_ID, OVERRIDE_ID],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, id: str, oid: str):
        services.override_delete(actor=request.user, override=self.get_override(id, oid))
        return Response(status=status.HTTP_204_NO_CONTENT)
