"""Reads of the shared bricks: API tokens."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from core.models import ApiToken, token_digest


def api_token_list(*, user) -> QuerySet[ApiToken]:
    """``user``'s tokens, newest first, revoked and expired ones included (the page shows their status)."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def api_token_get(*, user, pk: int) -> ApiToken | None:
    return api_token_list(user=user).filter(pk=pk).first()


def api_token_find(secret: str) -> ApiToken | None:
    """The token whose secret is ``secret``, with its user, or None. Looked up by digest (a unique index)."""
    digest = token_digest(secret)
    token = ApiToken.objects.select_related("user").filter(digest=digest).first()
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    return token
