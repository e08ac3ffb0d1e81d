"""Benchmark: how many incidents per second can Muster declare through its API?

Sets up its own database (dropped and recreated), migrates, creates a user, a team and an API token, starts
Muster under gunicorn with DEBUG off, declares N incidents with C concurrent clients through
``POST /api/v1/incidents/``, then checks that the database holds exactly N incidents and N ``declared``
timeline events. Reports throughput, latency percentiles, errors and the SQL statements one declare costs.

    .venv/bin/python bench/declare.py                      # PostgreSQL muster_bench, 2000 declares, 16 clients
    .venv/bin/python bench/declare.py -n 5000 -c 32 -w 4 -t 8
    .venv/bin/python bench/declare.py --redis-url redis://127.0.0.1:6379/15   # include the after-commit publish
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import (
    DEFAULT_DATABASE_URL,
    RESULTS,
    BenchError,
    CpuMeter,
    Gunicorn,
    add_server_arguments,
    bench_env,
    create_token,
    database_version,
    latency_summary,
    machine_info,
    migrate,
    pids_named,
    postgres_max_connections,
    prepare_database,
    print_table,
    save_results,
    setup_django,
    wait_for_quiet,
)

SEVERITIES = ("critical", "major", "minor")
USERNAME = "bench"
TEAM_SLUG = "bench-team"
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def parse_args(argv=None) -> argparse.Namespace:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", "--requests", type=int, default=2000, help="incidents to declare (default 2000)"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    add_server_arguments(
        parser,
        database_env="BENCH_DATABASE_URL",
        default_database_url=DEFAULT_DATABASE_URL,
        workers=max(2, cpus),
        threads=4,
        max_seconds=300,
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="Celery broker: the after-commit publish goes to Redis (default: none, tasks run in-process)",
    )
    parser.add_argument(
        "--noop-consumer",
        action="store_true",
        help="register a do-nothing timeline consumer for 'declared' (bench/noop_consumer.py): each declare then "
        "writes a consumer run and publishes a Celery task after commit, as it will once the wings register theirs",
    )
    parser.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip the GET /healthz run that shows the machine's ceiling",
    )
    parser.add_argument("--show-sql", action="store_true", help="print the SQL statements of one declare")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="afterwards, time K declares in-process on one thread (wall, CPU, SQL time) and, when pyinstrument "
        "is installed (`.venv/bin/pip install pyinstrument`), print where the time goes",
    )
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a what-if PostgreSQL setting for the bench database only (ALTER DATABASE ... SET), "
        "e.g. synchronous_commit=off; repeatable",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 1_000_000:
        parser.error("--requests must be between 1 and 1,000,000")
    if not 1 <= args.concurrency <= 1024:
        parser.error("--concurrency must be between 1 and 1024")
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    return args


def setup_actor() -> tuple[object, str]:
    """A plain (non-admin) user, member of one team, with an API token."""
    from django.contrib.auth import get_user_model

    from teams.models import Membership, Team

    user = get_user_model().objects.create_user(USERNAME, f"{USERNAME}@example.com", "bench-password")
    team = Team.objects.create(name="Bench team", slug=TEAM_SLUG)
    Membership.objects.create(team=team, user=user, role=Membership.Role.MEMBER)
    return user, create_token(USERNAME)


def payload(i: int) -> dict:
    return {
        "title": f"Bench incident {i}: checkout latency above SLO",
        "summary": "p99 latency of the checkout API is above 2s in eu-west-1; error rate 3%.",
        "severity": SEVERITIES[i % len(SEVERITIES)],
        "team": TEAM_SLUG,
        "customer_impact": i % 2 == 0,
        "private": i % 10 == 0,
    }


def run_load(
    base_url: str,
    token: str,
    send,
    *,
    n: int,
    concurrency: int,
    max_seconds: float,
    timeout: float,
    meter: CpuMeter,
) -> dict:
    """C client threads share one keep-alive connection pool and pull request numbers from one counter until N
    are sent or time is up; ``send(client, i)`` makes request ``i`` and returns ``(id_or_None, error_or_None)``.

    (Threads with httpx.Client cost about a third of the client CPU of httpx.AsyncClient, which matters when the
    load generator shares the machine's cores with the server.)"""
    import httpx

    latencies: list[float] = []
    errors: list[tuple[int, str]] = []
    ids: list[int] = []
    counter = itertools.count()
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def worker() -> None:
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= n:
                return
            started = time.perf_counter()
            try:
                new_id, error = send(client, i)
            except httpx.HTTPError as exc:
                new_id, error = None, f"{exc.__class__.__name__}: {exc}"
            latencies.append(time.perf_counter() - started)
            if error:
                errors.append((i, error))
            elif new_id is not None:
                ids.append(new_id)

    with (
        httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=timeout) as client,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool,
    ):
        # Warm every worker up with reads (they add no incidents): imports and first connections are not timed.
        list(pool.map(lambda _: client.get("/api/v1/incidents/?page_size=1"), range(concurrency * 2)))
        meter.start()
        started = time.perf_counter()
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
        elapsed = time.perf_counter() - started
        meter.stop()
    return {"latencies": latencies, "errors": errors, "ids": ids, "elapsed": elapsed, "sent": len(latencies)}


