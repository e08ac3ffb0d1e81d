# ruff: noqa: F811 (fixtures imported from web_helpers are redefined as test arguments)
"""The outbox's web pages: an incident's messages, Resend, the delivery health page and the attention banner."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from notifications.models import AttentionWindow, Destination, Message
from notifications.tests.web_helpers import (  # noqa: F401 (fixtures)
    incidents,
    make_message,
    outsider,
    people,
    private_incident,
    root,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def list_url(incident) -> str:
    return reverse("notifications:incident_messages", args=[incident.pk])


def resend_url(message) -> str:
    return reverse("notifications:message_resend", args=[message.pk])


def toasts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Permission table: who sees an incident's messages and who may resend them ----------------------------

LIST_TABLE = [
    ("member", "public", 200),
    ("outsider", "public", 200),
    ("admin", "public", 200),
    ("member", "private", 200),
    ("outsider", "private", 404),
    ("admin", "private", 200),
]
RESEND_TABLE = [
    ("member", "public", 302),
    ("outsider", "public", 403),
    ("admin", "public", 302),
    ("member", "private", 302),
    ("outsider", "private", 404),
    ("admin", "private", 302),
]


@pytest.mark.parametrize(("who", "which", "expected"), LIST_TABLE)
def test_message_list_permissions(client, people, incidents, who, which, expected):
    incident = incidents[which]
    message = make_message(incident, status=Message.Status.DEAD)
    client.force_login(people[who])
    response = client.get(list_url(incident))
    assert response.status_code == expected
    if expected == 200:
        html = response.content.decode()
        assert f'data-message="{message.pk}"' in html
        assert "channel_not_found" in html
        # The Resend button only for those who may act on the incident.
        assert (f'data-testid="resend-{message.pk}"' in html) == (who != "outsider")
    else:
        assert "Leaked signing key" not in response.content.decode()


@pytest.mark.parametrize(("who", "which", "expected"), RESEND_TABLE)
def test_resend_permissions(client, people, incidents, who, which, expected):
    message = make_message(incidents[which], status=Message.Status.DEAD, attempts=5)
    client.force_login(people[who])
    response = client.post(resend_url(message))
    assert response.status_code == expected
    message.refresh_from_db()
    if expected == 302:
        assert response["Location"] == list_url(incidents[which])
        assert message.status == Message.Status.PENDING
        assert message.attempts == 0
    else:
        assert message.status == Message.Status.DEAD
        assert message.attempts == 5


def test_resend_of_a_sent_message_is_refused_with_a_message(client, member, incident):
    message = make_message(incident, status=Message.Status.SENT)
    client.force_login(member)
    response = client.post(resend_url(message))
    assert response.status_code == 302
    assert any("Only dead or failed messages can be resent" in text for text in toasts(response))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_resend_of_a_failed_message_queues_it_and_returns_to_next(client, member, incident):
    message = make_message(incident, status=Message.Status.FAILED)
    client.force_login(member)
    back = list_url(incident) + "?status=failed"
    response = client.post(resend_url(message), {"next": back})
    assert response["Location"] == back
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING


def test_resend_ignores_a_foreign_next_url(client, member, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    client.force_login(member)
    response = client.post(resend_url(message), {"next": "https://evil.example.com/"})
    assert response["Location"] == list_url(incident)


def test_resend_is_post_only_and_needs_sign_in(client, member, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    assert client.post(resend_url(message)).status_code == 302  # to the sign-in page
    message.refresh_from_db()
    assert message.status == Message.Status.DEAD
    client.force_login(member)
    assert client.get(resend_url(message)).status_code == 405


def test_message_without_incident_is_staff_only(client, member, root):
    message = make_message(None, status=Message.Status.DEAD)
    client.force_login(member)
    assert client.post(resend_url(message)).status_code == 404
    client.force_login(root)
    assert client.post(resend_url(message)).status_code == 302
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING


@pytest.mark.parametrize(
    "path",
    [
        "/notifications/incidents/999999/messages/",
        "/notifications/incidents/99999999999999999999999/messages/",
        "/notifications/incidents/abc/messages/",
        "/notifications/messages/99999999999999999999999/resend/",
        "/notifications/messages/-1/resend/",
        "/notifications/messages/abc/resend/",
    ],
)
def test_hostile_ids_are_404_not_500(client, root, path):
    client.force_login(root)
    response = client.post(path) if path.endswith("resend/") else client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["?status=bogus", "?page=abc", "?page=99999999999999999999", "?page=-3"])
def test_bad_status_filter_and_page_are_ignored(client, member, incident, query):
    dead = make_message(incident, status=Message.Status.DEAD)
    sent = make_message(incident, status=Message.Status.SENT)
    client.force_login(member)
    response = client.get(list_url(incident) + query)
    assert response.status_code == 200
    assert response.context["status"] == "" and response.context["page"].number == 1
    html = response.content.decode()
    assert html.count("data-message=") == 2
    assert f'data-message="{dead.pk}"' in html and f'data-message="{sent.pk}"' in html


def test_a_nul_byte_in_the_status_filter_is_a_400(client, member, incident):
    make_message(incident, status=Message.Status.DEAD)
    client.force_login(member)
    response = client.get(list_url(incident) + "?status=%00")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_status_filter_and_pagination(client, member, incident):
    dead = make_message(incident, status=Message.Status.DEAD)
    for _ in range(55):
        make_message(incident, status=Message.Status.SENT)
    client.force_login(member)
    html = client.get(list_url(incident) + "?status=dead").content.decode()
    assert html.count("data-message=") == 1 and f'data-message="{dead.pk}"' in html
    first = client.get(list_url(incident)).content.decode()
    second = client.get(list_url(incident) + "?page=2").content.decode()
    assert first.count("data-message=") == 50
    assert second.count("data-message=") == 6
    assert "Page 2 of 2" in second


def test_empty_list_says_what_happens(client, member, incident):
    client.force_login(member)
    assert "No messages yet" in client.get(list_url(incident)).content.decode()


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_message_list_runs_a_constant_number_of_queries(client, member, incident, django_assert_num_queries):
    destination = Destination.objects.first()
    for status in (Message.Status.SENT, Message.Status.DEAD, Message.Status.FAILED):
        make_message(incident, status=status, destination=destination, recipient=member)
    client.force_login(member)
    url = list_url(incident)
    few = count_queries(client, url)
    for n in range(27):
        make_message(
            incident, status=list(Message.Status.values)[n % 5], destination=destination, recipient=member
        )
    with django_assert_num_queries(few):
        client.get(url)


# --- The incident page's summary ---------------------------------------------------------------------------


def test_incident_page_links_to_its_messages_with_counts(client, member, incident):
    for status in (Message.Status.SENT, Message.Status.SENT, Message.Status.DEAD):
        make_message(incident, status=status)
    client.force_login(member)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert list_url(incident) in html
    assert "Messages (2 sent, 1 failed)" in html
    assert "1 message could not be delivered" in html


def test_incident_page_summary_costs_the_same_for_3_and_30_messages(client, member, incident):
    make_message(incident, status=Message.Status.SENT)
    client.force_login(member)
    url = incident.get_absolute_url()
    few = count_queries(client, url)
    for _ in range(29):
        make_message(incident, status=Message.Status.DEAD)
    assert count_queries(client, url) == few


# --- Delivery health ----------------------------------------------------------------------------------------


def health_url() -> str:
    return reverse("notifications:health")


def test_health_is_for_staff_only(client, member, root):
    assert client.get(health_url()).status_code == 302  # sign in first
    client.force_login(member)
    assert client.get(health_url()).status_code == 403
    client.force_login(UserFactory(username="staffer", is_staff=True))
    assert client.get(health_url()).status_code == 200
    client.force_login(root)
    assert client.get(health_url()).status_code == 200


def test_health_shows_counts_and_configuration_errors(client, root, incident, settings):
    settings.SLACK_BOT_TOKEN = ""
    settings.NOTIFY_EMAIL = False
    for status, n in ((Message.Status.PENDING, 2), (Message.Status.SENT, 3), (Message.Status.DEAD, 1)):
        for _ in range(n):
            make_message(incident, status=status)
    make_message(incident, status=Message.Status.FAILED, channel="webhook")
    client.force_login(root)
    response = client.get(health_url())
    html = response.content.decode()
    slack = next(row for row in response.context["channels"] if row["channel"] == "slack")
    assert (slack["pending"], slack["sent"], slack["dead"], slack["failed"]) == (2, 3, 1, 0)
    assert slack["oldest_pending_age"] is not None
    assert 'data-testid="slack-pending">2<' in html
    assert 'data-testid="slack-sent">3<' in html
    assert 'data-testid="webhook-failed"' in html
    assert "Switched off: set SLACK_BOT_TOKEN" in html
    assert "Switched off: set EMAIL_URL" in html
    assert 'data-testid="config-error-webhook"' not in html


def test_health_shows_unknown_slack_channel_and_bad_token_clearly(
    client, root, user, slack_peer, settings, django_capture_on_commit_callbacks
):
    """Real deliveries to the local Slack peer: an unknown channel is dead with channel_not_found (shown with its
    destination), a refused token is dead with invalid_auth (shown with what to fix)."""
    Destination.objects.filter(name="#incidents").update(slack_channel="#missing-incidents")
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_declare(title="Search slow", severity="major", actor=user)
    client.force_login(root)
    html = client.get(health_url()).content.decode()
    assert "channel_not_found" in html
    assert "#missing-incidents" in html
    assert "A Slack channel does not exist" in html
    destination = Destination.objects.get(name="#incidents")
    assert reverse("admin:notifications_destination_change", args=[destination.pk]) in html

    settings.SLACK_BOT_TOKEN = "xoxb-revoked"
    Destination.objects.filter(name="#incidents").update(slack_channel="#incidents")
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_declare(title="Login slow", severity="major", actor=user)
    assert Message.objects.filter(status=Message.Status.DEAD, last_error__contains="invalid_auth").exists()
    html = client.get(health_url()).content.decode()
    assert "invalid_auth" in html
    assert "Slack refuses the bot token: check SLACK_BOT_TOKEN" in html


def test_health_resend_of_a_dead_message(client, root, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    client.force_login(root)
    html = client.get(health_url()).content.decode()
    assert f'data-testid="resend-{message.pk}"' in html
    response = client.post(resend_url(message), {"next": health_url()})
    assert response["Location"] == health_url()
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING


def test_health_hides_dead_messages_of_private_incidents_from_staff_who_cannot_see_them(
    client, private_incident
):
    message = make_message(private_incident, status=Message.Status.DEAD, target="#sec-leak")
    staffer = UserFactory(username="staffer", is_staff=True)
    client.force_login(staffer)
    html = client.get(health_url()).content.decode()
    assert f'data-message="{message.pk}"' not in html
    assert "#sec-leak" not in html


def test_health_runs_a_constant_number_of_queries(client, root, incident, django_assert_num_queries):
    for status in Message.Status.values:
        make_message(incident, status=status)
    client.force_login(root)
    few = count_queries(client, health_url())
    for n in range(30):
        make_message(incident, status=Message.Status.DEAD, channel=["slack", "email", "webhook"][n % 3])
    Destination.objects.update(last_error="boom", last_error_at=timezone.now())
    with django_assert_num_queries(few):
        client.get(health_url())


# --- Attention banner ---------------------------------------------------------------------------------------


def test_attention_banner_shows_while_a_window_is_active(client, member):
    client.force_login(member)
    assert 'data-testid="attention-banner"' not in client.get(reverse("incidents:dashboard")).content.decode()
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Launch day",
        starts_at=now - timedelta(hours=1),
        ends_at=now.replace(hour=23, minute=30) if now.hour < 23 else now + timedelta(minutes=20),
    )
    html = client.get(reverse("incidents:dashboard")).content.decode()
    assert 'data-testid="attention-banner"' in html
    assert "Heightened attention until" in html
    assert "every incident also goes to marketing" in html
    assert "Launch day" in html


def test_attention_banner_is_gone_once_the_window_ends(client, member):
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Past", starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1)
    )
    AttentionWindow.objects.create(
        note="Later", starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2)
    )
    client.force_login(member)
    assert 'data-testid="attention-banner"' not in client.get(reverse("incidents:dashboard")).content.decode()


def test_attention_banner_is_not_shown_signed_out(client):
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Launch", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    html = client.get(reverse("account_login")).content.decode()
    assert "Heightened attention" not in html


@pytest.mark.django_db
def test_incident_page_links_its_slack_channel(client, user):
    from incidents import services as incident_services
    from notifications.models import IncidentSlackChannel
    from notifications.services import Draft, messages_enqueue

    incident = incident_services.incident_declare(title="Checkout errors", severity="major", actor=user)
    with transaction.atomic():
        messages_enqueue(
            [
                Draft(
                    channel="slack",
                    kind="channel.create",
                    target="x",
                    dedupe_key="c",
                    incident_id=incident.pk,
                )
            ]
        )
    channel = IncidentSlackChannel.objects.create(
        incident=incident, name=f"inc-{incident.pk}-checkout-errors"
    )
    client.force_login(user)
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"#inc-{incident.pk}-checkout-errors is being created" in body
    channel.channel_id = "C0123"
    channel.save()
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "https://slack.com/app_redirect?channel=C0123" in body
