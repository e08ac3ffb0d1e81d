# ruff: noqa: F811 (fixtures imported from web_helpers are redefined as test arguments)
"""The notifications API: an incident's messages, resend, delivery health."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import token_client
from notifications.models import Destination, Message
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

HEALTH = "/api/v1/notifications/health/"


def messages_url(incident_id) -> str:
    return f"/api/v1/incidents/{incident_id}/messages/"


def resend_url(message_id) -> str:
    return f"/api/v1/messages/{message_id}/resend/"


LIST_TABLE = [
    ("member", "public", 200),
    ("outsider", "public", 200),
    ("admin", "public", 200),
    ("member", "private", 200),
    ("outsider", "private", 404),
    ("admin", "private", 200),
]
RESEND_TABLE = [
    ("member", "public", 200),
    ("outsider", "public", 403),
    ("admin", "public", 200),
    ("member", "private", 200),
    ("outsider", "private", 404),
    ("admin", "private", 200),
]


@pytest.mark.parametrize(("who", "which", "expected"), LIST_TABLE)
def test_list_permissions(people, incidents, who, which, expected):
    message = make_message(incidents[which], status=Message.Status.DEAD)
    response = token_client(people[who]).get(messages_url(incidents[which].pk))
    assert response.status_code == expected
    if expected == 200:
        [row] = response.json()["results"]
        assert row["id"] == message.pk
        assert row["status"] == "dead"
        assert row["last_error"] == "Slack said channel_not_found"
        assert row["incident"] == incidents[which].pk
    else:
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(("who", "which", "expected"), RESEND_TABLE)
def test_resend_permissions(people, incidents, who, which, expected):
    message = make_message(incidents[which], status=Message.Status.DEAD, attempts=5)
    response = token_client(people[who]).post(resend_url(message.pk), {}, format="json")
    assert response.status_code == expected
    message.refresh_from_db()
    if expected == 200:
        assert response.json()["status"] == "pending"
        assert response.json()["attempts"] == 0
        assert message.status == Message.Status.PENDING
    else:
        assert message.status == Message.Status.DEAD
        assert message.attempts == 5


def test_resend_without_a_body_works(member_api, incident):
    message = make_message(incident, status=Message.Status.FAILED, attempts=3)
    response = member_api.post(resend_url(message.pk))
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"], response.json()["attempts"]) == (
        message.pk,
        "pending",
        0,
    )
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.PENDING, 0)


def test_resend_of_a_sent_message_is_409(member_api, incident):
    message = make_message(incident, status=Message.Status.SENT)
    response = member_api.post(resend_url(message.pk), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "Only dead or failed messages can be resent" in response.json()["detail"]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


@pytest.mark.parametrize("status", [Message.Status.PENDING, Message.Status.SENDING])
def test_resend_of_a_message_on_its_way_is_409(member_api, incident, status):
    message = make_message(incident, status=status)
    response = member_api.post(resend_url(message.pk), {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    message.refresh_from_db()
    assert message.status == status


def test_resend_refuses_unknown_body_keys(member_api, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    response = member_api.post(resend_url(message.pk), {"force": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"force": ["Unknown field."]}
    message.refresh_from_db()
    assert message.status == Message.Status.DEAD


def test_unauthenticated_is_401(api_client, incident):
    message = make_message(incident, status=Message.Status.DEAD)
    assert api_client.get(messages_url(incident.pk)).status_code == 401
    assert api_client.post(resend_url(message.pk), {}, format="json").status_code == 401
    assert api_client.get(HEALTH).status_code == 401


@pytest.mark.parametrize("bad", ["999999", "abc", "99999999999999999999999", "-1", "1.5", "%20", "0x10"])
def test_hostile_ids_are_json_404(root, bad):
    client = token_client(root)
    for response in (client.get(messages_url(bad)), client.post(resend_url(bad), {}, format="json")):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_list_is_cursor_paginated_newest_first(member_api, incident):
    made = [make_message(incident) for _ in range(5)]
    first = member_api.get(messages_url(incident.pk) + "?page_size=3").json()
    assert [r["id"] for r in first["results"]] == [m.pk for m in reversed(made)][:3]
    second = member_api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [made[1].pk, made[0].pk]
    assert member_api.get(messages_url(incident.pk) + "?cursor=bogus").status_code == 404


def test_list_runs_a_constant_number_of_queries(member_api, member, incident, django_assert_num_queries):
    destination = Destination.objects.first()
    for _ in range(3):
        make_message(incident, destination=destination, recipient=member)
    with CaptureQueriesContext(connection) as ctx:
        assert member_api.get(messages_url(incident.pk)).status_code == 200
    for _ in range(27):
        make_message(incident, destination=destination, recipient=member)
    with django_assert_num_queries(len(ctx.captured_queries)):
        member_api.get(messages_url(incident.pk))


def test_health_is_for_staff(member_api, root, incident, settings):
    settings.SLACK_BOT_TOKEN = ""
    assert member_api.get(HEALTH).status_code == 403
    assert token_client(UserFactory(is_staff=True)).get(HEALTH).status_code == 200
    make_message(incident, status=Message.Status.DEAD, last_error="Slack said invalid_auth")
    make_message(incident, status=Message.Status.PENDING)
    body = token_client(root).get(HEALTH).json()
    slack = next(c for c in body["channels"] if c["channel"] == "slack")
    assert slack["enabled"] is False
    assert "SLACK_BOT_TOKEN" in slack["configuration_error"]
    assert (slack["dead"], slack["pending"]) == (1, 1)
    assert slack["oldest_pending_seconds"] >= 0
    assert slack["last_error"] == "Slack said invalid_auth"
    assert "SLACK_BOT_TOKEN" in slack["hint"]
    assert [m["status"] for m in body["dead"]] == ["dead"]
    assert body["attention_window"] is None


def test_health_hides_private_dead_messages_from_staff_who_cannot_see_them(private_incident):
    make_message(private_incident, status=Message.Status.DEAD)
    body = token_client(UserFactory(is_staff=True)).get(HEALTH).json()
    assert body["dead"] == []
    slack = next(c for c in body["channels"] if c["channel"] == "slack")
    assert slack["dead"] == 1  # counts are global; the rows are not
