"""Fault tests of the notifications outbox with a real Celery worker, real Redis and real PostgreSQL.

The worker (a subprocess, ``tests.workers.Worker``) delivers to real peers running in this process: a Slack Web
API on 127.0.0.1 (``SlackPeer``), an aiosmtpd SMTP server (``SMTPPeer``) and a webhook receiver. Nothing is
monkeypatched: slack_sdk, smtplib and requests talk to them over sockets. Each test asserts that every message
arrives at its peer, and only once; the sole duplicate allowed is a kill after the peer accepted and before the
row was marked sent, and it carries the same identity (Message-ID, X-Muster-Delivery) so the receiver drops it.

The lease, grace and sweep periods are shortened so the file runs in a couple of minutes;
``tests/test_notifications_defaults.py`` checks that the shipped defaults keep the 2-minute bound.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config import celery_app
from incidents import services
from incidents.models import Incident, TimelineEvent
from notifications import services as outbox
from notifications.models import Destination, Message, RoutingRule
from tests.peers import Fault, SMTPPeer, wait_for
from tests.workers import (
    RedisServer,
    Worker,
    needs_worker_stack,
    publishing_to,
    terminate_other_sessions,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), needs_worker_stack]

FAST = {
    # A killed delivery's lease runs out after 4 s; the sweepers run every second.
    "NOTIFY_LEASE_SECONDS": "4",
    "NOTIFY_GRACE_SECONDS": "2",
    "NOTIFY_SWEEP_SECONDS": "1",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "CONSUMER_SWEEP_SECONDS": "1",
    "TIMELINE_CONSUMER_GRACE_SECONDS": "2",
    "MUSTER_PLUGINS": "",
    "NOTIFY_REMINDER_SECONDS": "3600",
    # Only the routed announcements: each incident's own Slack channel is tested on its own.
    "SLACK_INCIDENT_CHANNELS": "0",
}
EXEC_LIST = "Executive email list"


def notify_env(*, slack=None, smtp=None, **extra: str) -> dict[str, str]:
    """The worker's environment: the peers it delivers to (a channel without a peer is switched off)."""
    env = dict(FAST)
    env["SLACK_BOT_TOKEN"] = slack.token if slack else ""
    if slack:
        env["SLACK_API_URL"] = slack.api_url
    if smtp:
        env |= {"EMAIL_URL": smtp.email_url, "NOTIFY_EMAIL": "1"}
    else:
        env |= {"EMAIL_URL": "consolemail://", "NOTIFY_EMAIL": "0"}
    return env | extra


@pytest.fixture
def real_broker():
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
    terminate_other_sessions()


def declare(title: str, *, member, team, severity: str = "major", customer_impact: bool = False) -> Incident:
    return services.incident_declare(
        title=title, severity=severity, actor=member, team=team, customer_impact=customer_impact
    )


def routed(incident_ids):
    """The messages routing rules sent to destinations (other wings may add their own, e.g. pages)."""
    return Message.objects.filter(incident_id__in=incident_ids, destination__isnull=False)


def statuses(incident_ids) -> Counter:
    return Counter(routed(incident_ids).values_list("status", flat=True))


def all_sent(incident_ids, count: int):
    return lambda: statuses(incident_ids) == Counter({Message.Status.SENT: count})


def posts(slack_peer) -> list[dict]:
    """Posts Slack accepted into named channels (the routed announcements; DMs are other wings')."""
    return [p for p in slack_peer.delivered("chat.postMessage") if p.get("channel", "").startswith("#")]


def use_exec_list(addresses: list[str]) -> Destination:
    Destination.objects.filter(name=EXEC_LIST).update(active=True, email_addresses="\n".join(addresses))
    return Destination.objects.get(name=EXEC_LIST)


def message_ids(mails) -> list[str]:
    return [m["Message-ID"] for m in mails]


