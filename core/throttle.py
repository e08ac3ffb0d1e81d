"""One login throttle for every way to sign in with a password: the sign-in page, the admin's login, and any other
path that calls ``django.contrib.auth.authenticate``.

Failed attempts are counted per account and per client address in the ``shared`` cache (Redis in production; files
shared by the machine's processes without it), so four gunicorn workers count together. While either count is over
its limit, every password check is refused, a correct password included, and the forms say so plainly.

* ``LoginThrottleBackend`` (Django's model backend) is first in ``AUTHENTICATION_BACKENDS``: it refuses
  (``PermissionDenied`` stops the other backends) while the throttle holds, whatever form asked.
* ``user_login_failed`` counts a failure; ``user_logged_in`` clears the account's count.
* ``ThrottledAdminLoginForm`` and the allauth adapter check first, to show the clear message instead of
  "wrong password".
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

MESSAGE = "Too many failed sign-ins for this account or from this address. Try again in {minutes} minutes."


def _cache():
    return caches["shared"]


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return f"login-throttle:{kind}:{digest}"


def client_address(request) -> str:
    return (getattr(request, "META", {}) or {}).get("REMOTE_ADDR", "") if request is not None else ""


def account_of(credentials: dict) -> str:
    for field in ("username", "email", "login"):
        value = credentials.get(field)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _keys(request, account: str) -> list[tuple[str, int]]:
    keys = []
    if account:
        keys.append((_key("account", account), settings.LOGIN_THROTTLE_PER_ACCOUNT))
    address = client_address(request)
    if address:
        keys.append((_key("address", address), settings.LOGIN_THROTTLE_PER_ADDRESS))
    return keys


def blocked(request, account: str) -> bool:
    cache = _cache()
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(request, account))


def message() -> str:
    return MESSAGE.format(minutes=max(1, round(settings.LOGIN_THROTTLE_WINDOW / 60)))


def record_failure(request, account: str) -> None:
    cache = _cache()
    for key, _limit in _keys(request, account):
        if cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW)


def clear_account(account: str) -> None:
    if account:
        _cache().delete(_key("account", account))


class LoginThrottleBackend(ModelBackend):
    """Django's model backend, which first refuses every password check while the throttle holds (raising
    ``PermissionDenied`` also stops the backends after it, allauth's included)."""

    def authenticate(self, request, username=None, password=None, **credentials):
        if password is not None and blocked(request, account_of({"username": username, **credentials})):
            raise PermissionDenied(message())
        return super().authenticate(request, username=username, password=password, **credentials)


@receiver(user_login_failed, dispatch_uid="core.throttle.failed")
def _on_failure(sender, credentials, request=None, **kwargs) -> None:
    record_failure(request, account_of(credentials or {}))


@receiver(user_logged_in, dispatch_uid="core.throttle.success")
def _on_success(sender, request, user, **kwargs) -> None:
    clear_account(user.get_username())
    if user.email:
        clear_account(user.email)
