"""The API's OpenAPI bricks: the error body as the schema shows it, and the responses that use it.

They describe the output of ``core.api.exceptions.exception_handler``.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every error: a message, a stable code, and per-field messages for invalid input."""

    detail = serializers.CharField(help_text="A human-readable message.")
    code = serializers.CharField(
        help_text="A stable machine-readable code: invalid, required, unknown_field, use_action_endpoint, "
        "read_only, not_authenticated, authentication_failed, permission_denied, not_found, invalid_transition, conflict, "
        "duplicate, unchanged, parse_error, stale, invalid_precondition..."
    )
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Messages keyed by the field they are about (lists of strings; nested for list items).",
    )


class StaleChangeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="The timeline event kind, e.g. role_assigned.")
    text = serializers.CharField(help_text="What changed, in words: 'Bob Okafor became incident lead'.")
    actor = serializers.CharField(help_text="Who made the change (a name, an integration, or System).")
    occurred_at = serializers.DateTimeField()
    version = serializers.IntegerField(allow_null=True, help_text="The version the change made.")


class StaleErrorSerializer(ErrorSerializer):
    """The body of a 412: the usual error, with what changed since the version sent in If-Match."""

    changes = StaleChangeSerializer(
        many=True, help_text="The changes since the version you sent that refused the action, oldest first."
    )
    version = serializers.IntegerField(
        required=False, help_text="The current version (also in the ETag header): reload, then retry with it."
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` holds the messages keyed by field.",
    401: "Missing or invalid credentials.",
    403: "Signed in, but not allowed to do that.",
    404: "No such object, or one you may not see.",
    409: "The request conflicts with the current state (e.g. a status change the lifecycle does not allow).",
    412: "Stale: what the action acts on changed since the version sent in `If-Match`; nothing was done. "
    "`detail` says what changed and by whom, `changes` lists it, `version` (and the `ETag` header) is the current "
    "version.",
    422: "Well-formed, but it contradicts an earlier request (e.g. an Idempotency-Key reused for another body).",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all with the shared error body."""
    return {
        status: OpenApiResponse(
            response=StaleErrorSerializer if status == 412 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS[status],
        )
        for status in status_codes
    }


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
