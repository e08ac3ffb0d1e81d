"""Benchmark: the paths a responder and an integrator hit most, each as a ratio to the same server's ``/healthz``.

Sets up its own database (dropped and recreated), seeds a signed-in member's world (30 open incidents of their
team, 70 closed ones, a dozen notes, an update, roles and a service on the measured incident), starts Muster under
gunicorn on the production path (PostgreSQL, ``DEBUG`` off, a Redis broker URL and no worker, so every declare's
consumers are published and left queued) and then, in rounds, drives each path with C keep-alive connections for a
few seconds:

    healthz     GET /healthz                          (does nothing: the ceiling of this machine and server)
    declare     POST /api/v1/incidents/               (an integrator's token; private incidents of another team,
                                                       so the member's pages do not grow during the run)
    list        GET /api/v1/incidents/?page_size=50   (the member's token)
    incident    GET /incidents/<id>/                  (the member's session cookie)
    dashboard   GET /                                 (the member's session cookie)

Every round runs all the paths back to back, so a neighbour's burst of CPU hits a path and its ``/healthz``
alike; the ratio reported is the median over the rounds of (path req/s) / (``/healthz`` req/s in that round).
The load generator is a small raw-socket HTTP/1.1 client (one thread per connection, prebuilt requests), which
costs a fraction of httpx's CPU, so more of the two cores go to the server, as with ``wrk``.

Beside each ratio it prints the CPU per request of gunicorn, PostgreSQL and the client, and the CPU ratio
(``/healthz``'s total CPU per request over the path's), which a busy machine disturbs far less than throughput.
After the HTTP rounds it measures each path in-process with Django's test client (no HTTP, one thread): SQL
statements and CPU ms per request.

    .venv/bin/python bench/pages.py                                  # 3 rounds x 4 s per path, 16 connections
    .venv/bin/python bench/pages.py --rounds 5 --seconds 6 -c 16
    .venv/bin/python bench/pages.py --paths healthz,incident --profile incident   # and where its time goes
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

from _common import (
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
    prepare_database,
    print_table,
    save_results,
    setup_django,
    wait_for_quiet,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench_pages"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
MEMBER, INTEGRATOR = "bench", "integrator"
TEAM_SLUG, OTHER_TEAM_SLUG = "bench-team", "integrations"
OPEN_INCIDENTS, CLOSED_INCIDENTS, NOTES = 30, 70, 12
PATHS = ("healthz", "declare", "list", "incident", "dashboard")
#: The targets of issue 10, as ratios to /healthz.
TARGETS = {"declare": 0.12, "list": 0.10, "incident": 0.10, "dashboard": 0.10}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="keep-alive connections (16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all the paths (3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per path per round (4)")
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"comma-separated, from {', '.join(PATHS)} (all)"
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=50,
        metavar="K",
        help="requests per path for the in-process CPU and SQL measurement (50; 0 skips it)",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="PATH",
        help="print the cProfile of K in-process requests of one path (e.g. incident)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"Celery broker, no worker (default {DEFAULT_REDIS_URL}; env BENCH_REDIS_URL)",
    )
    parser.add_argument("--no-server", action="store_true", help="only the in-process measurements")
    add_server_arguments(
        parser,
        database_env="BENCH_PAGES_DATABASE_URL",
        default_database_url=DEFAULT_DATABASE_URL,
        workers=max(2, os.cpu_count() or 1),
        threads=4,
        max_seconds=600,
    )
    args = parser.parse_args(argv)
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(args.paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    if "healthz" not in args.paths:
        args.paths.insert(0, "healthz")
    if not 1 <= args.concurrency <= 512:
        parser.error("--concurrency must be between 1 and 512")
    if not 1 <= args.rounds <= 50 or not 0.5 <= args.seconds <= 120:
        parser.error("--rounds 1..50, --seconds 0.5..120")
    if args.profile and args.profile not in PATHS:
        parser.error(f"--profile takes one of {', '.join(PATHS)}")
    return args


# --- Seed -----------------------------------------------------------------------------------------


def seed() -> dict:
    """The member's world: their team, 30 open incidents of it (a third led by them), 70 closed ones, and on the
    measured incident a lead, a messenger, a service, a severity change, an update and a dozen notes."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from incidents import services
    from incidents.models import Incident, Source
    from teams.models import Membership, Service, Team

    User = get_user_model()
    member = User.objects.create_user(
        MEMBER, f"{MEMBER}@example.com", "bench-password", first_name="Bea", last_name="Bench"
    )
    integrator = User.objects.create_user(INTEGRATOR, f"{INTEGRATOR}@example.com", "bench-password")
    others = [
        User.objects.create_user(f"responder{i}", f"responder{i}@example.com", "x", first_name=f"R{i}")
        for i in range(6)
    ]
    team = Team.objects.create(name="Bench team", slug=TEAM_SLUG)
    other_team = Team.objects.create(name="Integrations", slug=OTHER_TEAM_SLUG)
    Membership.objects.create(team=team, user=member, role=Membership.Role.MEMBER)
    Membership.objects.create(team=other_team, user=integrator, role=Membership.Role.MEMBER)
    for user in others:
        Membership.objects.create(team=team, user=user, role=Membership.Role.MEMBER)
    checkout = Service.objects.create(name="Checkout", slug="checkout", team=team)
    Service.objects.create(name="Payments", slug="payments", team=team)

    severities = ("critical", "major", "minor")
    for i in range(CLOSED_INCIDENTS):
        incident = services.incident_declare(
            title=f"Old incident {i}: queue backlog",
            severity=severities[i % 3],
            team=team,
            actor=others[i % len(others)],
            source=Source.API,
            lead=others[(i + 1) % len(others)] if i % 2 else None,
        )
        for to in ("resolved", "closed"):
            services.incident_transition(incident=incident, to=to, actor=others[0], source=Source.API)
    Incident.objects.filter(status="closed").update(declared_at=timezone.now() - timedelta(days=30))
    measured = None
    for i in range(OPEN_INCIDENTS):
        incident = services.incident_declare(
            title=f"Checkout errors above SLO in eu-west-{i}",
            summary="p99 latency of the checkout API is above 2 s; error rate 3%.",
            severity=severities[i % 3],
            team=team,
            services=["checkout"] if i % 4 == 0 else [],
            customer_impact=i % 2 == 0,
            actor=others[i % len(others)],
            source=Source.WEB,
            lead=member if i % 3 == 0 else (others[i % len(others)] if i % 3 == 1 else None),
        )
        if i % 5 == 1:
            services.incident_transition(
                incident=incident, to="investigating", actor=member, source=Source.WEB
            )
        measured = measured or incident
    incident = measured
    services.incident_update(incident=incident, services=[checkout], actor=member, source=Source.WEB)
    services.incident_assign_role(
        incident=incident, role="messenger", user=others[1], actor=member, source=Source.WEB
    )
    services.incident_transition(incident=incident, to="investigating", actor=member, source=Source.WEB)
    services.incident_change_severity(
        incident=incident, severity="major", reason="Contained to one region", actor=member, source=Source.WEB
    )
    services.incident_post_update(
        incident=incident,
        text="We are investigating elevated checkout errors.",
        actor=member,
        source=Source.WEB,
    )
    for n in range(NOTES):
        services.incident_add_note(
            incident=incident,
            text=f"Note {n}: looked at the dashboards, **p99** still at 2.{n} s. See https://example.com/{n}",
            actor=(member, *others)[n % 3],
            source=Source.WEB,
        )
    return {"member": member, "integrator": integrator, "incident_id": incident.pk}


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def declare_body(i: int) -> dict:
    return {
        "title": f"Bench declare {i}: checkout latency above SLO",
        "summary": "p99 latency of the checkout API is above 2s in eu-west-1; error rate 3%.",
        "severity": ("critical", "major", "minor")[i % 3],
        "team": OTHER_TEAM_SLUG,
        "customer_impact": i % 2 == 0,
        "private": True,  # the member does not see these: their dashboard and list stay as seeded
    }