def send_declare(client, i: int) -> tuple[int | None, str | None]:
    response = client.post("/api/v1/incidents/", json=payload(i))
    if response.status_code == 201:
        return response.json()["id"], None
    return None, f"HTTP {response.status_code}: {response.text[:300]}"


def send_healthz(client, i: int) -> tuple[None, str | None]:
    response = client.get("/healthz")
    return None, None if response.status_code == 200 else f"HTTP {response.status_code}"


def check_endpoint(base_url: str, token: str) -> None:
    import httpx

    response = httpx.get(
        f"{base_url}/api/v1/incidents/?page_size=1", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    if response.status_code == 404:
        raise BenchError("GET /api/v1/incidents/ answers 404: the incidents API is not there yet.")
    if response.status_code != 200:
        raise BenchError(f"GET /api/v1/incidents/ answers {response.status_code}: {response.text[:300]}")


def verify(n_ok: int, ids: list[int]) -> dict:
    """Nothing lost, nothing doubled: N incidents, N declared events, one per incident, every 201 id stored,
    and one consumer run per declared event for each registered consumer."""
    from django.db.models import Count

    from incidents import consumers
    from incidents.models import ConsumerRun, EventKind, Incident, TimelineEvent

    incidents = Incident.objects.count()
    declared = TimelineEvent.objects.filter(kind=EventKind.DECLARED)
    events = declared.count()
    incidents_with_event = declared.values("incident_id").distinct().count()
    stored_ids = set(Incident.objects.filter(pk__in=ids).values_list("pk", flat=True))
    result = {
        "incidents": incidents,
        "declared_events": events,
        "incidents_with_declared_event": incidents_with_event,
        "ids_answered": len(ids),
        "ids_unique": len(set(ids)),
        "ids_stored": len(stored_ids),
    }
    runs_ok = True
    for consumer in consumers.consumers_for(EventKind.DECLARED):
        runs = ConsumerRun.objects.filter(consumer=consumer.name, event__kind=EventKind.DECLARED)
        by_status = dict(runs.values_list("status").annotate(n=Count("id")).order_by())
        result.setdefault("consumer_runs", {})[consumer.name] = by_status
        runs_ok &= sum(by_status.values()) == n_ok
    result["ok"] = (
        incidents == n_ok
        and events == n_ok
        and incidents_with_event == n_ok
        and len(set(ids)) == n_ok
        and len(stored_ids) == n_ok
        and runs_ok
    )
    return result


def redis_queue_length(redis_url: str) -> int | None:
    """Messages waiting in Celery's default queue ("celery") on the bench broker."""
    if not redis_url:
        return None
    import redis

    return redis.Redis.from_url(redis_url, socket_timeout=5).llen("celery")


def redis_cleanup(redis_url: str, before: int | None) -> str:
    """Remove the tasks this run published (the newest ones: Celery's Redis transport pushes on the left and
    pops on the right), leaving what was queued before the run."""
    if not redis_url or before is None:
        return ""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    published = client.llen("celery") - before
    if published > 0:
        client.ltrim("celery", published, -1)
    return f"the {published} tasks this run published removed from the queue ({before} left as they were)"


def measure_queries(user, token: str, *, show_sql: bool) -> dict:
    """SQL statements of one declare, in-process: through the API (auth included) and the service alone.

    Counted as the database sees them: BEGIN/COMMIT (and SAVEPOINTs) included, and also given apart.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from incidents.models import Source
    from incidents.services import incident_declare

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.post("/api/v1/incidents/", payload(0), format="json")  # warm caches (URL resolver, ContentTypes)
    with CaptureQueriesContext(connection) as api_ctx:
        response = client.post("/api/v1/incidents/", payload(1), format="json")
    if response.status_code != 201:
        raise BenchError(f"in-process declare answered {response.status_code}: {response.content[:300]!r}")
    with CaptureQueriesContext(connection) as svc_ctx:
        incident_declare(
            title="Bench service call",
            severity="major",
            team=TEAM_SLUG,
            actor=user,
            source=Source.API,
            summary="direct service call",
        )
    if show_sql:
        print("\n  SQL of one API declare:")
        for q in api_ctx.captured_queries:
            print(f"    {q['time']}s  {q['sql'][:160]}")

    def control(queries):
        return sum(1 for q in queries if q["sql"].split(" ", 1)[0].upper() in TRANSACTION_CONTROL)

    return {
        "api_request": len(api_ctx.captured_queries),
        "api_transaction_control": control(api_ctx.captured_queries),
        "service_call": len(svc_ctx.captured_queries),
        "service_transaction_control": control(svc_ctx.captured_queries),
        "api_sql": [q["sql"][:200] for q in api_ctx.captured_queries],
    }


def _timed(k: int, fn) -> dict:
    """Wall and CPU milliseconds and SQL statements per call of ``fn(i)``, over ``k`` calls after a warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(min(10, k)):
        fn(i)
    with CaptureQueriesContext(connection) as ctx:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(k):
            fn(i)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "wall_ms": round(wall / k * 1000, 2),
        "cpu_ms": round(cpu / k * 1000, 2),
        "sql_ms": round(sum(float(q["time"]) for q in ctx.captured_queries) / k * 1000, 2),
        "statements": round(len(ctx.captured_queries) / k, 1),
    }


