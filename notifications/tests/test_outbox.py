"""The outbox's delivery state machine: claim by token and lease, sent/failed/dead marks, backoff with
Retry-After, the sweeper's selection, resend. Driven against the real local peers."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, NotFound
from notifications import selectors, services
from notifications.channels import PermanentError, TransientError
from notifications.models import Destination, Message
from notifications.services import Draft
from tests.peers import Fault


def _enqueue(n=1, *, channel="webhook", target="http://127.0.0.1:9/hook", **kwargs) -> list[Message]:
    with transaction.atomic():
        services.messages_enqueue(
            Draft(channel=channel, target=target, dedupe_key=f"test:{i}:{target}", body="hello", **kwargs)
            for i in range(n)
        )
    return list(Message.objects.order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        services.messages_enqueue([Draft(channel="webhook", target="http://x", dedupe_key="k")])


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_message_and_queues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                services.messages_enqueue([Draft(channel="webhook", target="http://x", dedupe_key="k")])
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert not Message.objects.exists()
    assert callbacks == []


@pytest.mark.django_db
def test_dedupe_key_makes_enqueue_idempotent():
    _enqueue(3)
    _enqueue(3)
    assert Message.objects.count() == 3


@pytest.mark.django_db
def test_claim_is_exclusive_and_a_stale_claim_cannot_mark():
    (message,) = _enqueue()
    first = services.messages_claim(message_ids=[message.pk])
    assert [m.pk for m in first] == [message.pk]
    assert services.messages_claim(message_ids=[message.pk]) == []  # leased: nobody else gets it
    # The lease runs out (the first worker was killed): another worker claims it with a new token.
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = services.messages_claim(message_ids=[message.pk])
    assert second and second[0].claim_token != first[0].claim_token
    assert second[0].attempts == 2
    # The first worker wakes up and tries to mark its (stale) claim: refused.
    assert services.message_mark_sent(message=first[0], external_id="x") is False
    assert services.message_mark_sent(message=second[0], external_id="y") is True
    row = Message.objects.get(pk=message.pk)
    assert (row.status, row.external_id, row.claim_token) == ("sent", "y", None)
    assert services.messages_claim(message_ids=[message.pk]) == []  # sent is final


@pytest.mark.django_db
def test_transient_failure_backs_off_and_honours_retry_after(settings):
    (message,) = _enqueue()
    (claimed,) = services.messages_claim(message_ids=[message.pk])
    before = timezone.now()
    assert (
        services.message_mark_failed(message=claimed, error=TransientError("503", retry_after=120))
        == "failed"
    )
    row = Message.objects.get(pk=message.pk)
    assert row.next_attempt_at >= before + timedelta(seconds=119)
    assert services.messages_claim(message_ids=[message.pk]) == []  # not due yet


@pytest.mark.django_db
def test_permanent_error_is_dead_at_once_and_marks_the_destination():
    dest = Destination.objects.create(name="hook", channel="webhook", webhook_url="http://127.0.0.1:9/h")
    (message,) = _enqueue(destination_id=dest.pk)
    (claimed,) = services.messages_claim(message_ids=[message.pk])
    assert (
        services.message_mark_failed(message=claimed, error=PermanentError("The webhook answered 410"))
        == "dead"
    )
    dest.refresh_from_db()
    assert "410" in dest.last_error and dest.last_error_at is not None


@pytest.mark.django_db
def test_attempts_are_bounded(settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    (message,) = _enqueue()
    for expected in ("failed", "dead"):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        (claimed,) = services.messages_claim(message_ids=[message.pk])
        assert services.message_mark_failed(message=claimed, error=TransientError("timeout")) == expected
    row = Message.objects.get(pk=message.pk)
    assert row.last_error.startswith("Gave up after 2 attempts")


def test_backoff_grows_and_is_capped():
    assert services.message_backoff(1).total_seconds() <= 2.4
    assert services.message_backoff(5) > services.message_backoff(1)
    assert services.message_backoff(50).total_seconds() <= 900 * 1.2


@pytest.mark.django_db
def test_sweeper_selects_lost_pending_due_retries_and_expired_leases_only():
    now = timezone.now()
    rows = _enqueue(6)
    fresh, lost, retry_due, retry_later, dead_lease, live_lease = rows
    Message.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(minutes=5))
    Message.objects.filter(pk=retry_due.pk).update(
        status="failed", next_attempt_at=now - timedelta(seconds=1)
    )
    Message.objects.filter(pk=retry_later.pk).update(
        status="failed", next_attempt_at=now + timedelta(minutes=5)
    )
    Message.objects.filter(pk=dead_lease.pk).update(status="sending", lease_until=now - timedelta(seconds=1))
    Message.objects.filter(pk=live_lease.pk).update(status="sending", lease_until=now + timedelta(seconds=30))
    due = selectors.message_ids_overdue(grace=timedelta(seconds=20), now=now)
    assert sorted(due) == sorted([lost.pk, retry_due.pk, dead_lease.pk])
    assert fresh.pk not in due


@pytest.mark.django_db
def test_resend_only_dead_or_failed():
    sent, dead = _enqueue(2)
    Message.objects.filter(pk=sent.pk).update(status="sent")
    Message.objects.filter(pk=dead.pk).update(status="dead", attempts=10, last_error="channel_not_found")
    with pytest.raises(Conflict):
        services.message_resend(message=sent.pk)
    with pytest.raises(NotFound):
        services.message_resend(message=10**9)
    row = services.message_resend(message=dead.pk)
    assert (row.status, row.attempts) == ("pending", 0)


@pytest.mark.django_db
def test_deliver_batch_end_to_end_against_the_webhook_peer(webhook_peer):
    dest = Destination.objects.create(
        name="pager", channel="webhook", webhook_url=webhook_peer.url + "hook", webhook_secret="s3cret"
    )
    rows = _enqueue(3, target=webhook_peer.url + "hook", destination_id=dest.pk)
    webhook_peer.fail_next("/hook", Fault(status=500))
    outcome = services.messages_deliver(message_ids=[m.pk for m in rows])
    assert outcome == {"failed": 1, "sent": 2}
    failed = Message.objects.get(status="failed")
    Message.objects.filter(pk=failed.pk).update(next_attempt_at=timezone.now())
    assert services.messages_deliver(message_ids=[failed.pk]) == {"sent": 1}
    delivered = webhook_peer.delivered()
    assert sorted(r.headers["X-Muster-Delivery"] for r in delivered) == sorted(str(m.uid) for m in rows)
    # The failed attempt carried the same delivery id as its successful retry.
    ids = [r.headers["X-Muster-Delivery"] for r in webhook_peer.received()]
    assert len(ids) == 4 and len(set(ids)) == 3


@pytest.mark.django_db
def test_a_switched_off_channel_kills_its_messages_with_a_clear_reason(settings):
    settings.SLACK_BOT_TOKEN = ""
    (message,) = _enqueue(channel="slack", target="#incidents")
    assert services.messages_deliver(message_ids=[message.pk]) == {"dead": 1}
    assert "not configured" in Message.objects.get(pk=message.pk).last_error


@pytest.mark.django_db
def test_unknown_channel_is_dead_not_a_crash():
    (message,) = _enqueue(channel="pigeon", target="loft")
    assert services.messages_deliver(message_ids=[message.pk]) == {"dead": 1}
    assert "Unknown channel" in Message.objects.get(pk=message.pk).last_error
