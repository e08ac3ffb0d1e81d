"""Serializers of the teams API, and the bricks every Muster API serializer shares.

The shared bricks (the error body, strict input) live here because ``teams`` is the lowest app with an API;
``incidents.api`` imports them. They describe the output of ``core.api.exception_handler``.
"""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from teams.models import Membership, Service, Team

USERNAME_MAX = 150
SLUG_MAX = 50
TEXT_MAX = 20_000

# --- Errors -----------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error: a message, a stable code, and per-field messages for invalid input."""

    detail = serializers.CharField(help_text="A human-readable message.")
    code = serializers.CharField(
        help_text="A stable machine-readable code: invalid, required, unknown_field, use_action_endpoint, "
        "read_only, not_authenticated, authentication_failed, permission_denied, not_found, invalid_transition, conflict, "
        "duplicate, unchanged, parse_error..."
    )
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Messages keyed by the field they are about (lists of strings; nested for list items).",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` holds the messages keyed by field.",
    401: "Missing or invalid credentials.",
    403: "Signed in, but not allowed to do that.",
    404: "No such object, or one you may not see.",
    409: "The request conflicts with the current state (e.g. a status change the lifecycle does not allow).",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all with the shared error body."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in status_codes
    }


class StrictInputSerializer(serializers.Serializer):
    # An input serializer that refuses keys it does not know, so a typo is a 400 and not silently ignored.
    # ``refused_fields`` maps keys that must not be sent here to the message that says what to do instead.
    # (Comments, not a docstring: drf-spectacular would put a docstring in every subclass's schema.)

    refused_fields: dict[str, str] = {}
    refused_code = "use_action_endpoint"

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, dict):
            for key in data:
                if key in self.refused_fields:
                    errors[key] = [ErrorDetail(self.refused_fields[key], code=self.refused_code)]
                elif key not in self.fields:
                    errors[key] = [ErrorDetail("Unknown field.", code="unknown_field")]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


# --- References -------------------------------------------------------------------------------------


class TeamRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name"]
        read_only_fields = fields


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["slug", "name"]
        read_only_fields = fields


# --- Teams ------------------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "member_count", "created_at", "updated_at", "url"]
        read_only_fields = fields

    def get_member_count(self, team: Team) -> int:
        annotated = getattr(team, "member_count", None)
        if annotated is not None:
            return annotated
        return len(team.memberships.all())

    @extend_schema_field(serializers.URLField())
    def get_url(self, team: Team) -> str:
        return _absolute(self.context.get("request"), reverse("api-team-detail", args=[team.slug]))


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    name = serializers.SerializerMethodField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "name", "role", "joined_at"]
        read_only_fields = fields

    def get_name(self, membership: Membership) -> str:
        return membership.user.get_full_name() or membership.user.get_username()


class TeamDetailSerializer(TeamSerializer):
    members = MembershipSerializer(source="memberships", many=True, read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)

    class Meta(TeamSerializer.Meta):
        fields = [*TeamSerializer.Meta.fields, "members", "services"]
        read_only_fields = fields


class TeamCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_blank=True)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class TeamUpdateSerializer(StrictInputSerializer):
    refused_fields = {"slug": "A team's slug cannot be changed: links and integrations use it."}
    refused_code = "read_only"

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class MembershipSetSerializer(StrictInputSerializer):
    user = serializers.CharField(max_length=USERNAME_MAX, help_text="Username (or email) of the user.")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


# --- Services ---------------------------------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    team = TeamRefSerializer(read_only=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "team", "created_at", "updated_at"]
        read_only_fields = fields


class ServiceCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_blank=True)
    team = serializers.SlugField(max_length=SLUG_MAX, help_text="Slug of the team that owns the service.")
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path