def profile_declares(user, token: str, k: int) -> dict:
    """Where a declare's time goes, in-process on one thread (no HTTP server, no contention): the whole API
    request, then its parts measured alone. With pyinstrument installed, also the call tree."""
    from rest_framework.test import APIClient, APIRequestFactory

    from incidents.api.serializers import IncidentSerializer
    from incidents.models import Source
    from incidents.services import incident_declare

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    request = APIRequestFactory().post("/api/v1/incidents/")

    def declare_service(i: int):
        body = payload(i)
        return incident_declare(
            title=body["title"],
            summary=body["summary"],
            severity=body["severity"],
            team=body["team"],
            customer_impact=body["customer_impact"],
            private=body["private"],
            actor=user,
            source=Source.API,
        )

    fresh = [
        declare_service(i) for i in range(k + 10)
    ]  # as the view holds it right after the service returns
    parts = {
        "POST /api/v1/incidents/ (whole request)": _timed(
            k, lambda i: client.post("/api/v1/incidents/", payload(i), format="json")
        ),
        "GET /healthz (middleware floor)": _timed(k, lambda i: client.get("/healthz")),
        "incident_declare() alone, commit included": _timed(k, declare_service),
        "IncidentSerializer(new incident).data": _timed(
            k, lambda i: IncidentSerializer(fresh[i], context={"request": request}).data
        ),
    }
    whole = parts["POST /api/v1/incidents/ (whole request)"]
    rest = {
        key: round(whole[key] - sum(p[key] for name, p in parts.items() if name != next(iter(parts))), 2)
        for key in ("wall_ms", "cpu_ms", "sql_ms", "statements")
    }
    parts["rest: DRF dispatch, token auth, parsing, validation, rendering"] = rest
    print(f"\n  Where a declare's time goes (in-process, one thread, {k} calls each, per call):")
    width = max(len(name) for name in parts)
    print(f"    {'':{width}}  {'wall ms':>8}  {'CPU ms':>7}  {'SQL ms':>7}  {'SQL':>5}")
    for name, p in parts.items():
        print(
            f"    {name:{width}}  {p['wall_ms']:8.2f}  {p['cpu_ms']:7.2f}  {p['sql_ms']:7.2f}  {p['statements']:5}"
        )
    result = {"calls": k, "parts": parts}
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("  (pyinstrument is not installed: `.venv/bin/pip install pyinstrument` for the call tree)")
        return result
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(k):
        client.post("/api/v1/incidents/", payload(i), format="json")
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    html = RESULTS / f"declare-profile-{time.strftime('%Y%m%dT%H%M%S')}.html"
    html.write_text(profiler.output_html())
    print(f"  call tree: {html.relative_to(RESULTS.parent.parent)}")
    result["html"] = str(html)
    return result


