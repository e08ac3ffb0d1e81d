"""Shared bricks of Muster's benchmarks: a throw-away database, Django in-process, gunicorn, numbers.

The benchmarks are scripts, never tests. Each one owns its database (dropped and recreated), talks only to
127.0.0.1, and always stops the gunicorn it started.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


class BenchError(RuntimeError):
    """A benchmark could not run (bad setup, server did not start, missing endpoint)."""


# --- Database -------------------------------------------------------------------------------------


def add_server_arguments(
    parser, *, database_env: str, default_database_url: str, workers: int, threads: int, max_seconds: float
) -> None:
    """The options both benchmarks share: gunicorn, the database, waiting for a quiet machine, time limits."""
    parser.add_argument(
        "-w", "--workers", type=int, default=workers, help=f"gunicorn workers (default {workers})"
    )
    parser.add_argument(
        "-t", "--threads", type=int, default=threads, help=f"gunicorn threads per worker (default {threads})"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the machine to be idle (a shared machine skews the numbers)",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(database_env, default_database_url),
        help=f"database to DROP and recreate (default {default_database_url}; env {database_env})",
    )
    parser.add_argument(
        "--force-drop", action="store_true", help="drop the database even if not named *bench*"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=max_seconds, help=f"stop after this long ({max_seconds:g})"
    )
    parser.add_argument("--timeout", type=float, default=30, help="per-request timeout in seconds (30)")


def prepare_database(url: str, *, force: bool = False, keep: bool = False) -> str:
    """Drop and recreate the benchmark database (only create it when missing if ``keep``); return its URL.

    Only a local database is touched, and only one whose name says it is a benchmark's (``*bench*``), unless
    ``force``. SQLite works but measures SQLite's single writer, not Muster: a warning says so.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme.startswith("postgres"):
        name = unquote(parsed.path.lstrip("/"))
        if parsed.hostname not in LOCAL_HOSTS:
            raise BenchError(
                f"Refusing to drop a database on {parsed.hostname!r}: benchmarks stay on 127.0.0.1."
            )
        if not name or ("bench" not in name and not force):
            raise BenchError(
                f"Refusing to drop database {name!r}: its name must contain 'bench' (or pass --force-drop)."
            )
        import psycopg
        from psycopg import sql

        admin = parsed._replace(path="/postgres").geturl()
        admin = admin.replace("postgresql+psycopg://", "postgresql://").replace(
            "postgres://", "postgresql://"
        )
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
                if exists and keep:
                    return url
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.OperationalError as exc:
            raise BenchError(
                f"Cannot reach PostgreSQL at {parsed.hostname}:{parsed.port or 5432}: {exc}"
            ) from exc
        return url
    if scheme == "sqlite":
        warnings.warn(
            "SQLite has one writer at a time: these numbers measure SQLite's lock, not Muster. "
            "Use PostgreSQL for numbers worth comparing.",
            stacklevel=2,
        )
        path = Path(unquote(parsed.path)) if parsed.path not in ("", "/") else None
        if path is None or str(path) == ":memory:":
            raise BenchError(
                "SQLite needs a file the server processes can share, e.g. sqlite:////tmp/muster_bench.db"
            )
        if "bench" not in path.name and not force:
            raise BenchError(
                f"Refusing to delete {path}: its name must contain 'bench' (or pass --force-drop)."
            )
        if keep and path.exists():
            return url
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return url
    raise BenchError(f"Unsupported database URL scheme {scheme!r} (use postgres:// or sqlite:///).")