def subject(mail) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def expected_message_ids(incident_ids) -> set[str]:
    return {
        f"<{uid}@muster.localhost>"
        for uid in routed(incident_ids).filter(channel="email").values_list("uid", flat=True)
    }


class SlowSMTPPeer(SMTPPeer):
    """An SMTP peer that can hold its ``250`` answer back after it has taken a mail in (``slow_next``): a worker
    killed meanwhile leaves a mail the server accepted but the outbox never marked sent."""

    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def slow_next(self, count: int, seconds: float) -> None:
        with self.lock:
            self.delays.extend([seconds] * count)

    def start(self) -> SlowSMTPPeer:
        from aiosmtpd.controller import Controller

        peer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with peer.lock:
                    mail = message_from_bytes(envelope.content)
                    mail["X-Peer-Rcpt"] = ",".join(envelope.rcpt_tos)
                    peer.messages.append(mail)
                    delay = peer.delays.pop(0) if peer.delays else 0.0
                if delay:
                    await asyncio.sleep(delay)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self


@pytest.fixture
def slow_smtp_peer():
    peer = SlowSMTPPeer().start()
    yield peer
    peer.stop()


# --- A worker killed in the middle of a delivery ----------------------------------------------------


def test_killed_during_smtp_delivery_every_mail_arrives_once_by_message_id(
    real_broker, member, team, slow_smtp_peer, tmp_path
):
    addresses = [f"exec{i}@example.com" for i in range(4)]
    use_exec_list(addresses)
    slow_smtp_peer.slow_next(1, seconds=10)  # the first mail is taken in, its 250 held back
    first = Worker(tmp_path, env=notify_env(smtp=slow_smtp_peer))
    try:
        incident = declare("Card payments failing", member=member, team=team, severity="critical")
        assert wait_for(lambda: len(slow_smtp_peer.received()) == 1, 30), first.text()[-3000:]
        first.kill()  # mid-delivery: the server has the mail, the row is still "sending"
    finally:
        first.kill()
    row = routed([incident.pk]).get(target=addresses[0])
    assert row.status == Message.Status.SENDING
    assert routed([incident.pk]).filter(status=Message.Status.SENT).count() == 0

    with Worker(tmp_path, beat=True, env=notify_env(smtp=slow_smtp_peer)) as second:
        assert wait_for(all_sent([incident.pk], 4), 60), (statuses([incident.pk]), second.text()[-3000:])

    mails = slow_smtp_peer.received()
    ids = message_ids(mails)
    # Every mail arrived; dropping repeats by Message-ID leaves each exactly once.
    assert set(ids) == expected_message_ids([incident.pk])
    assert sorted(m["X-Peer-Rcpt"] for m in {m["Message-ID"]: m for m in mails}.values()) == sorted(addresses)
    # The one repeat is the mail in flight at the kill, with the same Message-ID.
    repeats = [mid for mid, n in Counter(ids).items() if n > 1]
    assert repeats == [f"<{row.uid}@muster.localhost>"]
    assert len(ids) == 5
    assert Message.objects.get(pk=row.pk).attempts == 2