def apply_pg_settings(settings: list[str]) -> None:
    """What-if settings on the bench database only, before the server opens its connections."""
    from django.db import connection

    if settings and connection.vendor != "postgresql":
        raise BenchError("--pg-set needs PostgreSQL")
    with connection.cursor() as cursor:
        for item in settings:
            name, _, value = item.partition("=")
            if not re.fullmatch(r"[a-z_]+", name) or not re.fullmatch(r"[A-Za-z0-9_.]+", value):
                raise BenchError(f"--pg-set {item!r}: expected NAME=VALUE, e.g. synchronous_commit=off")
            cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET {name} = {value}')
    connection.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = prepare_database(args.database_url, force=args.force_drop)
    plugins = ("bench.noop_consumer.NoopConsumerConfig",) if args.noop_consumer else ()
    env = bench_env(database_url=database_url, redis_url=args.redis_url, plugins=plugins)
    setup_django(env)
    max_conn = postgres_max_connections()
    if max_conn is not None and args.workers * args.threads + 5 > max_conn:
        raise BenchError(
            f"{args.workers} workers x {args.threads} threads may open {args.workers * args.threads} "
            f"connections; PostgreSQL allows {max_conn}. Lower -w or -t."
        )
    migrate_s = migrate()
    apply_pg_settings(args.pg_set)
    user, token = setup_actor()
    db_version = database_version()
    from django.db import connection

    connection.close()  # the server gets every connection slot it needs while it runs

    server = Gunicorn(env=env, workers=args.workers, threads=args.threads, port=args.port)
    print(f"Muster declare benchmark: {args.requests} declares, {args.concurrency} clients")
    print(f"  gunicorn: {args.workers} workers x {args.threads} threads on {server.base_url}")
    print(f"  database: {db_version}  ({database_url.split('@')[-1]}), migrated in {migrate_s:.1f}s")
    from incidents import consumers

    registered = [c.name for c in consumers.consumers_for("declared")]
    print(
        f"  celery:   {'broker ' + args.redis_url if args.redis_url else 'eager, in-process (no REDIS_URL)'}; "
        f"consumers of 'declared': {', '.join(registered) or 'none (nothing is published after commit)'}"
    )
    queued_before = redis_queue_length(args.redis_url)
    try:
        return measure(
            args, server, user=user, token=token, db_version=db_version, queued_before=queued_before
        )
    finally:
        # Whatever happened, take this run's tasks (the in-process declares' too) off the broker's queue.
        cleanup = redis_cleanup(args.redis_url, queued_before)
        if cleanup:
            print(f"  redis:    {cleanup}")