# --- A cheap HTTP/1.1 load generator --------------------------------------------------------------


class Request:
    """One path's requests, prebuilt: ``build(i)`` gives the bytes of request ``i``."""

    def __init__(self, name: str, method: str, path: str, headers: dict[str, str], expect: int, body=None):
        self.name, self.expect = name, expect
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        self._head = head
        self._body = body
        self._fixed = None if body else (head + "\r\n").encode()

    def build(self, i: int) -> bytes:
        if self._fixed is not None:
            return self._fixed
        body = json.dumps(self._body(i)).encode()
        return (
            self._head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bool, bytearray]:
    """Read one response (Content-Length or chunked); returns (status, keep-alive, what was read past it)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    rest = buf[end + 4 :]
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(max(65536, length - len(rest)))
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        rest = rest[length:]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while b"\r\n0\r\n\r\n" not in rest and not rest.startswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        marker = b"0\r\n\r\n" if rest.startswith(b"0\r\n\r\n") else b"\r\n0\r\n\r\n"
        rest = rest[rest.index(marker) + len(marker) :]
    keep = headers.get("connection", "").lower() != "close"
    return status, keep, bytearray(rest)


def drive(base_url: str, request: Request, *, concurrency: int, seconds: float, timeout: float) -> dict:
    """C threads, one keep-alive connection each, send ``request`` back to back for ``seconds``."""
    parsed = urlparse(base_url)
    address = (parsed.hostname, parsed.port)
    counter = itertools.count()
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()

    def connect() -> socket.socket:
        sock = socket.create_connection(address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def worker() -> None:
        sock = connect()
        buf = bytearray()
        mine: list[float] = []
        bad: list[str] = []
        try:
            while time.perf_counter() < stop_at:
                data = request.build(next(counter))
                started = time.perf_counter()
                try:
                    sock.sendall(data)
                    status, keep, buf = _read_response(sock, buf)
                except (OSError, ConnectionError) as exc:
                    bad.append(f"{exc.__class__.__name__}: {exc}")
                    sock.close()
                    sock, buf = connect(), bytearray()
                    continue
                mine.append(time.perf_counter() - started)
                if status != request.expect:
                    bad.append(f"HTTP {status}")
                if not keep:
                    sock.close()
                    sock, buf = connect(), bytearray()
        finally:
            sock.close()
            with lock:
                latencies.extend(mine)
                errors.extend(bad)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


# --- In-process: CPU and SQL per request ------------------------------------------------------------


def _clients(world: dict, tokens: dict[str, str]):
    from django.test import Client
    from rest_framework.test import APIClient

    web = Client()
    web.force_login(world["member"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens['member']}")
    integrator = APIClient()
    integrator.credentials(HTTP_AUTHORIZATION=f"Token {tokens['integrator']}")
    counter = itertools.count(1_000_000)
    incident_url = f"/incidents/{world['incident_id']}/"
    return {
        "healthz": lambda: web.get("/healthz"),
        "declare": lambda: integrator.post("/api/v1/incidents/", declare_body(next(counter)), format="json"),
        "list": lambda: api.get("/api/v1/incidents/?page_size=50"),
        "incident": lambda: web.get(incident_url),
        "dashboard": lambda: web.get("/"),
    }


EXPECT = {"healthz": 200, "declare": 201, "list": 200, "incident": 200, "dashboard": 200}


def in_process(world: dict, tokens: dict[str, str], paths: list[str], k: int) -> dict:
    """Per path: SQL statements of one request, and wall/CPU ms per request over ``k`` (after a warm-up)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calls = _clients(world, tokens)
    result = {}
    for name in paths:
        call = calls[name]
        for _ in range(5):
            response = call()
        if response.status_code != EXPECT[name]:
            raise BenchError(f"in-process {name} answered {response.status_code}: {response.content[:300]!r}")
        connection.queries_log.clear()  # a full log (its maxlen) would make the capture look empty
        with CaptureQueriesContext(connection) as ctx:
            call()
        statements = len(ctx.captured_queries)  # now: the next request clears the log
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(k):
            call()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        result[name] = {
            "statements": statements,
            "cpu_ms": round(cpu / k * 1000, 2),
            "wall_ms": round(wall / k * 1000, 2),
            "bytes": len(response.content),
        }
    return result


