"""Cursor pagination for every API list: constant cost on page 2,000 as on page 1 (no COUNT, no OFFSET).

DRF's settings name :class:`DefaultCursorPagination` (``DEFAULT_PAGINATION_CLASS``), so this module imports nothing
that imports ``rest_framework.generics`` (which reads that setting while it loads).
"""

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, pagination

from core.validation import contains_nul, to_id


class DefaultCursorPagination(pagination.CursorPagination):
    """Newest first (by id), 50 a page, at most 200 with ``page_size``.

    A cursor is client input: one whose position does not fit the ordering field (``p=abc`` for an id, an id past
    64 bits, a NUL byte) is refused as an invalid cursor (404) instead of reaching the database and failing there.
    An integer position is an id (every integer ordering here is by id), so it must be one (1..2**63 - 1).
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
