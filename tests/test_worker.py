"""Timeline consumers with a real Celery worker, real Redis and real PostgreSQL.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (``.ci/run`` sets both).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config import celery_app
from incidents import consumers, services
from incidents.models import ConsumerRun, TimelineEvent
from tests.consumer_plugin.apps import PROBE, register_probe

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (settings.REDIS_URL and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")),
        reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: a worker process must share the test database",
    ),
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    def __init__(self, tmp_path: Path, *, beat: bool = False, probe_sleep: float = 30):
        self.log = tmp_path / f"worker-{time.monotonic_ns()}.log"
        env = os.environ | {
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MUSTER_PLUGINS": "tests.consumer_plugin",
            "DEBUG": "1",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CONSUMER_SWEEP_SECONDS": "1",
            "TIMELINE_CONSUMER_GRACE_SECONDS": "2",
            "PROBE_SLEEP": str(probe_sleep),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PYTEST_CURRENT_TEST", None)
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if beat:
            cmd += ["--beat", "--schedule", str(tmp_path / "beat-schedule")]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for_log("ready", timeout=60)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker never logged {needle!r}:\n{self.text()[-4000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def real_broker():
    """Publish to Redis for real, with the probe consumer registered here as in the worker."""
    register_probe()
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    yield
    celery_app.conf.task_always_eager = True
    consumers.unregister(PROBE)
    # A killed worker's server session can outlive it for a moment; end it so the test database can be dropped.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


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
            lambda: ConsumerRun.objects.filter(event__incident_id__in=ids, status="done").count() == 20,
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
