"""Fixtures shared by the whole suite."""

import pytest
from rest_framework.test import APIClient

from config import celery_app
from core import services as core_services
from incidents import services
from teams.models import Membership
from tests.factories import AdminFactory, MembershipFactory, TeamFactory, UserFactory

# Tests run tasks in-process unless a test starts a real worker (tests marked ``worker``).
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


@pytest.fixture(scope="session", autouse=True)
def _close_stray_sessions(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions left by threads (live server) or killed workers."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _fresh_shared_cache():
    """Each test starts with no failed sign-ins counted (the login throttle lives in the shared cache)."""
    from django.core.cache import caches

    caches["shared"].clear()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests flush the database, seeded rows included: put the default severities and roles back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    if transactional or "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        from incidents.defaults import ensure_defaults
        from notifications.defaults import ensure_defaults as ensure_routing

        request.getfixturevalue("transactional_db")
        ensure_defaults()
        ensure_routing()


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="mallory")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="root")


@pytest.fixture
def team(db):
    return TeamFactory(name="Payments", slug="payments")


@pytest.fixture
def member(db, team):
    """A member of the ``team`` fixture."""
    return MembershipFactory(team=team, user=UserFactory(username="bob"), role=Membership.Role.MEMBER).user


@pytest.fixture
def incident(db, member, team):
    return services.incident_declare(title="Checkout is down", severity="critical", actor=member, team=team)


@pytest.fixture
def api_client():
    return APIClient()


def token_client(user) -> APIClient:
    client = APIClient()
    token, secret = core_services.api_token_create(user=user, name="tests")
    # A client that has just called: its requests in the test do not record the use again (that is written at
    # most once a minute), so query counts are those of a busy client.
    core_services.api_token_touch(token=token)
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def member_api(member):
    return token_client(member)


# --- Network peers on 127.0.0.1 (see tests/peers.py) ---------------------------------------------------


@pytest.fixture
def slack_peer(settings):
    from tests.peers import SlackPeer

    peer = SlackPeer().start()
    settings.SLACK_API_URL = peer.api_url
    settings.SLACK_BOT_TOKEN = peer.token
    # Incident channels add their own Slack messages to every declare; tests that want them switch them on.
    settings.SLACK_INCIDENT_CHANNELS = False
    yield peer
    peer.stop()


@pytest.fixture
def smtp_peer(settings):
    from tests.peers import SMTPPeer

    peer = SMTPPeer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = peer.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.NOTIFY_EMAIL = True
    yield peer
    peer.stop()


@pytest.fixture
def webhook_peer():
    from tests.peers import WebhookPeer

    peer = WebhookPeer().start()
    yield peer
    peer.stop()
