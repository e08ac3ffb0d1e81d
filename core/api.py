"""Shared API bricks that know no domain: the exception handler that gives every error a stable ``code``, and
pagination. (DRF's settings import this module: views and serializers live in ``core.api_base``.)"""

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def _first_code(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


def exception_handler(exc, context):
    """Map domain and framework errors to ``{"detail": ..., "code": ...}``.

    Validation errors keep their per-field messages under ``errors`` so a client can show them next to the field.
    """
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"detail": "Invalid input.", "code": _first_code(exc.detail), "errors": errors}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


class DefaultCursorPagination(pagination.CursorPagination):
    """Cursor pagination: constant cost on page 2,000 as on page 1 (no COUNT, no OFFSET).

    A cursor is client input: one whose position does not fit the ordering field (``p=abc`` for an id, an integer
    past 64 bits) is refused as an invalid cursor (404) instead of reaching the database and failing there.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        ordering = self.ordering if isinstance(self.ordering, list | tuple) else [self.ordering]
        try:
            field = self._model._meta.get_field(ordering[0].lstrip("-"))
        except (AttributeError, FieldDoesNotExist):
            return cursor
        try:
            if isinstance(cursor.position, str) and "\x00" in cursor.position:
                raise ValueError("NUL byte")
            value = field.to_python(cursor.position)
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise ValueError("out of range")
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


def api_not_found(request, *args, **kwargs):
    """Any path under /api/v1/ that names no endpoint: the API's JSON 404, not an HTML page."""
    from django.http import JsonResponse

    return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)
