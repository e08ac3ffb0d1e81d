"""Timeline consumers, in-process: registered per kind, run once per (event, consumer), retried, swept."""

from datetime import timedelta

import pytest
from celery import current_app as celery_app  # the project's app (config), without importing the top
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from incidents import consumers, services, tasks
from incidents.models import ConsumerRun, TimelineEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _only_test_consumers(monkeypatch):
    """The wings' own consumers (notifications, on-call ...) stay out of these tests of the mechanism."""
    monkeypatch.setattr(consumers, "_registry", {})


@pytest.fixture
def seen():
    """Register a consumer of 'declared' and 'status_changed' that records what it saw."""
    calls: list[tuple[int, str]] = []

    def handler(event):
        calls.append((event.pk, event.kind))

    consumers.register("test.recorder", kinds={"declared", "status_changed"}, handler=handler)
    yield calls
    consumers.unregister("test.recorder")


@pytest.fixture
def flaky():
    """A consumer that fails its first two attempts."""
    state = {"calls": 0}

    def handler(event):
        state["calls"] += 1
        if state["calls"] <= 2:
            raise ConnectionError("peer unavailable")

    consumers.register("test.flaky", kinds={"declared"}, handler=handler)
    yield state
    consumers.unregister("test.flaky")


def test_consumer_runs_once_after_commit(seen, member, team):
    incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
    declared = TimelineEvent.objects.get(incident=incident, kind="declared")
    assert seen == [(declared.pk, "declared")]
    run = ConsumerRun.objects.get(event=declared, consumer="test.recorder")
    assert run.status == "done" and run.attempts == 1 and run.finished_at is not None
    # Kinds the consumer did not ask for get no run.
    note = services.incident_add_note(incident=incident, text="hi", actor=member)
    assert not ConsumerRun.objects.filter(event=note).exists()
    # Dispatching again (a duplicate broker message) does not run it twice.
    tasks.dispatch_timeline_event(declared.pk)
    tasks.dispatch_timeline_event(declared.pk)
    assert seen == [(declared.pk, "declared")]


def test_nothing_is_dispatched_before_commit_or_after_rollback(seen, member, team):
    with transaction.atomic():
        services.incident_declare(title="x", severity="major", actor=member, team=team)
        assert seen == []  # not yet: the transaction has not committed
    assert len(seen) == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        services.incident_declare(title="rolled back", severity="major", actor=member, team=team)
        raise RuntimeError
    assert len(seen) == 1
    assert not ConsumerRun.objects.filter(event__incident__title="rolled back").exists()


def test_failing_consumer_is_retried_with_backoff_then_succeeds(flaky, member, team):
    incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
    run = ConsumerRun.objects.get(event__incident=incident, consumer="test.flaky")
    assert run.status == "pending" and run.attempts == 1
    assert "ConnectionError: peer unavailable" in run.last_error
    assert run.next_attempt_at > timezone.now()
    # Not due yet: the sweeper leaves it alone.
    tasks.sweep_timeline_consumers()
    run.refresh_from_db()
    assert run.attempts == 1
    # Due: the sweeper re-dispatches; it fails once more, then succeeds.
    for expected_attempts in (2, 3):
        ConsumerRun.objects.filter(pk=run.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        tasks.sweep_timeline_consumers()
        run.refresh_from_db()
        assert run.attempts == expected_attempts
    assert run.status == "done" and run.last_error == ""
    assert flaky["calls"] == 3


@override_settings(TIMELINE_CONSUMER_MAX_ATTEMPTS=2)
def test_consumer_gives_up_after_max_attempts_and_can_be_retried(member, team):
    calls = []

    def broken(event):
        calls.append(event.pk)
        raise ValueError("template missing")

    consumers.register("test.broken", kinds={"declared"}, handler=broken)
    try:
        incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
        run = ConsumerRun.objects.get(event__incident=incident, consumer="test.broken")
        ConsumerRun.objects.filter(pk=run.pk).update(next_attempt_at=timezone.now())
        tasks.sweep_timeline_consumers()
        run.refresh_from_db()
        assert run.status == "failed" and run.attempts == 2 and "template missing" in run.last_error
        tasks.sweep_timeline_consumers()
        assert len(calls) == 2  # failed runs are not swept
        services.consumer_run_retry(run_id=run.pk)
        run.refresh_from_db()
        assert run.attempts == 1 and len(calls) == 3
    finally:
        consumers.unregister("test.broken")


def test_consumer_writes_roll_back_with_a_failure(member, team):
    """A handler that writes then raises leaves no half-done reaction behind."""

    def half(event):
        services.timeline_record(incident=event.incident, kind="note_added", text="half done")
        raise RuntimeError("after the write")

    consumers.register("test.half", kinds={"declared"}, handler=half)
    try:
        incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
        assert not TimelineEvent.objects.filter(incident=incident, text="half done").exists()
        assert ConsumerRun.objects.get(consumer="test.half").status == "pending"
    finally:
        consumers.unregister("test.half")


def test_sweeper_dispatches_runs_whose_message_was_lost(seen, member, team, settings):
    """With the broker message lost (never consumed), the sweeper delivers the reaction after the grace period."""
    settings.TIMELINE_CONSUMER_GRACE_SECONDS = 30
    celery_app.conf.task_always_eager = False  # messages go to the in-memory broker and are never consumed
    try:
        incident = services.incident_declare(title="lost", severity="major", actor=member, team=team)
    finally:
        celery_app.conf.task_always_eager = True
    assert seen == []
    run = ConsumerRun.objects.get(event__incident=incident)
    assert tasks.sweep_timeline_consumers() == 0  # still within the grace period
    ConsumerRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert tasks.sweep_timeline_consumers() == 1
    run.refresh_from_db()
    assert run.status == "done" and len(seen) == 1


def test_broker_outage_does_not_fail_the_declare(seen, member, team, monkeypatch):
    """If the broker cannot be reached after commit, the declare still succeeds; the run waits for the sweeper."""

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("redis down")

    monkeypatch.setattr(tasks.dispatch_timeline_event, "delay", refuse)
    incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
    assert ConsumerRun.objects.get(event__incident=incident).status == "pending"


def test_unknown_consumer_run_fails_with_reason(member, team):
    consumers.register("test.gone", kinds={"declared"}, handler=lambda e: None)
    celery_app.conf.task_always_eager = False
    try:
        incident = services.incident_declare(title="x", severity="major", actor=member, team=team)
    finally:
        celery_app.conf.task_always_eager = True
        consumers.unregister("test.gone")
    run = ConsumerRun.objects.get(event__incident=incident, consumer="test.gone")
    assert services.consumer_run_execute(run_id=run.pk) == "failed"
    run.refresh_from_db()
    assert "No consumer named 'test.gone'" in run.last_error


def test_registry_refuses_a_second_handler_under_one_name():
    consumers.register("test.dup", kinds=None, handler=print)
    try:
        consumers.register("test.dup", kinds=None, handler=print)  # same handler: idempotent
        with pytest.raises(ValueError, match="already registered"):
            consumers.register("test.dup", kinds=None, handler=repr)
        assert consumers.get("test.dup").wants("anything")
    finally:
        consumers.unregister("test.dup")
