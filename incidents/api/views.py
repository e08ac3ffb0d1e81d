"""Incidents API. Every view calls incidents.services for writes and incidents.selectors for reads.

Every change made through the API is recorded on the timeline with ``source=api``. A private incident a user may not
see answers 404 on every endpoint, exactly like an id that does not exist.
"""

import hashlib
import json

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import DefaultCursorPagination
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import ValidationError
from incidents import selectors, services
from incidents.api.filters import IncidentFilter
from incidents.api.serializers import (
    IncidentDeclareSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    RoleAssignmentSerializer,
    RoleAssignSerializer,
    RoleSerializer,
    SeverityChangeSerializer,
    SeveritySerializer,
    TextSerializer,
    TimelineEventSerializer,
    TransitionSerializer,
)
from incidents.models import Incident, Source
from teams.api.views import SLUG_RE, get_user

INCIDENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The incident's id."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 printable characters, unique per request you mean (a UUID): a retry with the same key "
    "and body never declares a second incident.",
)


def request_fingerprint(data) -> str:
    """The hash of a request body, the same for the same JSON whatever the order of its keys."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


ROLE_SLUG = OpenApiParameter("role_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="A role slug.")

LIST_PARAMETERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description=f"Declared {word}: an ISO 8601 date{extra} or datetime (UTC when it has no offset).",
    )
    for name, word, extra in (
        ("declared_after", "on or after", ""),
        ("declared_before", "on or before", " (the whole day is included)"),
    )
] + [
    OpenApiParameter(
        "private",
        OpenApiTypes.BOOL,
        OpenApiParameter.QUERY,
        description="Only private (security) incidents, or only the others.",
    ),
    OpenApiParameter(
        "customer_impact", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Filter on customer impact."
    ),
]


class TimelineCursorPagination(DefaultCursorPagination):
    """Oldest first, as the timeline reads."""

    ordering = ("occurred_at", "id")


class IncidentMixin:
    def get_incident(self) -> Incident:
        """The incident in the URL, or a 404 (also for a non-integer id and a private incident)."""
        return selectors.incident_get(user=self.request.user, pk=self.kwargs["id"])

    def incident_response(self, incident: Incident, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(
            IncidentSerializer(incident, context={"request": self.request}).data, status=status_code
        )

    def act(self, service, body_serializer, *, output=IncidentSerializer, status_code=status.HTTP_200_OK):
        """The one shape of an action: the incident in the URL (or 404), the body validated (or 400), one service
        called as the user with ``source=api``, and what it returns serialized with ``output``."""
        incident = self.get_incident()
        data = validated(body_serializer, self.request)
        result = service(incident=incident, actor=self.request.user, source=Source.API, **data)
        return Response(output(result, context={"request": self.request}).data, status=status_code)


class IncidentListView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer
    pagination_class = DefaultCursorPagination
    # The FilterSet validates the query string (400 on bad values) and hands it to selectors.apply_filters.
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter

    def get_queryset(self):
        return selectors.incident_list(user=self.request.user)

    @extend_schema(
        operation_id="incidents_list",
        summary="List the incidents you may see",
        description="Newest first, cursor-paginated. Private incidents appear only to their participants.",
        parameters=LIST_PARAMETERS,
        responses={200: IncidentSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            IncidentSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        operation_id="incidents_declare",
        summary="Declare an incident",
        description="Send an `Idempotency-Key` header to make a retried request safe: the same key with the same "
        "body answers the incident the first request declared (201, with `Idempotent-Replayed: true`) for "
        "24 hours; 409 `idempotency_in_progress` while the first request is still running; 422 "
        "`idempotency_key_reused` for another body.",
        parameters=[IDEMPOTENCY_KEY],
        request=IncidentDeclareSerializer,
        responses={201: IncidentSerializer, **error_responses(400, 401, 403, 409, 422)},
    )
    def post(self, request):
        data = validated(IncidentDeclareSerializer, request)
        if data["lead"] is not None:
            data["lead"] = get_user(data["lead"], field="lead")
        key = request.headers.get("Idempotency-Key")
        if key is None:
            incident = services.incident_declare(actor=request.user, source=Source.API, **data)
            selectors.incident_fresh_declare_prime(incident, services=data["services"], lead=data["lead"])
            return self.incident_response(incident, status.HTTP_201_CREATED)
        incident, created = services.incident_declare_once(
            idempotency_key=key,
            request_hash=request_fingerprint(request.data),
            scope=f"user:{request.user.pk}",
            source=Source.API,
            actor=request.user,
            **data,
        )
        if created:
            selectors.incident_fresh_declare_prime(incident, services=data["services"], lead=data["lead"])
        response = self.incident_response(incident, status.HTTP_201_CREATED)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class IncidentDetailView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_retrieve",
        summary="An incident",
        parameters=[INCIDENT_ID],
        responses={200: IncidentSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        return self.incident_response(self.get_incident())

    @extend_schema(
        operation_id="incidents_partial_update",
        summary="Change an incident's details",
        description="Title, summary, team, services, customer impact and privacy. The status, the severity and "
        "the roles have their own action endpoints (`/transition/`, `/severity/`, `/roles/`): a body that "
        "includes them answers 400 with code `use_action_endpoint`.",
        parameters=[INCIDENT_ID],
        request=IncidentUpdateSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, id: str):
        return self.act(services.incident_update, IncidentUpdateSerializer)


class IncidentTransitionView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_transition",
        summary="Change an incident's status",
        description="Moves along the lifecycle (see `allowed_transitions` on the incident). A move the lifecycle "
        "does not allow answers 409 with code `invalid_transition`.",
        parameters=[INCIDENT_ID],
        request=TransitionSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        return self.act(services.incident_transition, TransitionSerializer)


class IncidentSeverityView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_change_severity",
        summary="Change an incident's severity",
        description="Answers 409 with code `unchanged` when the incident already has that severity.",
        parameters=[INCIDENT_ID],
        request=SeverityChangeSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        return self.act(services.incident_change_severity, SeverityChangeSerializer)


class IncidentRolesView(IncidentMixin, ApiView):
    serializer_class = RoleAssignmentSerializer

    @extend_schema(
        operation_id="incidents_roles_history",
        summary="Who held which role on the incident, and when",
        parameters=[INCIDENT_ID],
        responses={200: RoleAssignmentSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        incident = self.get_incident()
        history = selectors.role_history(incident=incident)
        return Response(RoleAssignmentSerializer(history, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="incidents_roles_assign",
        summary="Give a role to a user",
        description="The current holder, if any, is relieved: a recorded hand-off. Answers 409 when the user "
        "already holds the role, or when the incident is closed or declined.",
        parameters=[INCIDENT_ID],
        request=RoleAssignSerializer,
        responses={201: RoleAssignmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, id: str):
        incident = self.get_incident()
        data = validated(RoleAssignSerializer, request)
        user = get_user(data["user"], field="user")
        assignment = services.incident_assign_role(
            incident=incident, role=data["role"], user=user, actor=request.user, source=Source.API
        )
        return Response(
            RoleAssignmentSerializer(assignment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class IncidentRoleDetailView(IncidentMixin, ApiView):
    serializer_class = RoleAssignmentSerializer

    @extend_schema(
        operation_id="incidents_roles_relieve",
        summary="Relieve the current holder of a role",
        description="Answers the ended assignment; 409 with code `unchanged` when nobody holds the role.",
        parameters=[INCIDENT_ID, ROLE_SLUG],
        request=None,
        responses={200: RoleAssignmentSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def delete(self, request, id: str, role_slug: str):
        incident = self.get_incident()
        if not SLUG_RE.fullmatch(role_slug):
            raise ValidationError(f"Unknown role '{role_slug}'.", field="role")
        assignment = services.incident_relieve_role(
            incident=incident, role=role_slug, actor=request.user, source=Source.API
        )
        return Response(RoleAssignmentSerializer(assignment, context={"request": request}).data)


class IncidentNotesView(IncidentMixin, ApiView):
    serializer_class = TimelineEventSerializer

    @extend_schema(
        operation_id="incidents_notes_add",
        summary="Add a note to the timeline",
        description="Anyone who can see the incident may add a note.",
        parameters=[INCIDENT_ID],
        request=TextSerializer,
        responses={201: TimelineEventSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        return self.act(
            services.incident_add_note,
            TextSerializer,
            output=TimelineEventSerializer,
            status_code=status.HTTP_201_CREATED,
        )


class IncidentUpdatesView(IncidentMixin, ApiView):
    serializer_class = TimelineEventSerializer

    @extend_schema(
        operation_id="incidents_updates_post",
        summary="Post a status update for stakeholders",
        parameters=[INCIDENT_ID],
        request=TextSerializer,
        responses={201: TimelineEventSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        return self.act(
            services.incident_post_update,
            TextSerializer,
            output=TimelineEventSerializer,
            status_code=status.HTTP_201_CREATED,
        )


class IncidentTimelineView(IncidentMixin, ApiView):
    serializer_class = TimelineEventSerializer
    pagination_class = TimelineCursorPagination

    @extend_schema(
        operation_id="incidents_timeline",
        summary="The incident's timeline, oldest first",
        parameters=[INCIDENT_ID],
        responses={200: TimelineEventSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        incident = self.get_incident()
        page = self.paginate_queryset(selectors.timeline_list(incident=incident))
        return self.get_paginated_response(
            TimelineEventSerializer(page, many=True, context={"request": request}).data
        )


class SeverityListView(ApiView):
    serializer_class = SeveritySerializer

    @extend_schema(
        operation_id="severities_list",
        summary="The severities, most severe first",
        responses={200: SeveritySerializer(many=True), **error_responses(401)},
    )
    def get(self, request):
        return Response(SeveritySerializer(selectors.severity_list(), many=True).data)


class RoleListView(ApiView):
    serializer_class = RoleSerializer

    @extend_schema(
        operation_id="roles_list",
        summary="The incident roles",
        responses={200: RoleSerializer(many=True), **error_responses(401)},
    )
    def get(self, request):
        return Response(RoleSerializer(selectors.role_list(), many=True).data)
