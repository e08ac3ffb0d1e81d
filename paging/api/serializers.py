"""Serializers of the paging API: escalation policies and their steps, pages, and the inputs of their writes."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import PersonField, PersonSerializer, StrictInputSerializer, absolute_url, person
from paging import selectors, services
from paging.models import EscalationPolicy, EscalationStep, Page
from teams.api.serializers import SLUG_MAX, USERNAME_MAX, TeamRefSerializer


class EscalationStepSerializer(serializers.ModelSerializer):
    target = serializers.ChoiceField(choices=EscalationStep.Target.choices, read_only=True)
    schedule = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    user = PersonField(allow_null=True)

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
        min_value=services.WAIT_MIN, max_value=services.WAIT_MAX, help_text="Minutes before the next step."
    )


class PolicyCreateSerializer(StrictInputSerializer):
    team = serializers.SlugField(max_length=SLUG_MAX)
    name = serializers.CharField(max_length=services.NAME_MAX)
    repeat = serializers.IntegerField(min_value=0, max_value=services.REPEAT_MAX, required=False, default=0)
    is_default = serializers.BooleanField(required=False, default=False)
    auto_page_severity = serializers.SlugField(
        max_length=SLUG_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Page the team automatically when an incident at least this severe is declared for it.",
    )
    steps = StepInputSerializer(many=True, max_length=services.STEPS_MAX, min_length=1)


class PolicyUpdateSerializer(StrictInputSerializer):
    refused_fields = {"team": "A policy cannot move to another team: create one there."}
    refused_code = "read_only"

    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    repeat = serializers.IntegerField(min_value=0, max_value=services.REPEAT_MAX, required=False)
    is_default = serializers.BooleanField(required=False)
    auto_page_severity = serializers.SlugField(max_length=SLUG_MAX, required=False, allow_null=True)
    steps = StepInputSerializer(many=True, max_length=services.STEPS_MAX, min_length=1, required=False)


class PageStepSerializer(serializers.Serializer):
    round = serializers.IntegerField(read_only=True)
    step = serializers.IntegerField(read_only=True)
    notified = serializers.SerializerMethodField(help_text="The people this step notified.")
    notified_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(PersonSerializer(many=True))
    def get_notified(self, step) -> list[dict]:
        people = self._people()
        return [person(people[pk]) for pk in step.notified if pk in people]

    def _people(self) -> dict:
        """Everyone the steps of every page in this response notified, loaded once (one query per response)."""
        root = self.root if self.root is not None else self
        cache = root.__dict__.get("_notified_people")
        if cache is None:
            instance = root.instance
            pages = (
                instance if isinstance(instance, list | tuple) or hasattr(instance, "model") else [instance]
            )
            cache = root.__dict__["_notified_people"] = selectors.notified_people(
                [p for p in pages if isinstance(p, Page)]
            )
        return cache


class PageSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    user = PersonField(allow_null=True, help_text="The person paged directly (null when a team is paged).")
    policy = serializers.IntegerField(source="policy_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=Page.Status.choices, read_only=True)
    created_by = PersonField(allow_null=True)
    acknowledged_by = PersonField(allow_null=True)
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
        max_length=services.REASON_MAX,
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
    reason = serializers.CharField(
        max_length=services.REASON_MAX, required=False, allow_blank=True, default=""
    )

    def validate(self, data):
        if ("team" in data) == ("user" in data):
            raise serializers.ValidationError({"team": ["Give exactly one of team or user."]})
        return data
