"""API tokens: stored as digests, shown once, named, expiring, revocable; the header forms; the page; the admin;
the migration of DRF's authtoken keys."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core import services
from core.models import ApiToken, token_digest
from tests.factories import AdminFactory, UserFactory

API = "/api/v1/severities/"
PAGE = "/accounts/api-tokens/"


def call(secret: str, keyword: str = "Token"):
    return APIClient().get(API, HTTP_AUTHORIZATION=f"{keyword} {secret}")


@pytest.mark.django_db
def test_only_a_digest_is_stored():
    user = UserFactory()
    token, secret = services.api_token_create(user=user, name="deploy bot")
    assert len(secret) >= 40 and token.prefix == secret[:8]
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert all(secret not in str(v) for v in row.values())
    assert row["digest"] == token_digest(secret) != secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        assert all(secret not in str(value) for r in cursor.fetchall() for value in r)
    assert call(secret).status_code == 200


@pytest.mark.django_db
def test_a_person_holds_several_named_tokens_and_each_works():
    user = UserFactory()
    _one, first = services.api_token_create(user=user, name="laptop")
    _two, second = services.api_token_create(user=user, name="CI")
    assert first != second
    assert call(first).status_code == 200 and call(second).status_code == 200
    assert sorted(ApiToken.objects.filter(user=user).values_list("name", flat=True)) == ["CI", "laptop"]


@pytest.mark.django_db
def test_a_name_is_required():
    from core.errors import ValidationError

    with pytest.raises(ValidationError, match="name is required"):
        services.api_token_create(user=UserFactory(), name="  ")


@pytest.mark.django_db
def test_default_expiry_comes_from_the_setting(settings):
    user = UserFactory()
    settings.API_TOKEN_DEFAULT_DAYS = 30
    token, _ = services.api_token_create(user=user, name="a")
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    settings.API_TOKEN_DEFAULT_DAYS = 0
    token, _ = services.api_token_create(user=user, name="b")
    assert token.expires_at is None


# --- The header forms and the refusals ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Token {s}", 200),
        ("Bearer {s}", 200),
        ("bearer {s}", 200),
        ("token {s}", 200),
        ("Token", 401),
        ("Token {s} extra", 401),
        ("Token x{s}", 401),
        ("Basic {s}", 401),
    ],
)
def test_header_forms(header, status):
    _token, secret = services.api_token_create(user=UserFactory(), name="x")
    response = APIClient().get(API, HTTP_AUTHORIZATION=header.format(s=secret))
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.django_db
def test_an_expired_token_is_refused_with_a_clear_401():
    token, secret = services.api_token_create(user=UserFactory(), name="old")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = call(secret)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired" and "expired" in response.json()["detail"]


@pytest.mark.django_db
def test_a_revoked_token_is_refused_with_a_clear_401():
    user = UserFactory()
    token, secret = services.api_token_create(user=user, name="leaked")
    assert call(secret).status_code == 200
    services.api_token_revoke(actor=user, token=token)
    response = call(secret, "Bearer")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token has been revoked.", "code": "token_revoked"}


@pytest.mark.django_db
def test_only_the_owner_or_a_superuser_revokes():
    from core.errors import PermissionDenied

    owner = UserFactory()
    token, _ = services.api_token_create(user=owner, name="x")
    with pytest.raises(PermissionDenied):
        services.api_token_revoke(actor=UserFactory(), token=token)
    services.api_token_revoke(actor=AdminFactory(), token=token)
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute():
    token, secret = services.api_token_create(user=UserFactory(), name="x")
    assert token.last_used_at is None

    def updates() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert call(secret).status_code == 200
        return sum(1 for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE"))

    assert updates() == 1
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)
    assert updates() == 0  # within the minute: nothing written
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    assert updates() == 1
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=61)


# --- The page ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_creates_a_token_and_shows_its_secret_once(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(PAGE)
    assert response.status_code == 200 and b"No tokens yet" in response.content
    assert f'href="{PAGE}"'.encode() in response.content  # the account menu links it
    response = client.post(PAGE, {"name": "Grafana", "expires_in": "30"})
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'value="([^"]+)" aria-label="The new token', html).group(1)
    assert "will not be shown again" in html
    token = ApiToken.objects.get(user=user)
    assert token.name == "Grafana" and token.digest == token_digest(secret)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert "no-store" in response["Cache-Control"]
    assert call(secret).status_code == 200
    again = client.get(PAGE).content.decode()
    assert secret not in again and token.digest not in again
    assert "Grafana" in again and token.prefix in again and "Active" in again


@pytest.mark.django_db
def test_the_page_says_what_is_wrong_with_the_form(client):
    client.force_login(UserFactory())
    response = client.post(PAGE, {"name": "", "expires_in": "30"})
    assert response.status_code == 400 and b"field-error" in response.content
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_revoking_from_the_page_needs_a_post_with_csrf_and_the_owner():
    owner, other = UserFactory(), UserFactory()
    token, secret = services.api_token_create(user=owner, name="x")
    url = reverse("core:api_token_revoke", args=[token.pk])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(url).status_code == 403  # no CSRF token
    browser = Client()
    browser.force_login(owner)
    assert browser.get(url).status_code == 405
    browser.force_login(other)
    assert browser.post(url).status_code == 404  # another person's token
    assert call(secret).status_code == 200
    browser.force_login(owner)
    response = browser.post(url, follow=True)
    assert response.status_code == 200 and b"Revoked" in response.content
    assert call(secret).status_code == 401


def test_the_page_needs_a_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- The admin ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_shows_the_prefix_never_the_secret_or_digest_and_cannot_add(client):
    admin = AdminFactory()
    token, secret = services.api_token_create(user=UserFactory(), name="bot")
    client.force_login(admin)
    listing = client.get("/admin/core/apitoken/").content.decode()
    change = client.get(f"/admin/core/apitoken/{token.pk}/change/").content.decode()
    for html in (listing, change):
        assert token.prefix in html
        assert secret not in html and token.digest not in html
    assert 'name="digest"' not in change and 'name="prefix"' not in change
    assert client.get("/admin/core/apitoken/add/").status_code == 403
    response = client.post(
        "/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None and call(secret).status_code == 401


# --- From DRF's authtoken -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_copies_authtoken_keys_as_digests_and_drops_them():
    from django.apps import apps

    migration = importlib.import_module("core.migrations.0002_migrate_authtoken_keys")
    user = UserFactory()
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    created = timezone.now() - timedelta(days=400)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone, "
            "user_id integer NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [key, created, user.pk],
        )
    migration.copy_authtoken_keys(apps, SimpleNamespace(connection=connection))
    token = ApiToken.objects.get(user=user)
    assert token.name == "migrated" and token.digest == token_digest(key) and token.prefix == key[:8]
    assert token.expires_at is not None and token.expires_at > timezone.now()
    assert abs(token.created_at - created) < timedelta(seconds=1)
    assert "authtoken_token" not in connection.introspection.table_names()
    assert call(key).status_code == 200  # the old key keeps working
    # A database that never had authtoken: nothing to do.
    migration.copy_authtoken_keys(apps, SimpleNamespace(connection=connection))
    assert ApiToken.objects.count() == 1
