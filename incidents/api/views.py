"""Incidents API. Every view calls incidents.services for writes and incidents.selectors for reads.

Every change made through the API is recorded on the timeline with ``source=api``. A private incident a user may not
see answers 404 on every endpoint, exactly like an id that does not exist.

Versions: the detail answers ``ETag: "<version>"`` (``Incident.version``, bumped by every change of its state), and
so does every action. Every action and ``PATCH`` accepts ``If-Match`` with that tag: the service refuses (412
``stale``, saying what changed and by whom) when what the action acts on changed since that version
(``incidents.versions``). Without the header nothing is checked; ``*`` matches any version; a malformed one is a
400. A note is never stale (it changes nothing an action acts on), so the notes endpoint only checks the header's
form.
"""

import hashlib
import json

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import DefaultCursorPagination
from core.api.preconditions import etag, if_match_version
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import StaleState, ValidationError
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
from incidents.models import Incident, RoleAssignment, Source, TimelineEvent
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


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The `ETag` of the incident as you last saw it (`"7"`; `*` for any version). The action is '
    "refused with 412 `stale`, and nothing is done, when what it acts on changed since: the status for a "
    "transition, that role for a role change, the severity, the fields being edited, another update. Without it "
    "nothing is checked. A malformed value is a 400.",
)
IF_MATCH_NOTE = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Accepted like on every action (a malformed value is a 400), but a note is never stale: it "
    "changes nothing an action acts on.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The incident\'s version after the request, as an entity tag (`"7"`): send it back in `If-Match`.',
)


def expected_version(request, incident: Incident) -> int | None:
    """The version ``If-Match`` names (None: check nothing), for a service's ``expected_version``.

    A version the incident has never had is a failed precondition too (412), not a bad request: versions
    only grow, so one past the current can only be a tag of another incident or a made-up one. The wings'
    incident actions (paging) read the header through this too.
    """
    expected = if_match_version(request)
    if expected is not None and expected > incident.version:
        raise StaleState(
            f"{incident.reference} has never had version {expected} (it is at {incident.version}): "
            "reload it and retry.",
            version=incident.version,
        )
    return expected


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


def version_after(result) -> int:
    """The incident's version an action left, read from what its service returned."""
    if isinstance(result, Incident):
        return result.version
    if isinstance(result, TimelineEvent):
        return result.incident_version or result.incident.version
    if isinstance(result, RoleAssignment):
        return result.incident.version
    raise TypeError(f"No incident version on {type(result).__name__}")


class IncidentMixin:
    def get_incident(self) -> Incident:
        """The incident in the URL, or a 404 (also for a non-integer id and a private incident)."""
        return selectors.incident_get(user=self.request.user, pk=self.kwargs["id"])

    def expected_version(self, incident: Incident) -> int | None:
        return expected_version(self.request, incident)

    def incident_response(self, incident: Incident, status_code: int = status.HTTP_200_OK) -> Response:
        response = Response(
            IncidentSerializer(incident, context={"request": self.request}).data, status=status_code
        )
        response["ETag"] = etag(incident.version)
        return response

    def act(
        self,
        service,
        body_serializer,
        *,
        output=IncidentSerializer,
        status_code=status.HTTP_200_OK,
        checks_version: bool = True,
    ):
        """The one shape of an action: the incident in the URL (or 404), ``If-Match`` read (or 400), the body
        validated (or 400), one service called as the user with ``source=api`` and the version to check, and what
        it returns serialized with ``output``, with the incident's new ``ETag``."""
        incident = self.get_incident()
        expected = self.expected_version(incident)
        data = validated(body_serializer, self.request)
        if checks_version:
            data["expected_version"] = expected
        result = service(incident=incident, actor=self.request.user, source=Source.API, **data)
        response = Response(output(result, context={"request": self.request}).data, status=status_code)
        response["ETag"] = etag(version_after(result))
        return response


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
        parameters=[IDEMPOTENCY_KEY, ETAG],
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
            return self.incident_response(incident, status.HTTP_201_CREATED)
        incident, created = services.incident_declare_once(
            idempotency_key=key,
            request_hash=request_fingerprint(request.data),
            scope=f"user:{request.user.pk}",
            source=Source.API,
            actor=request.user,
            **data,
        )
        response = self.incident_response(incident, status.HTTP_201_CREATED)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class IncidentDetailView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_retrieve",
        summary="An incident",
        description='With `ETag: "<version>"`: send it back in `If-Match` on an action so that it is refused '
        "(412) rather than applied to a state you have not seen.",
        parameters=[INCIDENT_ID, ETAG],
        responses={200: IncidentSerializer, **error_responses(401, 404)},
    )
    def get(self, request, id: str):
        return self.incident_response(self.get_incident())

    @extend_schema(
        operation_id="incidents_partial_update",
        summary="Change an incident's details",
        description="Title, summary, team, services, customer impact and privacy. The status, the severity and "
        "the roles have their own action endpoints (`/transition/`, `/severity/`, `/roles/`): a body that "
        "includes them answers 400 with code `use_action_endpoint`. With `If-Match`, a change since that version "
        "of a field this request changes answers 412.",
        parameters=[INCIDENT_ID, IF_MATCH, ETAG],
        request=IncidentUpdateSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    )
    def patch(self, request, id: str):
        return self.act(services.incident_update, IncidentUpdateSerializer)


