"""/api/v1/ escalation policies and pages. Views call ``services.services`` for every write and
``paging.selectors`` for reads; ids that cannot name a row answer the API's JSON 404."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import IdCursorPagination
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import ValidationError
from incidents import selectors as incident_selectors
from incidents.api.views import IF_MATCH, expected_version
from incidents.models import Source
from paging import selectors, services
from paging.api.serializers import (
    AcknowledgeSerializer,
    EscalationPolicySerializer,
    PageCreateSerializer,
    PageSerializer,
    PolicyCreateSerializer,
    PolicyUpdateSerializer,
)
from teams.api.views import SLUG_RE, get_user
from teams.models import Team

POLICY_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The policy's id.")
INCIDENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The incident's id."
)
PAGE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The page's id.")


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
            OpenApiParameter(
                "team",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="Only this team's policies (its slug); an unknown one is a 400.",
            )
        ],
        responses={200: EscalationPolicySerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        queryset = selectors.policy_queryset()
        slug = request.query_params.get("team")
        if slug:
            team = Team.objects.filter(slug=slug).first() if SLUG_RE.fullmatch(slug) else None
            if team is None:
                raise ValidationError(f"Unknown team '{slug[:50]}'.", code="unknown_team", field="team")
            queryset = queryset.filter(team=team)
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
        policy = services.escalation_policy_create(
            team=team,
            name=data["name"],
            repeat=data["repeat"],
            is_default=data["is_default"],
            auto_page_severity=data["auto_page_severity"],
            steps=_steps(data["steps"]),
            actor=request.user,
        )
        policy = selectors.policy_queryset().get(pk=policy.pk)
        return Response(
            EscalationPolicySerializer(policy, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class EscalationPolicyDetailView(ApiView):
    serializer_class = EscalationPolicySerializer

    def get_policy(self):
        return selectors.policy_get(pk=self.kwargs["id"])

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
        services.escalation_policy_update(policy=policy, actor=request.user, **data)
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
        services.escalation_policy_delete(policy=self.get_policy(), actor=request.user)
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
        pages = selectors.page_list_for_incident(incident=incident)
        return Response(PageSerializer(pages, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="incidents_pages_create",
        summary="Page a team or a person",
        description='`{"team": <slug>}` runs the team\'s default escalation policy (or pages its on-call); '
        '`{"user": <username>}` pages one person. Answers 409 when that team or person is already being paged '
        "for the incident, or when the incident is no longer open. With `If-Match`, a page of that team or "
        "person since that version answers 412.",
        parameters=[INCIDENT_ID, IF_MATCH],
        request=PageCreateSerializer,
        responses={201: PageSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    )
    def post(self, request, id: str):
        incident = incident_selectors.incident_get(user=request.user, pk=id)
        expected = expected_version(request, incident)
        data = validated(PageCreateSerializer, request)
        team = user = None
        if "team" in data:
            team = Team.objects.filter(slug=data["team"]).first()
            if team is None:
                raise ValidationError(f"Unknown team '{data['team']}'.", field="team")
        else:
            user = get_user(data["user"], field="user")
        page = services.page_create(
            incident=incident,
            team=team,
            user=user,
            actor=request.user,
            source=Source.API,
            reason=data["reason"],
            expected_version=expected,
        )
        page = selectors.page_get(user=request.user, pk=page.pk)
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
        page = selectors.page_get(user=request.user, pk=id)
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
        page = selectors.page_get(user=request.user, pk=id)
        data = validated(AcknowledgeSerializer, request, data=request.data or {})
        services.page_acknowledge(page=page, actor=request.user, source=Source.API, note=data["note"])
        page = selectors.page_get(user=request.user, pk=page.pk)
        return Response(PageSerializer(page, context={"request": request}).data)
