"""Bricks every Muster API shares; they know no domain.

- ``core.api.exceptions``: the exception handler (DRF's ``EXCEPTION_HANDLER``): ``{"detail": ..., "code": ...}``.
- ``core.api.pagination``: cursor pagination by id (DRF's ``DEFAULT_PAGINATION_CLASS``).
- ``core.api.parsers``: the JSON parser (DRF's ``DEFAULT_PARSER_CLASSES``).
- ``core.api.schema``: the error body and error responses for the OpenAPI schema, and a schema hook.
- ``core.api.serializers``: strict input serializers, ``validated``, ``absolute_url``.
- ``core.api.views``: the base ``ApiView`` and the JSON 404.

DRF's settings import the first three while ``rest_framework`` loads, so this package imports nothing itself: a
module here that imported ``rest_framework.generics`` on package import would make that a circular import.
"""

# The old import path ``from core.api import DefaultCursorPagination``, kept (lazily, see above) only until the
# paging API module being moved out of oncall imports ``core.api.pagination``.
_MOVED = {"DefaultCursorPagination": "core.api.pagination"}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
