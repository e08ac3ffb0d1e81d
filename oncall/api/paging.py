"""/api/v1/ escalation policies and pages. Views call ``oncall.paging`` and nothing else for writes.

Ids are matched as strings so that a non-integer id answers the API's JSON 404.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from core.api import DefaultCursorPagination
from core.api_base import ApiView, StrictInputSerializer, absolute_url, error_responses, validated
from core.errors import NotFound, ValidationError
from incidents import selectors as incident_selectors
from incidents.models import Source
from oncall import paging
from oncall.models import EscalationPolicy, EscalationStep, Page
from teams.api.serializers import SLUG_MAX, USERNAME_MAX, TeamRefSerializer
from teams.api.views import SLUG_RE, get_user
from teams.models import Team

POLICY_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The policy's id.")
INCIDENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The incident's id."
)
PAGE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The page's id.")


def _int_id(value: str, what: str) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"No such {what}.") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"No such {what}.")
    return pk


# --- Serializers ---------------------------------------------------------------------------------------


class EscalationStepSerializer(serializers.ModelSerializer):
    target = serializers.ChoiceField(choices=EscalationStep.Target.choices, read_only=True)
    schedule = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = EscalationStep
        fields = ["position", "target", "schedule", "user", "wait_minutes"]
        read_only_fields = fields


class EscalationPolicySerializer(serializers.ModelSerializer):
    team = TeamRefSerializer(read_only=True)
    auto_page_severity = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    steps = EscalationStepSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = EscalationPolicy
        fields = [
            "id",
            "team",
            "name",
            "repeat",
            "is_default",
            "auto_page_severity",
            "steps",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, policy: EscalationPolicy) -> str:
        return absolute_url(
            self.context.get("request"), reverse("api-escalation-policy-detail", args=[policy.pk])
        )


class StepInputSerializer(StrictInputSerializer):
    target = serializers.ChoiceField(choices=EscalationStep.Target.choices)
    schedule = serializers.SlugField(
        max_length=100,
        required=False,
        allow_null=True,
        default=None,
        help_text="For target schedule: its slug.",
    )
    user = serializers.CharField(
        max_length=USERNAME_MAX, required=False, allow_null=True, default=None, help_text="For target user."
    )
    wait_minutes = serializers.IntegerField(
        min_value=paging.WAIT_MIN, max_value=paging.WAIT_MAX, help_text="Minutes before the next step."
    )


class PolicyCreateSerializer(StrictInputSerializer):
    team = serializers.SlugField(max_length=SLUG_MAX)
    name = serializers.CharField(max_length=paging.NAME_MAX)
    repeat = serializers.IntegerField(min_value=0, max_value=paging.REPEAT_MAX, required=False, default=0)
    is_default = serializers.BooleanField(required=False, default=False)
    auto_page_severity = serializers.SlugField(
        max_length=SLUG_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Page the team automatically when an incident at least this severe is declared for it.",
    )
    steps = StepInputSerializer(many=True, max_length=paging.STEPS_MAX, min_length=1)


class PolicyUpdateSerializer(StrictInputSerializer):
    refused_fields = {"team": "A policy cannot move to another team: create one there."}
    refused_code = "read_only"

    name = serializers.CharField(max_length=paging.NAME_MAX, required=False)
    repeat = serializers.IntegerField(min_value=0, max_value=paging.REPEAT_MAX, required=False)
    is_default = serializers.BooleanField(required=False)
    auto_page_severity = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_null=True)
    steps = StepInputSerializer(many=True, max_length=paging.STEPS_MAX, min_length=1, required=False)


class PageStepSerializer(serializers.Serializer):
    round = serializers.IntegerField(read_only=True)
    step = serializers.IntegerField(read_only=True)
    notified = serializers.ListField(child=serializers.IntegerField(), read_only=True, help_text="User ids.")
    notified_at = serializers.DateTimeField(read_only=True)


class PageSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    policy = serializers.IntegerField(source="policy_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=Page.Status.choices, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    steps = PageStepSerializer(many=True, read_only=True)

    class Meta:
        model = Page
        fields = [
            "id",
            "incident",
            "team",
            "user",
            "policy",
            "reason",
            "status",
            "round",
            "step",
            "next_escalation_at",
            "created_by",
            "created_at",
            "acknowledged_by",
            "acknowledged_at",
            "finished_at",
            "steps",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(StrictInputSerializer):
    note = serializers.CharField(
        max_length=paging.REASON_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional, shown on the timeline (e.g. 'on it, looking at the database').",
    )


class PageCreateSerializer(StrictInputSerializer):
    team = serializers.SlugField(
        max_length=SLUG_MAX, required=False, help_text="Page this team (its policy)."
    )
    user = serializers.CharField(max_length=USERNAME_MAX, required=False, help_text="Or page this person.")
    reason = serializers.CharField(max_length=paging.REASON_MAX, required=False, allow_blank=True, default="")

    def validate(self, data):
        if ("team" in data) == ("user" in data):
            raise serializers.ValidationError({"team": ["Give exactly one of team or user."]})
        return data


# --- Views ----------------------------------------------------------------------------------------------


class IdCursorPagination(DefaultCursorPagination):
    ordering = "id"


def _policy_queryset():
    return EscalationPolicy.objects.select_related("team", "auto_page_severity").prefetch_related(
        "steps__schedule", "steps__user"
    )


def _steps(raw: list[dict]) -> list[dict]:
    return [
        {
            "target": s["target"],
            "schedule": s.get("schedule"),
            "user": s.get("user"),
            "wait_minutes": s["wait_minutes"],
        }
        for s in raw
    ]


class EscalationPolicyListView(ApiView):
    serializer_class = EscalationPolicySerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        operation_id="escalation_policies_list",
        summary="List escalation policies",
        parameters=[
            OpenApiParameter("team", OpenApiTypes.STR, OpenApiParameter.QUERY, description="A team slug.")
        ],
        responses={200: EscalationPolicySerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        queryset = _policy_queryset()
        team = request.query_params.get("team")
        if team is not None:
            queryset = queryset.filter(team__slug=team if SLUG_RE.fullmatch(team) else "")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            EscalationPolicySerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        operation_id="escalation_policies_create",
        summary="Create an escalation policy",
        description="Ordered steps: notify the on-call of a schedule, a person or the whole team, then wait. "
        "For the team's leads and admins. Making it the default takes that from the team's previous default.",
        request=PolicyCreateSerializer,
        responses={201: EscalationPolicySerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        data = validated(PolicyCreateSerializer, request)
        team = Team.objects.filter(slug=data["team"]).first()
        if team is None:
            raise ValidationError(f"Unknown team '{data['team']}'.", field="team")
        policy = paging.escalation_policy_create(
            team=team,
            name=data["name"],
            repeat=data["repeat"],
            is_default=data["is_default"],
            auto_page_severity=data["auto_page_severity"],
            steps=_steps(data["steps"]),
            actor=request.user,
        )
        policy = _policy_queryset().get(pk=policy.pk)
        return Response(
            EscalationPolicySerializer(policy, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class EscalationPolicyDetailView(ApiView):
    serializer_class = EscalationPolicySerializer

    def get_policy(self) -> EscalationPolicy:
        policy = _policy_queryset().filter(pk=_int_id(self.kwargs["id"], "escalation policy")).first()
        if policy is None:
            raise NotFound("No such escalation policy.")
        return policy

    @extend_schema(
        operation_id="escalation_policies_retrieve",
        summary="An escalation policy",
        parameters=[POLICY_ID],
        responses={200: EscalationPolicySerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        return Response(EscalationPolicySerializer(self.get_policy(), context={"request": request}).data)

    @extend_schema(
        operation_id="escalation_policies_partial_update",
        summary="Change an escalation policy",
        description="`steps`, when given, replaces every step. Running pages follow the new steps from their next "
        "step on.",
        parameters=[POLICY_ID],
        request=PolicyUpdateSerializer,
        responses={200: EscalationPolicySerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, id: str):
        policy = self.get_policy()
        data = validated(PolicyUpdateSerializer, request)
        if "steps" in data:
            data["steps"] = _steps(data["steps"])
        paging.escalation_policy_update(policy=policy, actor=request.user, **data)
        return Response(EscalationPolicySerializer(self.get_policy(), context={"request": request}).data)

    @extend_schema(
        operation_id="escalation_policies_destroy",
        summary="Delete an escalation policy",
        description="Answers 409 while pages are running on it.",
        parameters=[POLICY_ID],
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request, id: str):
        paging.escalation_policy_delete(policy=self.get_policy(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IncidentPagesView(ApiView):
    serializer_class = PageSerializer

    @extend_schema(
        operation_id="incidents_pages_list",
        summary="The pages of an incident",
        parameters=[INCIDENT_ID],
        responses={200: PageSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        incident = incident_selectors.incident_get(user=request.user, pk=id)
        pages = paging.page_list_for_incident(incident=incident)
        return Response(PageSerializer(pages, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="incidents_pages_create",
        summary="Page a team or a person",
        description='`{"team": <slug>}` runs the team\'s default escalation policy (or pages its on-call); '
        '`{"user": <username>}` pages one person. Answers 409 when that team or person is already being paged '
        "for the incident, or when the incident is no longer open.",
        parameters=[INCIDENT_ID],
        request=PageCreateSerializer,
        responses={201: PageSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        incident = incident_selectors.incident_get(user=request.user, pk=id)
        data = validated(PageCreateSerializer, request)
        team = user = None
        if "team" in data:
            team = Team.objects.filter(slug=data["team"]).first()
            if team is None:
                raise ValidationError(f"Unknown team '{data['team']}'.", field="team")
        else:
            user = get_user(data["user"], field="user")
        page = paging.page_create(
            incident=incident,
            team=team,
            user=user,
            actor=request.user,
            source=Source.API,
            reason=data["reason"],
        )
        page = paging.page_get(user=request.user, pk=page.pk)
        return Response(
            PageSerializer(page, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class PageDetailView(ApiView):
    serializer_class = PageSerializer

    @extend_schema(
        operation_id="pages_retrieve",
        summary="A page",
        parameters=[PAGE_ID],
        responses={200: PageSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        page = paging.page_get(user=request.user, pk=_int_id(id, "page"))
        return Response(PageSerializer(page, context={"request": request}).data)


class PageAcknowledgeView(ApiView):
    serializer_class = PageSerializer

    @extend_schema(
        operation_id="pages_acknowledge",
        summary="Acknowledge a page",
        description="Stops the escalation. For the people paged and anyone who may act on the incident. Answers "
        "409 when the page is already acknowledged, exhausted or cancelled.",
        parameters=[PAGE_ID],
        request=AcknowledgeSerializer,
        responses={200: PageSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        page = paging.page_get(user=request.user, pk=_int_id(id, "page"))
        data = validated(AcknowledgeSerializer, request, data=request.data or {})
        paging.page_acknowledge(page=page, actor=request.user, source=Source.API, note=data["note"])
        page = paging.page_get(user=request.user, pk=page.pk)
        return Response(PageSerializer(page, context={"request": request}).data)