def test_killed_during_webhook_delivery_every_delivery_arrives_once_by_delivery_id(
    real_broker, member, team, webhook_peer, tmp_path
):
    Destination.objects.update(active=False)
    hooks = [
        Destination.objects.create(
            name=f"hook {i}",
            channel="webhook",
            webhook_url=f"{webhook_peer.url}hook/{i}",
            webhook_secret="s3",
        )
        for i in range(3)
    ]
    RoutingRule.objects.create(name="Everything to the hooks").destinations.set(hooks)
    webhook_peer.fail_next("*", Fault(delay=8))  # the first delivery is held at the peer
    first = Worker(tmp_path, env=notify_env())
    try:
        incident = declare("Ledger lagging", member=member, team=team)
        assert wait_for(lambda: len(webhook_peer.received()) == 1, 30), first.text()[-3000:]
        first.kill()
    finally:
        first.kill()
    # The whole batch was claimed; none is marked sent. The one at the peer is the one in flight.
    assert statuses([incident.pk]) == Counter({Message.Status.SENDING: 3})
    in_flight = routed([incident.pk]).get(uid=webhook_peer.received()[0].headers["X-Muster-Delivery"])

    with Worker(tmp_path, beat=True, env=notify_env()) as second:
        assert wait_for(all_sent([incident.pk], 3), 60), (statuses([incident.pk]), second.text()[-3000:])
        # The held request is answered at last: the peer accepted it although its sender was killed.
        assert wait_for(lambda: len(webhook_peer.delivered()) == 4, 20)

    deliveries = webhook_peer.delivered()
    ids = [r.headers["X-Muster-Delivery"] for r in deliveries]
    uids = {str(u) for u in routed([incident.pk]).values_list("uid", flat=True)}
    assert set(ids) == uids
    assert [d for d, n in Counter(ids).items() if n > 1] == [str(in_flight.uid)]
    by_id = {r.headers["X-Muster-Delivery"]: r for r in deliveries}
    assert sorted(r.path for r in by_id.values()) == ["/hook/0", "/hook/1", "/hook/2"]
    for record in deliveries:  # every attempt is signed, the repeat included
        mac = hmac.new(
            b"s3", record.headers["X-Muster-Timestamp"].encode() + b"." + record.body, hashlib.sha256
        )
        assert record.headers["X-Muster-Signature"] == "sha256=" + mac.hexdigest()
        assert json.loads(record.body)["incident"]["title"] == "Ledger lagging"


# --- The broker goes away ---------------------------------------------------------------------------


def test_redis_stopped_while_incidents_are_declared_then_back(
    real_broker, member, team, slack_peer, tmp_path
):
    redis = RedisServer(tmp_path).start()
    try:
        with (
            publishing_to(redis.url),
            Worker(tmp_path, beat=True, env=notify_env(slack=slack_peer, REDIS_URL=redis.url)) as worker,
        ):
            before = declare("Before the outage", member=member, team=team, customer_impact=True)
            assert wait_for(all_sent([before.pk], 5), 30), worker.text()[-3000:]

            redis.stop()
            # Declares go on while the broker is down: publishing after commit fails quietly.
            during = [
                declare(f"During the outage {i}", member=member, team=team, customer_impact=True)
                for i in range(3)
            ]
            assert TimelineEvent.objects.filter(incident__in=during, kind="declared").count() == 3
            assert not Message.objects.filter(incident__in=during).exists()  # routing waits for a worker

            redis.start()  # empty: every task published before the outage is gone too
            ids = [i.pk for i in during]
            assert wait_for(all_sent(ids, 15), 90), (statuses(ids), worker.text()[-3000:])
    finally:
        redis.stop()

    posted = posts(slack_peer)
    seen = Counter()
    for incident in [before, *during]:
        for params in posted:
            if incident.title in params["text"]:
                seen[(incident.title, params["channel"])] += 1
    channels = ["#incidents", "#customer-support", "#ce", "#sales", "#marketing"]
    assert seen == Counter({(i.title, c): 1 for i in [before, *during] for c in channels})
    assert len(posted) == 20


# --- Peers that fail, then recover ------------------------------------------------------------------


def test_slack_429_then_500_then_success_is_delivered_once(real_broker, member, team, slack_peer, tmp_path):
    slack_peer.fail_next("chat.postMessage", Fault(status=429, retry_after=3), Fault(status=500))
    with Worker(tmp_path, beat=True, env=notify_env(slack=slack_peer)) as worker:
        incident = declare("Search is slow", member=member, team=team)
        assert wait_for(all_sent([incident.pk], 1), 60), (statuses([incident.pk]), worker.text()[-3000:])

    message = routed([incident.pk]).get()
    assert message.channel == "slack" and message.target == "#incidents"
    assert message.attempts == 3
    assert message.last_error == ""
    tries = [r for r in slack_peer.received("chat.postMessage") if r.params.get("channel") == "#incidents"]
    assert len(tries) == 3
    assert tries[1].at - tries[0].at >= 3  # Retry-After was honoured (plain backoff would be about 2 s)
    delivered = posts(slack_peer)
    assert [(p["channel"], "Search is slow" in p["text"]) for p in delivered] == [("#incidents", True)]
    assert message.external_id  # Slack's ts


