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
