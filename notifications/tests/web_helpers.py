"""Shared by the admin, web and API tests of the outbox: people, incidents and message rows made directly."""

import uuid

import pytest
from django.utils import timezone

from incidents import services
from notifications.models import Channel, Message
from tests.factories import AdminFactory, UserFactory

ERRORS = {
    Message.Status.DEAD: "Slack said channel_not_found",
    Message.Status.FAILED: "Slack answered HTTP 500",
}


def make_message(incident=None, *, status=Message.Status.SENT, channel=Channel.SLACK, **fields) -> Message:
    now = timezone.now()
    values = {
        "channel": channel,
        "kind": {"slack": "post", "email": "email", "webhook": "webhook"}[channel],
        "target": {
            "slack": "#incidents",
            "email": "ops@example.com",
            "webhook": "https://hooks.example.com/x",
        }[channel],
        "incident": incident,
        "body": "Checkout is down",
        "dedupe_key": f"test:{uuid.uuid4()}",
        "status": status,
        "attempts": 0 if status == Message.Status.PENDING else 1,
        "last_error": ERRORS.get(status, ""),
        "sent_at": now if status == Message.Status.SENT else None,
    }
    values.update(fields)
    return Message.objects.create(**values)


@pytest.fixture
def outsider(db):
    """Signed in, in no team: may see public incidents, may not act on team incidents."""
    return UserFactory(username="olga")


@pytest.fixture
def root(db):
    return AdminFactory(username="root")


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Leaked signing key", severity="critical", actor=member, team=team, private=True
    )


@pytest.fixture
def people(member, outsider, root):
    return {"member": member, "outsider": outsider, "admin": root}


@pytest.fixture
def incidents(incident, private_incident):
    return {"public": incident, "private": private_incident}
