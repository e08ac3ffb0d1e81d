"""Serializers of the teams API. The bricks every API shares (error body, strict input) are in ``core.api.serializers``."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import PersonField, StrictInputSerializer, absolute_url
from teams import services
from teams.models import Membership, Service, Team

USERNAME_MAX = 150
SLUG_MAX = 50
TEXT_MAX = services.DESCRIPTION_MAX

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
        return absolute_url(self.context.get("request"), reverse("api-team-detail", args=[team.slug]))


class MembershipSerializer(serializers.ModelSerializer):
    user = PersonField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "joined_at"]
        read_only_fields = fields


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
