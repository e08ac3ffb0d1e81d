"""Serializers of the notifications API: messages (read-only: the outbox is written by routing, never by a client)
and the delivery health report."""

from rest_framework import serializers

from core.api.serializers import StrictInputSerializer
from notifications.models import CHANNEL_HELP, AttentionWindow, Destination, Message


class MessageSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(read_only=True, help_text=CHANNEL_HELP)
    status = serializers.ChoiceField(
        choices=Message.Status.choices,
        read_only=True,
        help_text="pending and sending: on the way; failed: will be retried at next_attempt_at; dead: given up "
        "(see last_error; POST .../resend/ to try again); sent: delivered.",
    )
    incident = serializers.IntegerField(source="incident_id", read_only=True, allow_null=True)
    destination = serializers.CharField(
        source="destination.name", read_only=True, allow_null=True, default=None
    )
    kind = serializers.CharField(
        read_only=True, help_text="What the transport does: post, dm, email, webhook, or a Slack operation."
    )
    target = serializers.CharField(read_only=True, help_text="Slack channel or user, email address or URL.")

    class Meta:
        model = Message
        fields = [
            "id",
            "uid",
            "channel",
            "kind",
            "target",
            "destination",
            "incident",
            "subject",
            "status",
            "attempts",
            "created_at",
            "next_attempt_at",
            "sent_at",
            "external_id",
            "last_error",
        ]
        read_only_fields = fields


class ResendSerializer(StrictInputSerializer):
    # An empty body ({}): resending takes no options.
    pass


class ChannelHealthSerializer(serializers.Serializer):
    channel = serializers.CharField(max_length=40, help_text=CHANNEL_HELP)
    label = serializers.CharField()
    enabled = serializers.BooleanField(help_text="Switched on by configuration.")
    configuration_error = serializers.CharField(
        help_text="What is wrong with the configuration ('' if nothing)."
    )
    pending = serializers.IntegerField()
    sending = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed attempts that will be retried.")
    dead = serializers.IntegerField()
    sent = serializers.IntegerField()
    oldest_pending_seconds = serializers.FloatField(
        allow_null=True, help_text="Age of the oldest message not delivered yet (pending, sending or failed)."
    )
    last_error = serializers.CharField(help_text="The newest dead message's error ('' if none).")
    last_error_at = serializers.DateTimeField(allow_null=True)
    hint = serializers.CharField(help_text="What to fix for a known error, e.g. a refused Slack token.")

    def to_representation(self, instance):
        age = instance.get("oldest_pending_age")
        return {
            **{name: instance.get(name) for name in self.fields if name != "oldest_pending_seconds"},
            "last_error_at": serializers.DateTimeField().to_representation(instance["last_error_at"])
            if instance.get("last_error_at")
            else None,
            "oldest_pending_seconds": age.total_seconds() if age is not None else None,
        }


class DestinationErrorSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(read_only=True, help_text=CHANNEL_HELP)

    class Meta:
        model = Destination
        fields = ["id", "name", "channel", "active", "last_error", "last_error_at"]
        read_only_fields = fields


class AttentionWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttentionWindow
        fields = ["note", "starts_at", "ends_at"]
        read_only_fields = fields


class DeliveryHealthSerializer(serializers.Serializer):
    channels = ChannelHealthSerializer(many=True)
    destinations = DestinationErrorSerializer(many=True, help_text="Destinations whose last delivery failed.")
    dead = MessageSerializer(many=True, help_text="The newest dead messages you may see.")
    attention_window = AttentionWindowSerializer(allow_null=True, help_text="The active attention window.")
