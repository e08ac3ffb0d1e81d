"""Each transport against its real local peer: what counts as delivered, retried, or dead."""

import hashlib
import hmac
import json

import pytest
from django.db import transaction
from django.utils import timezone

from notifications import services
from notifications.channels.webhook import sign
from notifications.models import Destination, Message
from notifications.services import Draft
from tests.peers import Fault


def _one(**kwargs) -> Message:
    with transaction.atomic():
        return services.message_enqueue(
            Draft(dedupe_key=f"t:{kwargs['channel']}:{kwargs['target']}", **kwargs)
        )


def _deliver(message: Message) -> Message:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    services.messages_deliver(message_ids=[message.pk])
    return Message.objects.get(pk=message.pk)


# --- Email -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_email_carries_text_html_and_a_stable_message_id(smtp_peer):
    message = _one(
        channel="email",
        kind="email",
        target="ops@example.com",
        subject="Hi",
        body="plain",
        html="<p>rich</p>",
    )
    assert _deliver(message).status == "sent"
    (mail,) = smtp_peer.received()
    assert mail["Message-ID"] == f"<{message.uid}@muster.localhost>"
    assert mail["X-Peer-Rcpt"] == "ops@example.com"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    assert parts["text/plain"].strip() == "plain" and "<p>rich</p>" in parts["text/html"]


@pytest.mark.django_db
def test_email_temporary_refusal_is_retried_permanent_is_dead(smtp_peer):
    deferred = _one(channel="email", kind="email", target="a@example.com", subject="s", body="b")
    smtp_peer.refuse_next(1, "451 4.3.0 Try again later")
    row = _deliver(deferred)
    assert row.status == "failed" and "451" in row.last_error
    assert _deliver(row).status == "sent"
    assert len(smtp_peer.received()) == 1

    refused = _one(channel="email", kind="email", target="b@example.com", subject="s", body="b")
    smtp_peer.refuse_next(1, "550 5.1.1 No such user")
    row = _deliver(refused)
    assert row.status == "dead" and "550" in row.last_error


@pytest.mark.django_db
def test_email_server_down_is_retried_then_delivered(smtp_peer):
    message = _one(channel="email", kind="email", target="a@example.com", subject="s", body="b")
    smtp_peer.stop()
    row = _deliver(message)
    assert row.status == "failed" and "Could not reach the mail server" in row.last_error
    smtp_peer.start()
    assert _deliver(row).status == "sent"
    assert [m["Message-ID"] for m in smtp_peer.received()] == [f"<{message.uid}@muster.localhost>"]


@pytest.mark.django_db
def test_one_smtp_session_carries_a_batch(smtp_peer, caplog):
    with transaction.atomic():
        services.messages_enqueue(
            Draft(
                channel="email",
                kind="email",
                target=f"u{i}@example.com",
                subject="s",
                body="b",
                dedupe_key=f"b{i}",
            )
            for i in range(20)
        )
    ids = list(Message.objects.values_list("pk", flat=True))
    caplog.set_level("INFO", logger="mail.log")
    assert services.messages_deliver(message_ids=ids) == {"sent": 20}
    assert len(smtp_peer.received()) == 20
    assert sum("handling connection" in r.getMessage() for r in caplog.records) == 1


# --- Webhook -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_is_signed_with_the_endpoints_secret(webhook_peer):
    dest = Destination.objects.create(
        name="sms", channel="webhook", webhook_url=webhook_peer.url + "sms", webhook_secret="k3y"
    )
    message = _one(
        channel="webhook",
        kind="webhook",
        target=dest.webhook_url,
        destination_id=dest.pk,
        payload={"b": 1, "a": "é"},
    )
    assert _deliver(message).status == "sent"
    (request,) = webhook_peer.delivered()
    timestamp = request.headers["X-Muster-Timestamp"]
    expected = hmac.new(b"k3y", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert (
        request.headers["X-Muster-Signature"] == f"sha256={expected}" == sign("k3y", timestamp, request.body)
    )
    assert json.loads(request.body) == {"a": "é", "b": 1}
    assert request.headers["X-Muster-Delivery"] == str(message.uid)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(status=500), "failed"),
        (Fault(status=429, retry_after=7), "failed"),
        (Fault(status=404), "dead"),
        (Fault(status=400), "dead"),
    ],
)
def test_webhook_answers_are_classified(webhook_peer, fault, status):
    webhook_peer.fail_next("*", fault)
    message = _one(channel="webhook", kind="webhook", target=webhook_peer.url + "x")
    row = _deliver(message)
    assert row.status == status and str(fault.status) in row.last_error
    if fault.retry_after:
        assert (row.next_attempt_at - timezone.now()).total_seconds() > 5


@pytest.mark.django_db
def test_webhook_unreachable_is_retried():
    message = _one(channel="webhook", kind="webhook", target="http://127.0.0.1:9/nothing-listens")
    row = _deliver(message)
    assert row.status == "failed" and "Could not reach the webhook" in row.last_error


# --- Slack -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        (Fault(status=429, retry_after=3), "failed", "429"),
        (Fault(status=500), "failed", "500"),
        (Fault(error="internal_error"), "failed", "internal_error"),
        (Fault(error="channel_not_found"), "dead", "channel_not_found"),
        (Fault(error="not_in_channel"), "dead", "not_in_channel"),
    ],
)
def test_slack_answers_are_classified(slack_peer, fault, status, reason):
    slack_peer.fail_next("chat.postMessage", fault)
    row = _deliver(_one(channel="slack", kind="post", target="#incidents", body="hi"))
    assert row.status == status and reason in row.last_error


@pytest.mark.django_db
def test_slack_bad_token_is_dead_with_invalid_auth(slack_peer, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-wrong"
    row = _deliver(_one(channel="slack", kind="post", target="#incidents", body="hi"))
    assert row.status == "dead" and "invalid_auth" in row.last_error


@pytest.mark.django_db
def test_slack_dm_finds_the_member_by_email(slack_peer):
    slack_peer.users_by_email["alice@example.com"] = "U0ALICE"
    row = _deliver(_one(channel="slack", kind="dm", target="email:alice@example.com", body="psst"))
    assert row.status == "sent"
    assert [p["channel"] for p in slack_peer.delivered("chat.postMessage")] == ["U0ALICE"]
    unknown = _deliver(_one(channel="slack", kind="dm", target="email:nobody@example.com", body="psst"))
    assert unknown.status == "dead" and "users_not_found" in unknown.last_error