def bench_env(*, database_url: str, redis_url: str = "", plugins: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of the benchmark's Django: production settings (DEBUG off) on the bench database."""
    if redis_url and urlparse(redis_url).hostname not in LOCAL_HOSTS:
        raise BenchError("--redis-url must point at 127.0.0.1: benchmarks stay on this machine.")
    env = {
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0" if redis_url else "1",
        "MUSTER_PLUGINS": ",".join(plugins),
    }
    return env


def setup_django(env: dict[str, str]) -> None:
    """Start Django in this process on the bench database (settings are read once, from the environment)."""
    os.environ.update(env)
    # WhiteNoise warns when collectstatic has not run; the benchmarks that need static files run it.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    import django

    django.setup()


def migrate() -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    return time.perf_counter() - started


def create_token(username: str) -> str:
    """The project's own way to get a token: ``manage.py createapitoken USERNAME``."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("createapitoken", username, stdout=out)
    return out.getvalue().strip()


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
    return connection.vendor


def postgres_max_connections() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        return int(cursor.fetchone()[0])


# --- Gunicorn -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn_bin() -> str:
    for candidate in (Path(sys.executable).parent / "gunicorn", REPO / ".venv" / "bin" / "gunicorn"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("gunicorn")
    if not found:
        raise BenchError("gunicorn not found: run `make install` first.")
    return found


class Gunicorn:
    """``gunicorn config.wsgi`` on 127.0.0.1, in its own process group; ``stop()`` always ends it."""

    def __init__(self, *, env: dict[str, str], workers: int, threads: int, port: int = 0):
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Kept open for the server's lifetime (closed in stop()); kept on disk for a post-mortem.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="muster-bench-gunicorn-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen | None = None
        self.keep_log = False  # set when something went wrong: the log stays on disk for a post-mortem

    @property
    def command(self) -> list[str]:
        return [
            _gunicorn_bin(),
            "config.wsgi",
            "-w",
            str(self.workers),
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--graceful-timeout",
            "5",
            "--timeout",
            "60",
        ]

    def start(self, *, ready_timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            self.command,
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_healthy(timeout=ready_timeout)

    def wait_healthy(self, *, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(f"{self.base_url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = exc.__class__.__name__
            time.sleep(0.2)
        raise BenchError(
            f"gunicorn did not answer /healthz within {timeout:.0f}s ({last}):\n{self.log_tail()}"
        )

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the master), for a profiler to attach to."""
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def last_error(self) -> str:
        """The last exception line the server logged (e.g. the cause of a 500), or ''."""
        lines = [
            line
            for line in self.log_tail(400).splitlines()
            if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)
        ]
        return lines[-1] if lines else ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = Path(self.log.name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the master (graceful), then SIGKILL to its process group if it lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is not None:
            self.keep_log = True
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        finally:
            self.log.close()
            if self.keep_log:
                print(f"  gunicorn log kept: {self.log.name}", file=sys.stderr)
            else:
                Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- CPU: who burns the machine's cores during a run ---------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0 when it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def wait_for_quiet(max_wait: float, *, threshold: float = 0.15, window: float = 5.0) -> float:
    """Wait (up to ``max_wait`` seconds) for a ``window`` in which the machine is less than ``threshold`` busy.

    On a shared machine (CI runners, a laptop with a browser open) this keeps a neighbour's burst out of the
    numbers. Returns the share of the machine that was busy in the last window.
    """
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    while True:
        before = _machine_busy_seconds()
        time.sleep(window)
        busy = (_machine_busy_seconds() - before) / window / cores
        if busy < threshold or time.monotonic() >= deadline:
            return busy


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used by groups of processes between ``start()`` and ``stop()`` (Linux only).

    On a small machine the load generator, the app and the database share the cores: this says how they split,
    and ``other`` says how much the rest of the machine (other processes) took meanwhile: a busy neighbour makes
    the numbers worse, and the report shows it.
    """

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups  # name -> function returning the pids now
        self.before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}
        self.wall = 0.0

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self.before = self._snapshot()
        self._busy = _machine_busy_seconds()
        self._started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        self.wall = time.perf_counter() - self._started
        after = self._snapshot()
        for name, now in after.items():
            # A process born during the run counts from zero; one that died is lost (rare: persistent conns).
            self.used[name] = sum(cpu - self.before[name].get(pid, 0.0) for pid, cpu in now.items())
        busy = _machine_busy_seconds() - self._busy
        self.used["other"] = max(0.0, busy - sum(self.used.values()))
        return self.used

    def busy_neighbours(self, threshold: float = 0.15) -> bool:
        """Did other processes take more than ``threshold`` of the machine during the run?"""
        cores = os.cpu_count() or 1
        return bool(self.wall) and self.used.get("other", 0.0) / self.wall / cores > threshold

    def report(self, per: int | None = None, unit: str = "request") -> str:
        cores = os.cpu_count() or 1
        parts = []
        for name, seconds in self.used.items():
            text = f"{name} {seconds:.1f}s ({seconds / self.wall / cores * 100:.0f}% of {cores} cores)"
            if per and name != "other":
                text += f" = {seconds / per * 1000:.2f} ms/{unit}"
            parts.append(text)
        return "; ".join(parts)


# --- Numbers --------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every value reported was measured)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else math.nan,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else math.nan,
    }


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def save_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