def measure(args, server: Gunicorn, *, user, token: str, db_version: str, queued_before: int | None) -> int:
    """Run the server, declare, verify, count queries, optionally profile; save and print the results."""
    try:
        server.start()
        check_endpoint(server.base_url, token)
        if args.wait_quiet:
            busy = wait_for_quiet(args.wait_quiet)
            print(f"  machine:  {busy * 100:.0f}% busy before the run")
        meter = CpuMeter(
            {
                "client": lambda: [os.getpid()],
                "gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                "postgres": lambda: pids_named("postgres"),
            }
        )
        run = run_load(
            server.base_url,
            token,
            send_declare,
            n=args.requests,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
            timeout=args.timeout,
            meter=meter,
        )
        calibration = None
        if not args.no_calibrate:
            # The same clients on a request that does nothing: the ceiling of this machine and server setup.
            cal_meter = CpuMeter(dict(meter.groups))
            cal = run_load(
                server.base_url,
                token,
                send_healthz,
                n=min(args.requests, 2000),
                concurrency=args.concurrency,
                max_seconds=min(args.max_seconds, 60),
                timeout=args.timeout,
                meter=cal_meter,
            )
            calibration = {
                "requests": cal["sent"],
                "errors": len(cal["errors"]),
                "per_s": round(cal["sent"] / cal["elapsed"], 1) if cal["elapsed"] else 0.0,
                "latency": latency_summary(cal["latencies"]),
                "cpu_seconds": {k: round(v, 2) for k, v in cal_meter.used.items()},
                "cpu_report": cal_meter.report(per=cal["sent"], unit="request"),
            }
    except BaseException:
        server.keep_log = True
        raise
    finally:
        server.stop()

    queued_after = redis_queue_length(args.redis_url)
    ok = len(run["ids"])
    latency = latency_summary(run["latencies"])
    throughput = ok / run["elapsed"] if run["elapsed"] else 0.0
    check = verify(ok, run["ids"])
    queries = measure_queries(user, token, show_sql=args.show_sql)
    runs_text = "; ".join(f"{name}: {by}" for name, by in check.get("consumer_runs", {}).items())
    if queued_before is not None:
        published = queued_after - queued_before
        runs_text += f"; {published} tasks published to Redis during the run, none consumed (no worker)"

    per = max(1, len(run["latencies"]))
    server_ms = (meter.used.get("gunicorn", 0) + meter.used.get("postgres", 0)) / per * 1000
    all_ms = server_ms + meter.used.get("client", 0) / per * 1000
    cores = os.cpu_count() or 1
    ceiling_text = (
        f"{server_ms:.1f} ms of server CPU (app + database) per declare: one core serves ~{1000 / server_ms:.0f}/s; "
        f"these {cores} cores, client included, ~{cores * 1000 / all_ms:.0f}/s with no neighbours"
        if server_ms
        else "n/a"
    )
    print()
    print_table(
        [
            ("declared (201)", f"{ok} of {args.requests} in {run['elapsed']:.2f}s"),
            ("throughput", f"{throughput:.1f} declares/s"),
            (
                "latency",
                f"p50 {latency['p50_ms']} ms  p90 {latency['p90_ms']} ms  "
                f"p99 {latency['p99_ms']} ms  max {latency['max_ms']} ms",
            ),
            ("errors", str(len(run["errors"]))),
            ("CPU", meter.report(per=len(run["latencies"]), unit="declare")),
            ("CPU-bound ceiling", ceiling_text),
            *(
                [
                    (
                        "calibration",
                        f"GET /healthz with the same clients: {calibration['per_s']} req/s, "
                        f"p50 {calibration['latency']['p50_ms']} ms ({calibration['errors']} errors); "
                        f"CPU {calibration['cpu_report']}",
                    )
                ]
                if calibration
                else []
            ),
            (
                "SQL per declare",
                f"{queries['api_request']} via the API, auth included "
                f"({queries['api_transaction_control']} of them BEGIN/COMMIT/SAVEPOINT); "
                f"{queries['service_call']} in incident_declare alone",
            ),
            (
                "verified",
                f"{check['incidents']} incidents, {check['declared_events']} declared events, "
                f"{check['ids_stored']} answered ids stored: {'OK' if check['ok'] else 'MISMATCH'}",
            ),
            *([("consumer runs", runs_text.strip("; "))] if runs_text else []),
        ]
    )
    if meter.busy_neighbours():
        print("  WARNING: other processes used much of the CPU during the run; the numbers are pessimistic.")
    for i, message in run["errors"][:20]:
        print(f"  error on request {i}: {message}")
    if len(run["errors"]) > 20:
        print(f"  ... and {len(run['errors']) - 20} more errors")
    if run["sent"] < args.requests:
        print(
            f"  stopped after {args.max_seconds:.0f}s: only {run['sent']} of {args.requests} requests were sent"
        )

    profile = profile_declares(user, token, args.profile) if args.profile else None
    path = save_results(
        "declare",
        {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "database": db_version,
            "args": {k: v for k, v in vars(args).items() if k != "database_url"},
            "declared": ok,
            "elapsed_s": round(run["elapsed"], 3),
            "throughput_per_s": round(throughput, 1),
            "server_cpu_ms_per_declare": round(server_ms, 2),
            "latency": latency,
            "errors": run["errors"][:100],
            "error_count": len(run["errors"]),
            "queries": queries,
            "cpu_seconds": {k: round(v, 2) for k, v in meter.used.items()},
            "calibration_healthz": calibration,
            "profile": profile,
            "verify": check,
            "redis_published": (queued_after - queued_before) if queued_before is not None else None,
        },
    )
    print(f"  results:  {path.relative_to(path.parent.parent.parent)}")
    complete = ok == args.requests and not run["errors"] and check["ok"]
    return 0 if complete else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"declare benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