def profile(world: dict, tokens: dict[str, str], name: str, k: int) -> None:
    import cProfile
    import pstats

    call = _clients(world, tokens)[name]
    for _ in range(5):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(k):
        call()
    profiler.disable()
    print(f"\n  cProfile of {k} in-process requests of {name} (cumulative, top 45):")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


# --- Main -----------------------------------------------------------------------------------------


def collectstatic() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = prepare_database(args.database_url, force=args.force_drop)
    env = bench_env(database_url=database_url, redis_url=args.redis_url)
    # Worker recycling (gunicorn.conf.py's max_requests) would restart a worker in the middle of a round.
    env["GUNICORN_MAX_REQUESTS"] = "0"
    setup_django(env)
    migrate()
    collectstatic()
    from declare import redis_cleanup, redis_queue_length

    queued_before = redis_queue_length(args.redis_url)
    try:
        return run(args, env, database_url)
    finally:
        cleanup = redis_cleanup(args.redis_url, queued_before)
        if cleanup:
            print(f"  redis:    {cleanup}")


def run(args, env: dict, database_url: str) -> int:
    from incidents import consumers

    world = seed()
    tokens = {"member": create_token(MEMBER), "integrator": create_token(INTEGRATOR)}
    cookie = session_cookie(world["member"])
    db_version = database_version()
    registered = [c.name for c in consumers.consumers_for("declared")]
    print(f"Muster hot paths: {', '.join(args.paths)}; {args.rounds} rounds x {args.seconds:g} s each")
    print(f"  database: {db_version} ({database_url.split('@')[-1]})")
    print(
        f"  celery:   broker {args.redis_url or 'none (eager)'}, no worker; consumers of 'declared': "
        f"{', '.join(registered) or 'none'}"
    )
    print(
        f"  seeded:   {OPEN_INCIDENTS} open + {CLOSED_INCIDENTS} closed incidents of the member's team; "
        f"INC-{world['incident_id']} measured ({NOTES} notes)"
    )

    requests = {
        "healthz": Request("healthz", "GET", "/healthz", {}, 200),
        "declare": Request(
            "declare",
            "POST",
            "/api/v1/incidents/",
            {"Authorization": f"Token {tokens['integrator']}", "Accept": "application/json"},
            201,
            body=declare_body,
        ),
        "list": Request(
            "list",
            "GET",
            "/api/v1/incidents/?page_size=50",
            {"Authorization": f"Token {tokens['member']}", "Accept": "application/json"},
            200,
        ),
        "incident": Request(
            "incident", "GET", f"/incidents/{world['incident_id']}/", {"Cookie": cookie}, 200
        ),
        "dashboard": Request("dashboard", "GET", "/", {"Cookie": cookie}, 200),
    }
    rounds: dict[str, list[dict]] = {name: [] for name in args.paths}
    meters: dict[str, list[CpuMeter]] = {name: [] for name in args.paths}
    if not args.no_server:
        from django.db import connection

        connection.close()
        server = Gunicorn(env=env, workers=args.workers, threads=args.threads, port=args.port)
        print(
            f"  gunicorn: {args.workers} workers x {args.threads} threads on {server.base_url}; "
            f"{args.concurrency} connections"
        )
        try:
            server.start()
            for (
                name
            ) in args.paths:  # warm every worker on every path (imports, template loading, connections)
                drive(
                    server.base_url,
                    requests[name],
                    concurrency=args.concurrency,
                    seconds=0.7,
                    timeout=args.timeout,
                )
            if args.wait_quiet:
                busy = wait_for_quiet(args.wait_quiet)
                print(f"  machine:  {busy * 100:.0f}% busy before the run")
            deadline = time.monotonic() + args.max_seconds
            for number in range(args.rounds):
                if time.monotonic() > deadline:
                    print(f"  stopped after {number} rounds (--max-seconds)")
                    break
                for name in args.paths:
                    meter = CpuMeter(
                        {
                            "client": lambda: [os.getpid()],
                            "gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                            "postgres": lambda: pids_named("postgres"),
                        }
                    )
                    meter.start()
                    result = drive(
                        server.base_url,
                        requests[name],
                        concurrency=args.concurrency,
                        seconds=args.seconds,
                        timeout=args.timeout,
                    )
                    meter.stop()
                    rounds[name].append(result)
                    meters[name].append(meter)
        except BaseException:
            server.keep_log = True
            raise
        finally:
            server.stop()

    summary: dict = {}
    ok = True
    if not args.no_server:
        healthz_rates = [r["elapsed"] and len(r["latencies"]) / r["elapsed"] for r in rounds["healthz"]]
        print()
        header = (
            f"  {'path':<10} {'req/s':>8} {'ratio':>7} {'target':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  "
            f"{'CPU ms/req: gunicorn':>20} {'postgres':>8} {'client':>6}  {'CPU ratio':>9}  other"
        )
        print(header)
        cpu_per: dict[str, float] = {}
        for name in args.paths:
            runs = rounds[name]
            rates = [len(r["latencies"]) / r["elapsed"] for r in runs]
            ratios = [rate / h for rate, h in zip(rates, healthz_rates, strict=False) if h]
            lat = latency_summary([x for r in runs for x in r["latencies"]])
            errors = [e for r in runs for e in r["errors"]]
            count = max(1, sum(len(r["latencies"]) for r in runs))
            used = {
                group: sum(m.used.get(group, 0) for m in meters[name]) / count * 1000
                for group in ("gunicorn", "postgres", "client")
            }
            # CPU per request of everything on this machine that serves it (app, database, load generator): when
            # the machine is CPU-bound, healthz's total over this path's total is the ratio a quiet machine gives,
            # and neighbours disturb it far less than they disturb throughput.
            cpu_per[name] = sum(used.values())
            cpu_ratio = (
                cpu_per["healthz"] / cpu_per[name] if cpu_per.get("healthz") and cpu_per[name] else 0.0
            )
            other = sum(m.used.get("other", 0) for m in meters[name]) / max(
                1e-9, sum(m.wall for m in meters[name]) * (os.cpu_count() or 1)
            )
            ratio = statistics.median(ratios) if ratios else float("nan")
            target = TARGETS.get(name)
            met = target is None or ratio >= target
            if name == "declare":
                met = met and lat["p99_ms"] < 100
            ok &= not errors
            summary[name] = {
                "requests": count,
                "per_s": round(statistics.median(rates), 1),
                "ratio_median": round(ratio, 4),
                "ratios": [round(r, 4) for r in ratios],
                "cpu_ratio": round(cpu_ratio, 4),
                "target": target,
                "target_met": met,
                "latency": lat,
                "errors": len(errors),
                "error_samples": errors[:10],
                "gunicorn_cpu_ms": round(used["gunicorn"], 2),
                "postgres_cpu_ms": round(used["postgres"], 2),
                "client_cpu_ms": round(used["client"], 2),
                "other_share": round(other, 3),
            }
            print(
                f"  {name:<10} {summary[name]['per_s']:>8} {ratio:>6.3f}x "
                f"{(f'{target:.2f}x' if target else ''):>7} {lat['p50_ms']:>8} {lat['p99_ms']:>8} {len(errors):>6}  "
                f"{used['gunicorn']:>20.2f} {used['postgres']:>8.2f} {used['client']:>6.2f}  {cpu_ratio:>8.3f}x  "
                f"{other * 100:.0f}%" + ("" if met else "  below target")
            )
            for error in sorted(set(errors))[:5]:
                print(f"    error: {error}")
        if any(s["other_share"] > 0.15 for s in summary.values()):
            print(
                "  WARNING: other processes took more than 15% of the CPU in some runs: compare the ratios only."
            )

    measured = {}
    if args.in_process:
        measured = in_process(world, tokens, args.paths, args.in_process)
        print(f"\n  in-process, Django test client, one thread ({args.in_process} requests each):")
        print_table(
            [
                (
                    name,
                    f"{m['statements']:>3} SQL  {m['cpu_ms']:>7.2f} ms CPU  {m['wall_ms']:>7.2f} ms wall  "
                    f"{m['bytes']:>7,} bytes",
                )
                for name, m in measured.items()
            ]
        )
    if args.profile:
        profile(world, tokens, args.profile, max(20, args.in_process))
    path = save_results(
        "pages",
        {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "database": db_version,
            "args": {k: v for k, v in vars(args).items() if k != "database_url"},
            "http": summary,
            "in_process": measured,
        },
    )
    print(f"  results:  {path.relative_to(path.parent.parent.parent)}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"pages benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
