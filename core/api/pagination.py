"""Cursor pagination for every API list: constant cost on page 2,000 as on page 1 (no COUNT, no OFFSET).

A client that needs the total asks for it: ``?count=true`` adds ``count`` (every row the filters match, on every
page) to the body, at the price of one ``COUNT`` query; without it no ``COUNT`` is ever run.

DRF's settings name :class:`DefaultCursorPagination` (``DEFAULT_PAGINATION_CLASS``), so this module imports nothing
that imports ``rest_framework.generics`` (which reads that setting while it loads).
"""

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, pagination
from rest_framework.response import Response

from core.validation import contains_nul, to_id

COUNT_PARAM = "count"
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})


def _query_error(field: str, message: str):
    return exceptions.ValidationError({field: [exceptions.ErrorDetail(message, code="invalid")]})


class DefaultCursorPagination(pagination.CursorPagination):
    """Newest first (by id), 50 a page, at most 200 with ``page_size``; ``count=true`` adds the total.

    A cursor is client input: one whose position does not fit the ordering field (``p=abc`` for an id, an id past
    64 bits, a NUL byte) is refused as an invalid cursor (404) instead of reaching the database and failing there.
    An integer position is an id (every integer ordering here is by id), so it must be one (1..2**63 - 1).
    A ``page_size`` that is not a whole number from 1 is a 400 (one above 200 is read as 200), like ``count``
    that is not true or false.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = f"Rows per page: 1 to {max_page_size} (default {page_size})."
    count_query_description = "true: add `count`, the number of rows the filters match (one COUNT query); without it no count is made."

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        self._count = queryset.count() if self._wants_count(request) else None
        return super().paginate_queryset(queryset, request, view)

    @staticmethod
    def _wants_count(request) -> bool:
        value = request.query_params.get(COUNT_PARAM)
        if value is None:
            return False
        value = value.strip().lower()
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise _query_error(COUNT_PARAM, "Enter true or false.")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= 1):
            raise _query_error(
                self.page_size_query_param, f"Enter a whole number from 1 to {self.max_page_size}."
            )
        return min(int(raw), self.max_page_size)

    def get_paginated_response(self, data):
        body = {"next": self.get_next_link(), "previous": self.get_previous_link()}
        if self._count is not None:
            body["count"] = self._count
        body["results"] = data
        return Response(body)

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        properties = result["properties"]
        results = properties.pop("results")
        properties["count"] = {
            "type": "integer",
            "description": "Only with `count=true`: the number of rows the filters match, on every page.",
            "example": 123,
        }
        properties["results"] = results
        return result

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": COUNT_PARAM,
                "required": False,
                "in": "query",
                "description": self.count_query_description,
                "schema": {"type": "boolean"},
            },
        ]

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
            if contains_nul(cursor.position):
                raise ValueError("NUL byte")
            value = field.to_python(cursor.position)
            if isinstance(value, int) and to_id(value) is None:
                raise ValueError("not an id")
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


class IdCursorPagination(DefaultCursorPagination):
    """In id order, oldest first: for lists people read as a catalogue (schedules, escalation policies)."""

    ordering = "id"
