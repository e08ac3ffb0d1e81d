"""Serializers of the incidents API.

Output serializers read only what ``incidents.selectors`` loads (select_related / prefetch), so a list page costs
the same number of queries for 3 incidents as for 30. Input serializers check shape and length; the rules
(who may, which moves are allowed, which slugs exist) are the services'.
"""

from django.urls import NoReverseMatch, reverse
from django.utils.functional import lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import PersonField, PersonSerializer, StrictInputSerializer, absolute_url, person
from incidents import selectors, services, state
from incidents.kinds import all_kinds
from incidents.models import Incident, Role, RoleAssignment, Severity, Source, TimelineEvent
from teams.api.serializers import (
    SLUG_MAX,
    USERNAME_MAX,
    ServiceRefSerializer,
    TeamRefSerializer,
)

TEXT_MAX = services.TEXT_MAX
_DATETIME = serializers.DateTimeField()
_PK_MARK = 987654321987654321  # stands for the id while a URL is reversed once
TITLE_MAX = services.TITLE_MAX
SERVICES_MAX = services.SERVICES_MAX
STATUS_CHOICES = Incident.Status.choices

# --- Catalogue --------------------------------------------------------------------------------------


class SeverityRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Severity
        fields = ["slug", "name", "rank", "colour"]
        read_only_fields = fields


class SeveritySerializer(serializers.ModelSerializer):
    class Meta:
        model = Severity
        fields = ["slug", "name", "rank", "colour", "description", "uses_incident_process"]
        read_only_fields = fields


class RoleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["slug", "name"]
        read_only_fields = fields


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["slug", "name", "description", "order"]
        read_only_fields = fields


# --- Incident -----------------------------------------------------------------------------------------


class RoleHolderSerializer(serializers.Serializer):
    user = PersonSerializer(read_only=True)
    assigned_at = serializers.DateTimeField(read_only=True)


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True, help_text='"INC-" and the id.')
    severity = SeverityRefSerializer(read_only=True)
    status = serializers.ChoiceField(choices=STATUS_CHOICES, read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    declared_by = PersonField(allow_null=True)
    roles = serializers.SerializerMethodField(help_text="The current holder of each held role, by role slug.")
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The statuses the incident may move to now (POST them to the transition endpoint)."
    )
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "title",
            "summary",
            "severity",
            "status",
            "team",
            "services",
            "customer_impact",
            "private",
            "declared_by",
            "declared_at",
            "investigating_at",
            "identified_at",
            "monitoring_at",
            "resolved_at",
            "closed_at",
            "declined_at",
            "updated_at",
            "version",
            "roles",
            "allowed_transitions",
            "url",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=RoleHolderSerializer()))
    def get_roles(self, incident: Incident) -> dict:
        # Built by hand in RoleHolderSerializer's shape: one serializer per role per row is a measurable share of
        # a 200-row page (bench/README.md).
        to_time = _DATETIME.to_representation
        return {
            slug: {"user": person(assignment.user), "assigned_at": to_time(assignment.assigned_at)}
            for slug, assignment in selectors.current_roles(incident).items()
        }

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=STATUS_CHOICES)))
    def get_allowed_transitions(self, incident: Incident) -> list[str]:
        return [s.value for s in state.allowed_targets(incident.status)]

    @extend_schema_field(serializers.URLField())
    def get_url(self, incident: Incident) -> str:
        return self._url_template("api-incident-detail").format(pk=incident.pk)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_web_url(self, incident: Incident) -> str | None:
        template = self._url_template("incidents:detail")
        return template.format(pk=incident.pk) if template else None

    def _url_template(self, name: str) -> str | None:
        """Reverse once per response, not twice per row: '<absolute url with {pk}>' (None if not mounted)."""
        root = self.root if self.root is not None else self
        cache = root.__dict__.setdefault("_url_templates", {})
        if name not in cache:
            try:
                path = reverse(name, args=[_PK_MARK])
            except NoReverseMatch:  # the web UI is not mounted
                cache[name] = None
            else:
                url = absolute_url(self.context.get("request"), path)
                cache[name] = url.replace("{", "{{").replace("}", "}}").replace(str(_PK_MARK), "{pk}")
        return cache[name]


class IncidentDeclareSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=TITLE_MAX, help_text="What is wrong, in a few words.")
    summary = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True, default="")
    severity = serializers.SlugField(
        max_length=SLUG_MAX, help_text="A severity slug (see /api/v1/severities/)."
    )
    team = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_null=True, default=None)
    services = serializers.ListField(
        child=serializers.SlugField(max_length=SLUG_MAX),
        required=False,
        default=list,
        max_length=SERVICES_MAX,
    )
    customer_impact = serializers.BooleanField(required=False, default=False)
    private = serializers.BooleanField(
        required=False, default=False, help_text="A security incident, visible only to its participants."
    )
    lead = serializers.CharField(
        max_length=USERNAME_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Username of the incident lead, if one is known already.",
    )


class IncidentUpdateSerializer(StrictInputSerializer):
    refused_fields = {
        "status": "The status cannot be changed here: POST {'to': <status>} to the incident's /transition/ endpoint.",
        "severity": "The severity cannot be changed here: POST {'severity': <slug>} to the incident's /severity/ "
        "endpoint.",
        "roles": "Roles cannot be changed here: use the incident's /roles/ endpoint.",
    }

    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    summary = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    team = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_null=True)
    services = serializers.ListField(
        child=serializers.SlugField(max_length=SLUG_MAX), required=False, max_length=SERVICES_MAX
    )
    customer_impact = serializers.BooleanField(required=False)
    private = serializers.BooleanField(required=False)


# --- Actions ------------------------------------------------------------------------------------------


class TransitionSerializer(StrictInputSerializer):
    to = serializers.ChoiceField(choices=STATUS_CHOICES, help_text="The status to move to.")
    reason = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True, default="")


class SeverityChangeSerializer(StrictInputSerializer):
    severity = serializers.SlugField(max_length=SLUG_MAX, help_text="A severity slug.")
    reason = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True, default="")


class RoleAssignSerializer(StrictInputSerializer):
    role = serializers.SlugField(max_length=SLUG_MAX, help_text="A role slug (see /api/v1/roles/).")
    user = serializers.CharField(max_length=USERNAME_MAX, help_text="Username (or email) of the new holder.")


class TextSerializer(StrictInputSerializer):
    text = serializers.CharField(max_length=TEXT_MAX)


class RoleAssignmentSerializer(serializers.ModelSerializer):
    role = RoleRefSerializer(read_only=True)
    user = PersonField()
    assigned_by = PersonField(allow_null=True)
    relieved_by = PersonField(allow_null=True)
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "role",
            "user",
            "assigned_at",
            "assigned_by",
            "relieved_at",
            "relieved_by",
            "is_current",
        ]
        read_only_fields = fields


def _kinds_help() -> str:
    values = ", ".join(f"`{k.value}`" for k in all_kinds())
    return (
        "The event kind, a string. Apps register kinds, so clients must accept values not listed here. "
        f"Registered now: {values}."
    )


_registered_kinds_help = lazy(_kinds_help, str)


class TimelineEventSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=_registered_kinds_help())
    kind_label = serializers.CharField(read_only=True, help_text="What the kind is called.")
    via = serializers.CharField(
        read_only=True, help_text="The integration that acted when no person did (then `actor` is null)."
    )
    actor = PersonField(allow_null=True)
    source = serializers.ChoiceField(choices=Source.choices, read_only=True)
    data = serializers.DictField(
        read_only=True,
        help_text="What the event needs: old and new values for changes, the role for hand-offs.",
    )

    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "kind_label", "actor", "via", "source", "occurred_at", "text", "data"]
        read_only_fields = fields

    def to_representation(self, event: TimelineEvent) -> dict:
        body = super().to_representation(event)
        data = body.get("data")
        if isinstance(data, dict) and "severity_id" in data:
            # Updates store the severity's id; the API names related objects by slug, as everywhere else.
            data = dict(data)
            data["severity"] = self._severity_slugs().get(data.pop("severity_id"))
            body["data"] = data
        return body

    def _severity_slugs(self) -> dict[int, str]:
        """{severity id: slug}, read once per response (a handful of rows) and only when an event needs it."""
        root = self.root if self.root is not None else self
        cache = root.__dict__.get("_severity_slugs")
        if cache is None:
            cache = root.__dict__["_severity_slugs"] = dict(Severity.objects.values_list("pk", "slug"))
        return cache
