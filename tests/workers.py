"""A real Celery worker (and, when a test needs one, its own Redis) as subprocesses of the test process.

Used by the tests marked ``worker``: they run against the test database in PostgreSQL and a real Redis broker,
so what they check (a killed worker, a broker outage, redelivery) happens as it would in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

needs_worker_stack = pytest.mark.skipif(
    not (settings.REDIS_URL and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")),
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: a worker process must share the test database",
)


def database_url() -> str:
    """The URL of the database this test process uses (the test database), for a worker to share."""
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    """``celery -A config worker --pool=solo`` on the test database, in its own process group.

    ``env`` adds to (or overrides) the defaults below; ``beat`` embeds the beat scheduler so the sweepers run.
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        beat: bool = False,
        probe_sleep: float = 30,
        env: dict[str, str] | None = None,
        ready_timeout: float = 60,
    ):
        self.log = tmp_path / f"worker-{time.monotonic_ns()}.log"
        full_env = os.environ | {
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MUSTER_PLUGINS": "tests.consumer_plugin",
            "DEBUG": "1",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CONSUMER_SWEEP_SECONDS": "1",
            "TIMELINE_CONSUMER_GRACE_SECONDS": "2",
            "PROBE_SLEEP": str(probe_sleep),
            "PYTHONUNBUFFERED": "1",
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",  # the peers listen on loopback
            # The project's settings, as in production (not the test suite's, which add the test wing).
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        full_env |= env or {}
        full_env.pop("PYTEST_CURRENT_TEST", None)
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if beat:
            cmd += ["--beat", "--schedule", str(tmp_path / f"beat-schedule-{time.monotonic_ns()}")]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=full_env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for_log("ready", timeout=ready_timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

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

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class RedisServer:
    """A private ``redis-server`` on a free port, with no persistence: stopping it loses every queued task,
    the worst case a broker outage can bring. Never the shared Redis."""

    def __init__(self, tmp_path: Path, port: int = 0):
        self.port = port or free_port()
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = (self.tmp_path / f"redis-{self.port}.log").open("a")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.tmp_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_until(self.answers, 10, f"redis-server on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@contextlib.contextmanager
def publishing_to(url: str):
    """Make this process's Celery app publish to the broker at ``url`` (and back to the usual one after)."""
    from config import celery_app

    def reset_pools() -> None:
        # Forget the pools bound to the old URL (kombu keeps them, keyed by connection, for the way back).
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    reset_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = previous
        reset_pools()


def terminate_other_sessions() -> None:
    """A killed worker's server session can outlive it for a moment; end it so the test database can be dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")