class IncidentTransitionView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_transition",
        summary="Change an incident's status",
        description="Moves along the lifecycle (see `allowed_transitions` on the incident). A move the lifecycle "
        "does not allow answers 409 with code `invalid_transition`. With `If-Match`, a status change since that "
        "version answers 412.",
        parameters=[INCIDENT_ID, IF_MATCH, ETAG],
        request=TransitionSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    )
    def post(self, request, id: str):
        return self.act(services.incident_transition, TransitionSerializer)


class IncidentSeverityView(IncidentMixin, ApiView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incidents_change_severity",
        summary="Change an incident's severity",
        description="Answers 409 with code `unchanged` when the incident already has that severity. With "
        "`If-Match`, a severity change since that version answers 412.",
        parameters=[INCIDENT_ID, IF_MATCH, ETAG],
        request=SeverityChangeSerializer,
        responses={200: IncidentSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
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
        "already holds the role, or when the incident is closed or declined. With `If-Match`, a hand-off of that "
        "role since that version answers 412 (someone else took it meanwhile).",
        parameters=[INCIDENT_ID, IF_MATCH, ETAG],
        request=RoleAssignSerializer,
        responses={201: RoleAssignmentSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    )
    def post(self, request, id: str):
        incident = self.get_incident()
        expected = self.expected_version(incident)
        data = validated(RoleAssignSerializer, request)
        user = get_user(data["user"], field="user")
        assignment = services.incident_assign_role(
            incident=incident,
            role=data["role"],
            user=user,
            actor=request.user,
            source=Source.API,
            expected_version=expected,
        )
        response = Response(
            RoleAssignmentSerializer(assignment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
        response["ETag"] = etag(version_after(assignment))
        return response


class IncidentRoleDetailView(IncidentMixin, ApiView):
    serializer_class = RoleAssignmentSerializer

    @extend_schema(
        operation_id="incidents_roles_relieve",
        summary="Relieve the current holder of a role",
        description="Answers the ended assignment; 409 with code `unchanged` when nobody holds the role. With "
        "`If-Match`, a hand-off of that role since that version answers 412 (the holder you saw is not the one "
        "who would be relieved).",
        parameters=[INCIDENT_ID, ROLE_SLUG, IF_MATCH, ETAG],
        request=None,
        responses={200: RoleAssignmentSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    )
    def delete(self, request, id: str, role_slug: str):
        incident = self.get_incident()
        if not SLUG_RE.fullmatch(role_slug):
            raise ValidationError(f"Unknown role '{role_slug}'.", field="role")
        expected = self.expected_version(incident)
        # One transaction around the service, so the version read for the ETag is the one this change made (the
        # row lock is still held); the ended assignment does not carry the incident the service locked.
        with transaction.atomic():
            assignment = services.incident_relieve_role(
                incident=incident,
                role=role_slug,
                actor=request.user,
                source=Source.API,
                expected_version=expected,
            )
            version = version_after(assignment)
        response = Response(RoleAssignmentSerializer(assignment, context={"request": request}).data)
        response["ETag"] = etag(version)
        return response


class IncidentNotesView(IncidentMixin, ApiView):
    serializer_class = TimelineEventSerializer

    @extend_schema(
        operation_id="incidents_notes_add",
        summary="Add a note to the timeline",
        description="Anyone who can see the incident may add a note. A note is never stale: `If-Match` is "
        "accepted but not checked against the version.",
        parameters=[INCIDENT_ID, IF_MATCH_NOTE, ETAG],
        request=TextSerializer,
        responses={201: TimelineEventSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, id: str):
        return self.act(
            services.incident_add_note,
            TextSerializer,
            output=TimelineEventSerializer,
            status_code=status.HTTP_201_CREATED,
            checks_version=False,
        )


class IncidentUpdatesView(IncidentMixin, ApiView):
    serializer_class = TimelineEventSerializer

    @extend_schema(
        operation_id="incidents_updates_post",
        summary="Post a status update for stakeholders",
        description="With `If-Match`, another update or a status change since that version answers 412 (what you "
        "are about to tell stakeholders may no longer be true).",
        parameters=[INCIDENT_ID, IF_MATCH, ETAG],
        request=TextSerializer,
        responses={201: TimelineEventSerializer, **error_responses(400, 401, 403, 404, 412)},
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
