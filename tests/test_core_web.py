import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from core import timeutils
from incidents.models import Incident, TimelineEvent

ROOT = Path(__file__).resolve().parents[1]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_redis(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "not configured"}


@pytest.mark.django_db
def test_readyz_is_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["redis"].startswith("error")


@pytest.mark.django_db
def test_createapitoken_prints_a_working_token(capsys, member, client):
    from core.models import ApiToken, token_digest

    call_command("createapitoken", "bob", "--name", "deploy bot")
    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=member)
    assert token.name == "deploy bot" and token.digest == token_digest(key) and key.startswith(token.prefix)
    response = client.get("/api/v1/severities/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    call_command("createapitoken", "bob", "--expires-days", "0")
    other = capsys.readouterr().out.strip()
    assert other != key  # each call makes another named token; the first keeps working
    assert ApiToken.objects.get(digest=token_digest(other)).expires_at is None
    assert client.get("/api/v1/severities/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.django_db
def test_createapitoken_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("createapitoken", "nobody")


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    counts = (Incident.objects.count(), TimelineEvent.objects.count())
    assert counts[0] >= 5
    assert (
        Incident.objects.filter(status="closed").exists() and Incident.objects.filter(private=True).exists()
    )
    call_command("seed_demo")
    assert (Incident.objects.count(), TimelineEvent.objects.count()) == counts


def test_production_refuses_the_development_secret_key():
    """A server started without DEBUG and without SECRET_KEY refuses to start; management commands still run."""
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "HOME": "/tmp"}
    code = "import config.wsgi"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    env["SECRET_KEY"] = "x" * 50
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env | {"SECRET_KEY": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_time_helpers():
    from datetime import UTC, datetime, timedelta, timezone

    value = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert timeutils.format_utc(value) == "2026-03-28 23:30 UTC"
    assert timeutils.utc_iso(value) == "2026-03-28T23:30:00+00:00"
    assert timeutils.format_utc(None) == ""
    assert timeutils.format_duration(timedelta(seconds=59)) == "59s"
    assert timeutils.format_duration(timedelta(minutes=4, seconds=10)) == "4m 10s"
    assert timeutils.format_duration(timedelta(hours=2, minutes=5)) == "2h 5m"
    assert timeutils.format_duration(timedelta(days=3, hours=4)) == "3d 4h"
    assert timeutils.format_duration(timedelta(seconds=-5)) == "0s"
    assert datetime.now(UTC).tzinfo is UTC


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(client, member):
    client.force_login(member)
    response = client.get("/api/v1/nope/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API endpoint.", "code": "not_found"}


@pytest.mark.django_db
def test_oversized_body_is_refused_before_parsing(client, member, settings):
    from incidents.models import Incident

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(member)
    body = '{"title": "%s", "severity": "major"}' % ("x" * 2000)
    response = client.post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    assert Incident.objects.count() == 0
    response = client.post(
        "/api/v1/incidents/", '{"title": "ok", "severity": "major"}', content_type="application/json"
    )
    assert response.status_code == 201


def test_single_sign_on_is_configured_from_the_environment():
    """With OIDC_* set, allauth offers the OpenID Connect provider under the configured id."""
    script = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from django.urls import reverse;"
        "from allauth.socialaccount.adapter import get_adapter;"
        "apps = get_adapter().list_apps(None);"
        "print([(a.provider, a.provider_id, a.client_id, a.settings['server_url']) for a in apps]);"
        "print(reverse('openid_connect_login', kwargs={'provider_id': 'okta'}))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DATABASE_URL": "sqlite://:memory:",
        "OIDC_SERVER_URL": "https://idp.example.com/oauth2/default",
        "OIDC_PROVIDER_ID": "okta",
        "OIDC_CLIENT_ID": "muster-client",
        "OIDC_CLIENT_SECRET": "s3cret",
    }
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (
        "('openid_connect', 'okta', 'muster-client', 'https://idp.example.com/oauth2/default')"
        in result.stdout
    )
    assert "/accounts/oidc/okta/login/" in result.stdout
