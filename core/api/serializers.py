"""Serializer bricks every API shares: strict input, validating a request body, absolute links, people."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail


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


def validated(serializer_class, request, *, data=None) -> dict:
    """Validate the request body (or ``data``) with ``serializer_class``; a 400 with per-field errors otherwise."""
    serializer = serializer_class(data=request.data if data is None else data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def absolute_url(request, path: str) -> str:
    """``path`` as an absolute URL for the request's host (the path alone outside a request)."""
    return request.build_absolute_uri(path) if request is not None else path


# --- People -----------------------------------------------------------------------------------------


def person(user) -> dict | None:
    """A person as every API answer shows one: ``{"id", "username", "name"}`` (``name`` falls back to the username)."""
    if user is None:
        return None
    username = user.get_username()
    return {"id": user.pk, "username": username, "name": user.get_full_name() or username}


class PersonSerializer(serializers.Serializer):
    # The schema of ``person``: built by hand there, since one serializer per person per row is a measurable share
    # of a page of 200 (bench/README.md).
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="The full name, or the username when none is set.")


@extend_schema_field(PersonSerializer)
class PersonField(serializers.Field):
    """A read-only user attribute (a foreign key) shown as a person object; null when there is nobody."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, user) -> dict | None:
        return person(user)
