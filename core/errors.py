"""The one family of domain errors that services raise.

Entrances (API, web views, admin, Slack) translate these; the DRF exception handler in
``core.api.exceptions`` maps them to ``{"detail": ..., "code": ...}`` with the status below.
"""


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "The request could not be carried out."

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.field = field
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ValidationError(DomainError):
    status_code = 400
    code = "invalid"


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"
    default_message = "That status change is not allowed."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to do that."


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Unprocessable(DomainError):
    """Well-formed, but it contradicts what the server already holds (an idempotency key reused for another body)."""

    status_code = 422
    code = "unprocessable"
    default_message = "The request contradicts an earlier one."


class StaleState(DomainError):
    """The action was chosen on an older state of the object, and what it acts on has changed since.

    ``changes`` says what changed, by whom and when (for a client to show); ``version`` is the current version.
    """

    status_code = 412
    code = "stale"
    default_message = (
        "This changed since you loaded it; nothing was done. Look at the current state and retry."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        changes: list[dict] | None = None,
        version: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ):
        super().__init__(message, code=code, field=field)
        self.changes = changes or []
        self.version = version
