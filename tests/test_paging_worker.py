"""Escalation with a real Celery worker, real Redis and real PostgreSQL.

A page's next step is woken by a Celery countdown carrying the page's wake token, and a beat sweeper catches lost
wake-ups. These tests check, with a worker subprocess (``tests.workers.Worker``) and a webhook receiver in this
process standing in for an SMS provider, that an unacknowledged page escalates on time, that acknowledging stops it,
and that neither a SIGKILLed worker nor a Redis restart (a private ``redis-server``, never the shared one) loses or
repeats a step. A "minute" lasts one second here (``ONCALL_MINUTE_SECONDS=1``).

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter

import pytest

from config import celery_app
from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications.models import Destination, RoutingRule
from paging import services as paging_services
from paging.models import Page, PageStep
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.peers import wait_for
from tests.workers import RedisServer, Worker, needs_worker_stack, publishing_to, terminate_other_sessions

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), needs_worker_stack]

FAST = {
    "ONCALL_MINUTE_SECONDS": "1",
    "ONCALL_SWEEP_SECONDS": "1",
    "ONCALL_SWEEP_GRACE_SECONDS": "2",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "NOTIFY_LEASE_SECONDS": "4",
    "NOTIFY_GRACE_SECONDS": "2",
    "NOTIFY_SWEEP_SECONDS": "1",
    "CONSUMER_SWEEP_SECONDS": "1",
    "TIMELINE_CONSUMER_GRACE_SECONDS": "2",
    "NOTIFY_REMINDER_SECONDS": "3600",
    "MUSTER_PLUGINS": "",
    "SLACK_BOT_TOKEN": "",
    "SLACK_INCIDENT_CHANNELS": "0",
    "EMAIL_URL": "consolemail://",
    "NOTIFY_EMAIL": "0",
}


@pytest.fixture
def real_broker(settings):
    settings.ONCALL_MINUTE_SECONDS = 1  # this process computes the first step's due time
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
    terminate_other_sessions()


@pytest.fixture
def setup(team, member, webhook_peer):
    """A team with a two-step policy (a person, then the whole team), paging webhooks to the peer, an incident."""
    lead = MembershipFactory(team=team, user=UserFactory(username="lena"), role=Membership.Role.LEAD).user
    hook = Destination.objects.create(
        name="SMS provider", channel="webhook", webhook_url=webhook_peer.url + "page"
    )
    RoutingRule.objects.create(name="Pages to SMS", team=team, event_kinds=["paged"]).destinations.add(hook)
    incident = incident_services.incident_declare(
        title="Checkout is down", severity="critical", actor=member, team=team
    )
    return {"lead": lead, "incident": incident, "peer": webhook_peer}


def make_policy(team, lead, *, waits=(2, 2), repeat=0):
    steps = [{"target": "user", "user": "lena", "wait_minutes": waits[0]}]
    steps += [{"target": "team", "wait_minutes": w} for w in waits[1:]]
    return paging_services.escalation_policy_create(
        team=team, name="Default", actor=lead, is_default=True, repeat=repeat, steps=steps
    )


def steps_of(page: Page) -> list[tuple[int, int]]:
    return list(PageStep.objects.filter(page=page).order_by("notified_at").values_list("round", "step"))


def status_is(page: Page, status: str):
    return lambda: Page.objects.get(pk=page.pk).status == status


def assert_each_step_once(page: Page, peer, expected: list[tuple[int, int]]) -> None:
    """Each step once in the database, on the timeline, and at the webhook receiver (which may see the same
    delivery id twice only if a worker died between its 200 and the sent mark; none is killed mid-delivery here)."""
    assert steps_of(page) == expected
    events = TimelineEvent.objects.filter(incident=page.incident, kind="paged", data__page=page.pk)
    assert Counter((e.data["round"], e.data["step"]) for e in events) == Counter(expected)
    assert wait_for(lambda: len(peer.delivered()) >= len(expected), 30)
    time.sleep(2)  # anything duplicated would arrive now
    bodies = [json.loads(r.body) for r in peer.delivered()]
    assert Counter((b["page"]["round"], b["page"]["step"]) for b in bodies) == Counter(expected)
    assert len({r.headers["X-Muster-Delivery"] for r in peer.delivered()}) == len(expected)


def test_unacknowledged_page_escalates_on_time(real_broker, team, member, setup, tmp_path):
    make_policy(team, setup["lead"], waits=(2, 3), repeat=1)
    with Worker(tmp_path, env=FAST) as worker:  # no beat: the countdowns alone
        page = paging_services.page_create(incident=setup["incident"], team=team, actor=member)
        assert wait_for(status_is(page, Page.Status.EXHAUSTED), 40), worker.text()[-3000:]
    rows = list(PageStep.objects.filter(page=page).order_by("notified_at"))
    assert [(r.round, r.step) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    gaps = [(b.notified_at - a.notified_at).total_seconds() for a, b in itertools.pairwise(rows)]
    for gap, wait in zip(gaps, (2, 3, 2), strict=True):
        assert wait - 0.3 <= gap < wait + 2.5, gaps  # on time: not early, not waiting for a sweeper
    page.refresh_from_db()
    assert (page.finished_at - rows[-1].notified_at).total_seconds() >= 3 - 0.3
    assert rows[0].notified == [setup["lead"].pk]
    assert sorted(rows[1].notified) == sorted([member.pk, setup["lead"].pk])
    assert TimelineEvent.objects.filter(incident=page.incident, kind="page_exhausted").count() == 1
    assert_each_step_once(page, setup["peer"], [(0, 0), (0, 1), (1, 0), (1, 1)])


def test_acknowledge_stops_escalation(real_broker, team, member, setup, tmp_path):
    make_policy(team, setup["lead"], waits=(3, 3))
    with Worker(tmp_path, beat=True, env=FAST) as worker:
        page = paging_services.page_create(incident=setup["incident"], team=team, actor=member)
        worker.wait_for_log("paging.tasks.page_wake", timeout=10)
        paging_services.page_acknowledge(page=page, actor=setup["lead"], source="api")
        worker.wait_for_log("'stale'", timeout=15)  # the wake-up came, and was refused
        time.sleep(3)  # sweeps run every second
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED
    assert_each_step_once(page, setup["peer"], [(0, 0)])


def test_killed_worker_neither_loses_nor_duplicates_a_step(real_broker, team, member, setup, tmp_path):
    make_policy(team, setup["lead"], waits=(3, 2))
    first = Worker(tmp_path, env=FAST)
    try:
        page = paging_services.page_create(incident=setup["incident"], team=team, actor=member)
        first.wait_for_log(
            "paging.tasks.page_wake", timeout=10
        )  # the worker holds the wake-up (its ETA is ahead)
        first.kill()
    finally:
        first.kill()
    assert steps_of(page) == [(0, 0)]
    time.sleep(3)  # the step is due now; nobody runs it
    assert steps_of(page) == [(0, 0)]
    with Worker(tmp_path, beat=True, env=FAST) as second:
        assert wait_for(status_is(page, Page.Status.EXHAUSTED), 60), second.text()[-3000:]
        time.sleep(
            6
        )  # the killed worker's message comes back after the visibility timeout: it must change nothing
    assert TimelineEvent.objects.filter(incident=page.incident, kind="page_exhausted").count() == 1
    assert_each_step_once(page, setup["peer"], [(0, 0), (0, 1)])


def test_redis_restart_neither_loses_nor_duplicates_a_step(real_broker, team, member, setup, tmp_path):
    make_policy(team, setup["lead"], waits=(3, 2))
    redis = RedisServer(tmp_path).start()
    try:
        with (
            publishing_to(redis.url),
            Worker(tmp_path, beat=True, env=FAST | {"REDIS_URL": redis.url}) as worker,
        ):
            page = paging_services.page_create(incident=setup["incident"], team=team, actor=member)
            worker.wait_for_log("paging.tasks.page_wake", timeout=10)
            redis.stop()  # no persistence: every queued task is gone
            time.sleep(4)  # the step falls due during the outage
            redis.start()
            assert wait_for(status_is(page, Page.Status.EXHAUSTED), 90), worker.text()[-3000:]
            time.sleep(6)
    finally:
        redis.stop()
    assert TimelineEvent.objects.filter(incident=page.incident, kind="page_exhausted").count() == 1
    assert_each_step_once(page, setup["peer"], [(0, 0), (0, 1)])
