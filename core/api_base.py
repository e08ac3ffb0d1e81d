"""Bricks every Muster API shares: the error body as the schema shows it, strict input, the base view.

They describe the output of ``core.api.exception_handler``.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.generics import GenericAPIView

from core.parsers import JSONParser

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
    422: "Well-formed, but it contradicts an earlier request (e.g. an Idempotency-Key reused for another body).",
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


def validated(serializer_class, request, *, data=None) -> dict:
    """Validate the request body (or ``data``) with ``serializer_class``; a 400 with per-field errors otherwise."""
    serializer = serializer_class(data=request.data if data is None else data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiView(GenericAPIView):
    # JSON in, JSON out; no implicit filtering or pagination. (A comment: drf-spectacular would show a docstring
    # as the description of every operation.)

    parser_classes = [JSONParser]
    filter_backends = []
    pagination_class = None


def document_malformed_requests(result, generator, request, public):
    """drf-spectacular hook: every operation may answer 400 for a malformed request (a NUL byte in the URL,
    unparseable JSON), before any view runs; say so where the operation does not already."""
    response = {
        "description": "Malformed request, e.g. a NUL byte in the URL.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("400", response)
    return result


def absolute_url(request, path: str) -> str:
    """``path`` as an absolute URL for the request's host (the path alone outside a request)."""
    return request.build_absolute_uri(path) if request is not None else path
