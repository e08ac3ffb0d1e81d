"""Teams API: teams, their members, and the services catalog. Views call teams.services and teams.selectors only."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.api.pagination import DefaultCursorPagination
from core.api.schema import error_responses
from core.api.serializers import validated
from core.api.views import ApiView
from core.errors import NotFound, ValidationError
from teams import selectors, services
from teams.api.serializers import (
    MembershipSerializer,
    MembershipSetSerializer,
    ServiceCreateSerializer,
    ServiceSerializer,
    TeamCreateSerializer,
    TeamDetailSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
)
from teams.models import Team

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,50}")
USERNAME_RE = re.compile(r"[\w.@+-]{1,150}")

TEAM_SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The team's slug.")
USERNAME = OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH, description="A username.")


class NameCursorPagination(DefaultCursorPagination):
    ordering = "name"


def get_team(slug: str, *, detail: bool = False) -> Team:
    """The team with ``slug``, or a 404 (also for strings that cannot be a slug)."""
    team = None
    if SLUG_RE.fullmatch(slug or ""):
        team = (
            selectors.team_detail_queryset().filter(slug=slug).first()
            if detail
            else selectors.team_get(slug=slug)
        )
    if team is None:
        raise NotFound("No such team.")
    return team


def get_user(username: str, *, field: str):
    """An active user by username or email, or a 400 keyed by ``field``."""
    user = selectors.user_get(username=username)
    if user is None:
        raise ValidationError(f"Unknown user '{username}'.", code="unknown_user", field=field)
    return user


class TeamListView(ApiView):
    pagination_class = NameCursorPagination
    serializer_class = TeamSerializer

    def get_queryset(self):
        return selectors.team_list()

    @extend_schema(
        operation_id="teams_list",
        summary="List teams",
        responses={200: TeamSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TeamSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="teams_create",
        summary="Create a team (staff and admins)",
        request=TeamCreateSerializer,
        responses={201: TeamDetailSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(TeamCreateSerializer, request)
        team = services.team_create(actor=request.user, **data)
        team = get_team(team.slug, detail=True)
        return Response(TeamDetailSerializer(team, context={"request": request}).data, status=201)


class TeamDetailView(ApiView):
    serializer_class = TeamDetailSerializer

    @extend_schema(
        operation_id="teams_retrieve",
        summary="A team with its members and services",
        parameters=[TEAM_SLUG],
        responses={200: TeamDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request, slug: str):
        team = get_team(slug, detail=True)
        return Response(TeamDetailSerializer(team, context={"request": request}).data)

    @extend_schema(
        operation_id="teams_partial_update",
        summary="Rename a team or change its description (the team's leads and admins)",
        parameters=[TEAM_SLUG],
        request=TeamUpdateSerializer,
        responses={200: TeamDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, slug: str):
        team = get_team(slug)
        data = validated(TeamUpdateSerializer, request)
        services.team_update(team=team, actor=request.user, **data)
        team = get_team(slug, detail=True)
        return Response(TeamDetailSerializer(team, context={"request": request}).data)


class TeamMembersView(ApiView):
    serializer_class = MembershipSerializer

    @extend_schema(
        operation_id="teams_members_list",
        summary="A team's members",
        parameters=[TEAM_SLUG],
        responses={200: MembershipSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, slug: str):
        team = get_team(slug)
        members = selectors.team_members(team=team)
        return Response(MembershipSerializer(members, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="teams_members_set",
        summary="Add a member or change a member's team role (the team's leads and admins)",
        description="Answers 201 when the user joins the team, 200 when an existing member's role changes.",
        parameters=[TEAM_SLUG],
        request=MembershipSetSerializer,
        responses={
            200: MembershipSerializer,
            201: MembershipSerializer,
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request, slug: str):
        team = get_team(slug)
        data = validated(MembershipSetSerializer, request)
        user = get_user(data["user"], field="user")
        was_member = selectors.user_team_role(user, team) is not None
        membership = services.membership_set(team=team, user=user, role=data["role"], actor=request.user)
        return Response(
            MembershipSerializer(membership, context={"request": request}).data,
            status=status.HTTP_200_OK if was_member else status.HTTP_201_CREATED,
        )


class TeamMemberDetailView(ApiView):
    serializer_class = MembershipSerializer

    @extend_schema(
        operation_id="teams_members_remove",
        summary="Remove a member from a team (the team's leads and admins)",
        parameters=[TEAM_SLUG, USERNAME],
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, slug: str, username: str):
        team = get_team(slug)
        user = selectors.user_get(username=username) if USERNAME_RE.fullmatch(username or "") else None
        if user is None or selectors.user_team_role(user, team) is None:
            raise NotFound(f"'{username}' is not a member of {team.name}.")
        services.membership_remove(team=team, user=user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServiceListQuerySerializer(serializers.Serializer):
    team = serializers.SlugField(max_length=50, required=False, help_text="Only the services of this team.")


class ServiceListView(ApiView):
    pagination_class = NameCursorPagination
    serializer_class = ServiceSerializer

    @extend_schema(
        operation_id="services_list",
        summary="The services catalog",
        parameters=[ServiceListQuerySerializer],
        responses={200: ServiceSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        query = validated(ServiceListQuerySerializer, request, data=request.query_params)
        team = None
        if query.get("team"):
            team = selectors.team_get(slug=query["team"])
            if team is None:
                raise ValidationError("Unknown team.", code="unknown_team", field="team")
        page = self.paginate_queryset(selectors.service_list(team=team))
        return self.get_paginated_response(
            ServiceSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        operation_id="services_create",
        summary="Add a service to the catalog (the owning team's leads and admins)",
        request=ServiceCreateSerializer,
        responses={201: ServiceSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request):
        data = validated(ServiceCreateSerializer, request)
        team = selectors.team_get(slug=data.pop("team"))
        if team is None:
            raise ValidationError("Unknown team.", code="unknown_team", field="team")
        service = services.service_create(team=team, actor=request.user, **data)
        return Response(ServiceSerializer(service, context={"request": request}).data, status=201)
