"""Timeline consumers with a real Celery worker, real Redis and real PostgreSQL.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (``.ci/run`` sets both).
"""

import os
import time

import pytest

from config import celery_app
from incidents import consumers, services
from incidents.models import ConsumerRun, TimelineEvent
from tests.consumer_plugin.apps import PROBE, register_probe
from tests.workers import Worker, needs_worker_stack, terminate_other_sessions, wait_until

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    needs_worker_stack,
]


@pytest.fixture
def real_broker():
    """Publish to Redis for real, with the probe consumer registered here as in the worker."""
    register_probe()
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
    consumers.unregister(PROBE)
    terminate_other_sessions()


def probe_notes(incident_ids) -> int:
    return TimelineEvent.objects.filter(
        incident_id__in=incident_ids, kind="note_added", data__has_key="probe_event"
    ).count()


def test_worker_runs_each_consumer_once(real_broker, member, team, tmp_path):
    worker = Worker(tmp_path)
    try:
        ids = [
            services.incident_declare(
                title=f"Checkout errors {i}", severity="major", actor=member, team=team
            ).pk
            for i in range(20)
        ]
        wait_until(
            lambda: (
                ConsumerRun.objects.filter(event__incident_id__in=ids, consumer=PROBE, status="done").count()
                == 20
            ),
            60,
            "the worker to finish 20 consumer runs",
        )
        assert probe_notes(ids) == 20
        # Every note names the worker's pid, not ours: the reaction ran in the worker.
        notes = TimelineEvent.objects.filter(incident_id__in=ids, kind="note_added")
        assert all(f"pid {os.getpid()}" not in n.text for n in notes)
        # A duplicate message for an event whose consumers are done changes nothing.
        event = TimelineEvent.objects.filter(incident_id=ids[0], kind="declared").get()
        from incidents.tasks import dispatch_timeline_event

        dispatch_timeline_event.delay(event.pk)
        time.sleep(2)
        assert probe_notes(ids) == 20
    finally:
        worker.stop()


def test_killed_worker_neither_loses_nor_duplicates(real_broker, member, team, tmp_path):
    first = Worker(tmp_path, probe_sleep=30)
    try:
        incident = services.incident_declare(title="slow consumer", severity="major", actor=member, team=team)
        first.wait_for_log("incidents.tasks.dispatch_timeline_event", timeout=30)
        time.sleep(1.5)  # the worker is now inside the probe's sleep, holding the run's row lock
        first.kill()
    finally:
        first.kill()
    run = ConsumerRun.objects.get(event__incident=incident, consumer=PROBE)
    assert run.status == "pending", "the killed worker's transaction must have rolled back"
    assert probe_notes([incident.pk]) == 0

    # A new worker with beat: the sweeper (or the broker's redelivery) finishes the run, exactly once.
    second = Worker(tmp_path, beat=True, probe_sleep=0)
    try:
        wait_until(
            lambda: ConsumerRun.objects.get(pk=run.pk).status == "done", 90, "the run to be re-dispatched"
        )
        time.sleep(6)  # let any redelivered duplicate message arrive too
        assert probe_notes([incident.pk]) == 1
    finally:
        second.stop()
