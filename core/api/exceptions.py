"""The API's exception handler: every error answers ``{"detail": ..., "code": ...}`` with a stable ``code``.

DRF's settings name it (``EXCEPTION_HANDLER``). The error body as the schema shows it is in ``core.api.schema``.

``detail`` is always a sentence a person can read: invalid input is worded field by field ("to: this field is
required."), while ``errors`` keeps the same messages keyed by field for a client to show next to each one. A
refusal of a stale action (``StaleState``, 412) also says what changed (``changes``) and the current ``version``,
which the ``ETag`` header names too.
"""

import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.preconditions import etag
from core.errors import DomainError, StaleState

#: At most this many field messages are worded in ``detail``; the rest are counted ("and 2 more").
DETAIL_MESSAGES = 3
NON_FIELD = "non_field_errors"


def _first_code(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


def _messages(detail, path: str = ""):
    """``(field path, message)`` for every message in a DRF error detail, in order (``steps[1].wait_minutes``)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            child = path if key == NON_FIELD else (f"{path}.{key}" if path else key)
            yield from _messages(value, child)
    elif isinstance(detail, list | tuple):
        nested = any(isinstance(item, dict | list | tuple) for item in detail)
        for index, item in enumerate(detail):
            if nested and isinstance(item, dict | list | tuple):
                yield from _messages(item, f"{path}[{index}]")
            elif not nested or item:
                yield from _messages(item, path)
    elif detail is not None and str(detail):
        yield path, str(detail)


def _lower_first(message: str) -> str:
    """'This field is required.' -> 'this field is required.'; 'URL ...' and 'INC-3 ...' keep their capitals."""
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        return message[0].lower() + message[1:]
    return message


def _sentence(message: str) -> str:
    message = message.strip()
    return message if message.endswith((".", "!", "?")) else f"{message}."


def validation_sentence(detail) -> str:
    """A validation error as words: 'to: this field is required. reason: ensure this field has no more than 2000
    characters.' (at most ``DETAIL_MESSAGES`` messages, then how many more)."""
    messages = list(_messages(detail))
    if not messages:
        return "Invalid input."
    worded = [
        f"{path}: {_sentence(_lower_first(text))}" if path else _sentence(text)
        for path, text in messages[:DETAIL_MESSAGES]
    ]
    rest = len(messages) - DETAIL_MESSAGES
    if rest > 0:
        worded.append(f"(and {rest} more)")
    return " ".join(worded)


def domain_sentence(exc: DomainError) -> str:
    """A service's refusal in words: its message, prefixed with the field it is about unless the message already
    names it ("start: not an ISO 8601 date and time...", but "Unknown team 'nope'." as it is)."""
    message = exc.message
    if exc.field and not re.search(rf"(?<![\w-]){re.escape(exc.field)}(?![\w-])", message, re.IGNORECASE):
        return f"{exc.field}: {_sentence(_lower_first(message))}"
    return message


def exception_handler(exc, context):
    """Map domain and framework errors to ``{"detail": ..., "code": ...}``.

    Validation errors keep their per-field messages under ``errors`` so a client can show them next to the field.
    """
    if isinstance(exc, DomainError):
        body = {"detail": domain_sentence(exc), "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        response = Response(body, status=exc.status_code)
        if isinstance(exc, StaleState):
            body["changes"] = exc.changes
            if exc.version is not None:
                body["version"] = exc.version
                response["ETag"] = etag(exc.version)
        return response
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
        errors = exc.detail if isinstance(exc.detail, dict) else {NON_FIELD: exc.detail}
        response.data = {
            "detail": validation_sentence(exc.detail),
            "code": _first_code(exc.detail),
            "errors": errors,
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response
