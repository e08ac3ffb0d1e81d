"""Writes of the shared bricks: API tokens.

An API token's secret is shown once, when it is created; the database keeps its SHA-256 digest and a short prefix
to recognise it by. A token stops working when it expires or is revoked; a person may hold several, each named.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.db import atomic
from core.errors import PermissionDenied, ValidationError
from core.models import ApiToken, token_digest
from core.validation import reject_nul

TOKEN_NAME_MAX = 100
PREFIX_LENGTH = 8
# How often, at most, a token's last use is written (a busy client must not write a row per request).
LAST_USED_EVERY = timedelta(minutes=1)


def default_expiry(now: datetime | None = None) -> datetime | None:
    days = settings.API_TOKEN_DEFAULT_DAYS
    if not days or days <= 0:
        return None
    return (now or timezone.now()) + timedelta(days=days)


def _clean_name(value) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError("A name is required: say what the token is for.", code="required", field="name")
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationError(f"At most {TOKEN_NAME_MAX} characters.", field="name")
    return reject_nul(name, field="name")


_DEFAULT = object()


@atomic
def api_token_create(
    *, user, name: str, expires_at: datetime | object | None = _DEFAULT
) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its secret, which is returned here and never again.

    ``expires_at`` defaults to ``API_TOKEN_DEFAULT_DAYS`` from now; ``None`` means it never expires.
    """
    if user is None or not user.is_active:
        raise ValidationError("An inactive user cannot hold an API token.", field="user")
    name = _clean_name(name)
    now = timezone.now()
    if expires_at is _DEFAULT:
        expires_at = default_expiry(now)
    elif expires_at is not None and expires_at <= now:
        raise ValidationError("The expiry date must be in the future.", field="expires_at")
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        digest=token_digest(secret),
        created_at=now,
        expires_at=expires_at,
    )
    return token, secret


def can_revoke(actor, token: ApiToken) -> bool:
    """Its owner, and superusers, revoke a token."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    return actor.pk == token.user_id or actor.is_superuser


@atomic
def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke ``token`` from now on (revoking it again changes nothing)."""
    if not can_revoke(actor, token):
        raise PermissionDenied("Only the token's owner and admins may revoke it.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that ``token`` was used, at most once a minute: most requests write nothing."""
    now = now or timezone.now()
    if token.last_used_at is not None and token.last_used_at > now - LAST_USED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