def test_smtp_451_then_accepts_is_delivered_once(real_broker, member, team, smtp_peer, tmp_path):
    use_exec_list(["cfo@example.com"])
    smtp_peer.refuse_next(1, "451 4.3.0 Try again later")
    with Worker(tmp_path, beat=True, env=notify_env(smtp=smtp_peer)) as worker:
        incident = declare("Payouts delayed", member=member, team=team, severity="critical")
        assert wait_for(all_sent([incident.pk], 1), 60), (statuses([incident.pk]), worker.text()[-3000:])

    message = routed([incident.pk]).get()
    assert message.attempts == 2
    mails = smtp_peer.received()
    assert message_ids(mails) == [f"<{message.uid}@muster.localhost>"]
    assert mails[0]["X-Peer-Rcpt"] == "cfo@example.com"
    assert "Payouts delayed" in subject(mails[0])
    # One whole mail per recipient: its own To and Message-ID, the plain text and the HTML alternative.
    assert mails[0]["To"] == "cfo@example.com"
    assert mails[0]["X-Muster-Message"] == str(message.uid)
    assert [part.get_content_type() for part in mails[0].walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_smtp_server_down_then_up_is_delivered_once(real_broker, member, team, smtp_peer, tmp_path):
    use_exec_list(["cto@example.com", "coo@example.com"])
    smtp_peer.stop()
    with Worker(tmp_path, beat=True, env=notify_env(smtp=smtp_peer)) as worker:
        incident = declare("Refunds stuck", member=member, team=team, severity="critical")
        assert wait_for(
            lambda: routed([incident.pk]).filter(status=Message.Status.FAILED).count() == 2, 30
        ), (statuses([incident.pk]), worker.text()[-3000:])
        assert "Could not reach the mail server" in routed([incident.pk]).first().last_error
        smtp_peer.start()
        assert wait_for(all_sent([incident.pk], 2), 60), (statuses([incident.pk]), worker.text()[-3000:])

    mails = smtp_peer.received()
    assert sorted(message_ids(mails)) == sorted(expected_message_ids([incident.pk]))
    assert sorted(m["X-Peer-Rcpt"] for m in mails) == ["coo@example.com", "cto@example.com"]
    assert all(m.attempts >= 2 for m in routed([incident.pk]))


# --- Permanent errors end in dead, with the reason shown to the admin -------------------------------


def test_permanent_errors_end_dead_with_reason_shown_in_admin(
    real_broker, member, team, slack_peer, smtp_peer, admin_client, tmp_path
):
    Destination.objects.filter(name="#incidents").update(slack_channel="#missing-incidents")
    use_exec_list(["nobody@example.com"])
    smtp_peer.refuse_next(1, "550 5.1.1 No such user here")
    with Worker(tmp_path, beat=True, env=notify_env(slack=slack_peer, smtp=smtp_peer)) as worker:
        incident = declare("Fraud checks offline", member=member, team=team, severity="critical")
        expected = Counter({Message.Status.DEAD: 2, Message.Status.SENT: 1})  # #general is fine
        assert wait_for(lambda: statuses([incident.pk]) == expected, 30), (
            statuses([incident.pk]),
            worker.text()[-3000:],
        )

    slack_dead = routed([incident.pk]).get(target="#missing-incidents")
    assert slack_dead.status == Message.Status.DEAD and slack_dead.attempts == 1
    assert "channel_not_found" in slack_dead.last_error
    mail_dead = routed([incident.pk]).get(channel="email")
    assert mail_dead.status == Message.Status.DEAD and mail_dead.attempts == 1
    assert "550" in mail_dead.last_error and "No such user here" in mail_dead.last_error
    assert "channel_not_found" in Destination.objects.get(name="#incidents").last_error
    assert smtp_peer.received() == []
    assert [p["channel"] for p in posts(slack_peer)] == ["#general"]

    # The reasons are in the admin's message list, where whoever is on call looks first.
    page = admin_client.get("/admin/notifications/message/", {"status__exact": "dead"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "channel_not_found" in html
    assert "No such user here" in html


# --- Only what commits is sent ----------------------------------------------------------------------


def test_a_rolled_back_transaction_sends_nothing(real_broker, member, team, slack_peer, smtp_peer, tmp_path):
    use_exec_list(["board@example.com"])
    with Worker(tmp_path, beat=True, env=notify_env(slack=slack_peer, smtp=smtp_peer)) as worker:
        with pytest.raises(RuntimeError), transaction.atomic():
            declare("Never happened", member=member, team=team, severity="critical", customer_impact=True)
            raise RuntimeError("the caller changed its mind")
        # An incident that commits afterwards goes through the same worker: once it is delivered, anything the
        # rolled-back one had queued would have been too.
        kept = declare("Did happen", member=member, team=team, severity="critical", customer_impact=True)
        assert wait_for(all_sent([kept.pk], 7), 30), (statuses([kept.pk]), worker.text()[-3000:])

    assert not Incident.objects.filter(title="Never happened").exists()
    assert not Message.objects.filter(body__contains="Never happened").exists()
    assert routed([kept.pk]).count() == 7
    posted = posts(slack_peer)
    assert len(posted) == 6 and all("Did happen" in p["text"] for p in posted)
    mails = smtp_peer.received()
    assert len(mails) == 1 and "Did happen" in subject(mails[0])


# --- A slow batch keeps its lease -------------------------------------------------------------------


def test_a_slow_batch_renews_its_lease_so_no_other_worker_takes_its_rows(slack_peer, settings):
    """Each send may take up to the transport's timeout, so a batch can outlast one lease. Were the lease not
    renewed, the sweeper would hand the rows still waiting in the batch to another worker and both would post
    them (Slack has no delivery id to drop a repeat by). Two workers here: a thread delivering, and this test
    claiming as a second worker would, right after the first lease has run out."""
    settings.NOTIFY_LEASE_SECONDS = 4
    rows = [
        Message.objects.create(
            channel="slack", kind="post", target=f"#lease-{i}", body="x", dedupe_key=f"lease-{i}"
        )
        for i in range(3)
    ]
    ids = [m.pk for m in rows]
    slack_peer.fail_next("chat.postMessage", *[Fault(delay=1.5)] * 3)  # three slow but successful posts
    outcome: dict = {}

    def deliver() -> None:
        try:
            outcome.update(outbox.messages_deliver(message_ids=ids))
        finally:
            connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    try:
        assert wait_for(lambda: len(slack_peer.received("chat.postMessage")) == 1, 10)
        first_lease = Message.objects.get(pk=ids[0]).lease_until
        assert wait_for(lambda: len(slack_peer.received("chat.postMessage")) == 3, 10)
        time.sleep(max(0.0, (first_lease - timezone.now()).total_seconds() + 0.3))
        assert outbox.messages_claim(message_ids=ids) == []  # a second worker finds nothing to take
    finally:
        worker.join(15)
    assert outcome == {Message.Status.SENT: 3}
    assert Counter(Message.objects.filter(pk__in=ids).values_list("status", "attempts")) == Counter(
        {(Message.Status.SENT, 1): 3}
    )
    assert sorted(p["channel"] for p in slack_peer.delivered("chat.postMessage")) == [
        "#lease-0",
        "#lease-1",
        "#lease-2",
    ]
