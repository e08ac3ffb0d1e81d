"""End to end in-process: declare -> routing consumer -> outbox rows -> delivered at real local peers."""

import pytest

from incidents import services
from notifications.models import Destination, Message
from tests.peers import Fault


@pytest.mark.django_db
def test_critical_customer_incident_reaches_slack_and_email_once(
    user, slack_peer, smtp_peer, django_capture_on_commit_callbacks
):
    Destination.objects.filter(name="Executive email list").update(
        active=True, email_addresses="ceo@example.com, cfo@example.com"
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_declare(
            title="Checkout down", severity="critical", actor=user, customer_impact=True
        )
    rows = Message.objects.filter(incident=incident)
    assert {m.status for m in rows} == {Message.Status.SENT}
    posted = sorted(p["channel"] for p in slack_peer.delivered("chat.postMessage"))
    assert posted == sorted(["#incidents", "#customer-support", "#ce", "#sales", "#marketing", "#general"])
    marketing = next(p for p in slack_peer.delivered("chat.postMessage") if p["channel"] == "#marketing")
    assert marketing["text"].startswith("@marketing-incident ")
    mails = smtp_peer.received()
    assert sorted(m["X-Peer-Rcpt"] for m in mails) == ["ceo@example.com", "cfo@example.com"]
    assert {m["Message-ID"] for m in mails} == {
        f"<{m.uid}@muster.localhost>" for m in rows.filter(channel="email")
    }


@pytest.mark.django_db
def test_slack_channel_not_found_is_dead_with_reason(user, slack_peer, django_capture_on_commit_callbacks):
    Destination.objects.filter(name="#incidents").update(slack_channel="#missing-incidents")
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_declare(title="Search slow", severity="major", actor=user)
    message = Message.objects.get(incident=incident, target="#missing-incidents")
    assert message.status == Message.Status.DEAD
    assert "channel_not_found" in message.last_error
    assert "channel_not_found" in Destination.objects.get(name="#incidents").last_error


@pytest.mark.django_db
def test_slack_429_is_retried_later_not_dead(user, slack_peer, django_capture_on_commit_callbacks):
    slack_peer.fail_next("chat.postMessage", Fault(status=429, retry_after=30))
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.incident_declare(title="Search slow", severity="major", actor=user)
    message = Message.objects.get(incident=incident)
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1
    assert (message.next_attempt_at - message.created_at).total_seconds() >= 29
