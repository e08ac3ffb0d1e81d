"""Benchmark: does listing incidents cost the same on the last page as on the first, with 100,000 of them?

Fills its own database (dropped and recreated) with 100,000 incidents in bulk (teams, services, a share of
private incidents and role assignments, so the list's visibility filter and prefetches do real work), starts
Muster under gunicorn with DEBUG off, and walks ``GET /api/v1/incidents/`` page by page over HTTP, following
``next`` to the end, once per page size. Reports the walk's time, pages/s, per-page latency (p50/p99, first
10 pages against last 10 pages) and the SQL statements per page (first, middle, last: constant). Then times
the web list ``/incidents/?page=N`` on a deep page, when the web UI has that page.

The walk is done by one sequential client through gunicorn (real HTTP, real serialization); query counts are
taken in-process with the test client on the same URLs.

    .venv/bin/python bench/list_pages.py                       # PostgreSQL muster_bench, 100,000 incidents
    .venv/bin/python bench/list_pages.py --incidents 20000 --page-sizes 50,200
    .venv/bin/python bench/list_pages.py --reuse               # keep an already filled database
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from urllib.parse import urlsplit

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

USERNAME = "bench"
# Its own database, so that `--reuse` survives a declare run in between.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench_list"
N_USERS = 40
N_TEAMS = 8
N_SERVICES = 24


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--incidents", type=int, default=100_000, help="incidents to create (default 100,000)"
    )
    parser.add_argument(
        "--page-sizes", default="100,200", help="page sizes to walk, comma-separated (100,200)"
    )
    parser.add_argument("--batch", type=int, default=5000, help="bulk_create batch size (5000)")
    parser.add_argument("--role-share", type=float, default=0.4, help="share of incidents with a lead (0.4)")
    parser.add_argument("--private-share", type=float, default=0.05, help="share of private incidents (0.05)")
    add_server_arguments(
        parser,
        database_env="BENCH_LIST_DATABASE_URL",
        default_database_url=DEFAULT_DATABASE_URL,
        workers=2,
        threads=1,
        max_seconds=600,
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database if it already holds the bench data (no refill)",
    )
    parser.add_argument("--show-sql", action="store_true", help="print the SQL statements of one page")
    args = parser.parse_args(argv)
    try:
        args.page_sizes = [int(x) for x in args.page_sizes.split(",") if x.strip()]
    except ValueError:
        parser.error("--page-sizes takes integers, e.g. 100,200")
    if not args.page_sizes or any(not 1 <= p <= 200 for p in args.page_sizes):
        parser.error("page sizes must be between 1 and 200 (the API's maximum)")
    if not 1 <= args.incidents <= 2_000_000:
        parser.error("--incidents must be between 1 and 2,000,000")
    if not (0 <= args.role_share <= 1 and 0 <= args.private_share <= 1):
        parser.error("--role-share and --private-share are shares between 0 and 1")
    if not 100 <= args.batch <= 50_000:
        parser.error("--batch must be between 100 and 50,000")
    return args


# --- Fill -----------------------------------------------------------------------------------------


def filled(n: int) -> bool:
    from django.contrib.auth import get_user_model

    from incidents.models import Incident

    return get_user_model().objects.filter(username=USERNAME).exists() and Incident.objects.count() == n


def empty() -> bool:
    from django.contrib.auth import get_user_model

    from incidents.models import Incident

    return not Incident.objects.exists() and not get_user_model().objects.exists()


def fill(*, n: int, batch: int, role_share: float, private_share: float) -> dict:
    """Users, teams, services, then ``n`` incidents in bulk, with current and relieved role assignments.

    Deterministic (no randomness): incident ``i`` gets its attributes from ``i`` modulo small primes.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from incidents.models import Incident, Role, RoleAssignment, Severity
    from incidents.state import Status
    from teams.models import Membership, Service, Team

    started = time.perf_counter()
    User = get_user_model()
    password = make_password("bench-password")
    users = User.objects.bulk_create(
        [User(username=USERNAME, email=f"{USERNAME}@example.com", password=password)]
        + [
            User(username=f"responder{i}", email=f"responder{i}@example.com", password=password)
            for i in range(N_USERS)
        ]
    )
    bench, responders = users[0], users[1:]
    teams = Team.objects.bulk_create([Team(name=f"Team {i}", slug=f"team-{i}") for i in range(N_TEAMS)])
    Membership.objects.bulk_create(
        [Membership(team=teams[0], user=bench, role=Membership.Role.MEMBER)]
        + [Membership(team=teams[i % N_TEAMS], user=u) for i, u in enumerate(responders)]
    )
    services = Service.objects.bulk_create(
        [
            Service(name=f"Service {i}", slug=f"service-{i}", team=teams[i % N_TEAMS])
            for i in range(N_SERVICES)
        ]
    )
    severities = list(Severity.objects.order_by("rank"))
    roles = {r.slug: r for r in Role.objects.all()}
    statuses = [s.value for s in Status]
    now = timezone.now()
    # Shares per hundred incidents, exact for whole percentages.
    private_per_100 = round(private_share * 100)
    lead_per_100 = round(role_share * 100)

    incident_count = assignment_count = service_links = 0
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        rows = []
        for i in range(start, stop):
            declared = now - timedelta(minutes=(n - i) * 7)
            status = statuses[i % len(statuses)] if i > n - 500 else ("closed" if i % 11 else "declined")
            rows.append(
                Incident(
                    title=f"Bench incident {i}: elevated error rate on checkout",
                    summary="Error rate of the checkout API above 2% for 5 minutes in eu-west-1.",
                    severity=severities[i % len(severities)],
                    status=status,
                    team=teams[i % N_TEAMS] if i % 13 else None,
                    customer_impact=i % 3 == 0,
                    private=(i * 37) % 100 < private_per_100,
                    declared_by=responders[i % len(responders)],
                    declared_at=declared,
                    resolved_at=declared + timedelta(hours=2) if status in ("resolved", "closed") else None,
                    closed_at=declared + timedelta(days=3) if status == "closed" else None,
                    declined_at=declared + timedelta(minutes=20) if status == "declined" else None,
                )
            )
        with transaction.atomic():
            created = Incident.objects.bulk_create(rows)
            assignments = []
            links = []
            for offset, incident in enumerate(created):
                i = start + offset
                if (i * 53) % 100 < lead_per_100:
                    lead = responders[(i * 7) % len(responders)]
                    assignments.append(
                        RoleAssignment(
                            incident=incident, role=roles["lead"], user=lead, assigned_at=incident.declared_at
                        )
                    )
                    if i % 2 == 0:  # half the leads took over from a first lead, relieved and kept as history
                        first = responders[(i * 11) % len(responders)]
                        assignments.append(
                            RoleAssignment(
                                incident=incident,
                                role=roles["lead"],
                                user=first,
                                assigned_at=incident.declared_at - timedelta(minutes=5),
                                relieved_at=incident.declared_at,
                            )
                        )
                    if i % 3 == 0:  # a third also have a messenger
                        assignments.append(
                            RoleAssignment(
                                incident=incident,
                                role=roles["messenger"],
                                user=responders[(i * 13) % len(responders)],
                                assigned_at=incident.declared_at,
                            )
                        )
                if i % 5 == 0:
                    links.append(
                        Incident.services.through(incident=incident, service=services[i % N_SERVICES])
                    )
            RoleAssignment.objects.bulk_create(assignments)
            Incident.services.through.objects.bulk_create(links)
        incident_count += len(created)
        assignment_count += len(assignments)
        service_links += len(links)
        if stop % 20_000 == 0 or stop == n:
            print(f"  filled {stop:,} incidents ({time.perf_counter() - started:.1f}s)", flush=True)
    _analyze()
    return {
        "incidents": incident_count,
        "role_assignments": assignment_count,
        "service_links": service_links,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _analyze() -> None:
    """Fresh statistics, as autovacuum would give a real database that grew over years."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- Walk -----------------------------------------------------------------------------------------


def walk(client, *, page_size: int, max_seconds: float) -> dict:
    """Follow ``next`` from the first page to the last; one request at a time."""
    url = f"/api/v1/incidents/?page_size={page_size}"
    latencies: list[float] = []
    urls: list[str] = []
    rows: list[int] = []
    ids: list[int] = []
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds
    started = time.perf_counter()
    while url:
        if time.monotonic() > deadline:
            errors.append(f"gave up after {max_seconds:.0f}s at page {len(latencies) + 1}")
            break
        t0 = time.perf_counter()
        response = client.get(url)
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200:
            errors.append(f"page {len(latencies)}: HTTP {response.status_code}: {response.text[:300]}")
            break
        body = response.json()
        urls.append(url)
        rows.append(len(body["results"]))
        ids.extend(row["id"] for row in body["results"])
        nxt = body.get("next")
        url = _path(nxt) if nxt else None
    elapsed = time.perf_counter() - started
    # The last page is usually short: compare the first page with the last *full* one.
    full = [i for i, count in enumerate(rows) if count == page_size] or list(range(len(rows)))
    return {
        "latencies": latencies,
        "urls": urls,
        "ids": ids,
        "errors": errors,
        "elapsed": elapsed,
        "full_pages": full,
    }


def first_vs_last(client, first_url: str, last_url: str, *, rounds: int = 20) -> tuple[float, float]:
    """Median latency of the first and the last full page, requested alternately: a neighbour's burst of CPU
    hits both alike, so the comparison holds on a busy machine too."""
    first, last = [], []
    for _ in range(rounds):
        for url, bucket in ((first_url, first), (last_url, last)):
            t0 = time.perf_counter()
            client.get(url).raise_for_status()
            bucket.append(time.perf_counter() - t0)
    return statistics.median(first) * 1000, statistics.median(last) * 1000


def _path(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in (None, "127.0.0.1", "localhost", "testserver"):
        raise BenchError(f"next points off this machine: {url}")
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _sql_of(client, url: str, *, repeat: int = 5) -> tuple[int, float, list[dict]]:
    """Statements of one request, and the median over ``repeat`` runs of the time spent in them (ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts, times, captured = [], [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        if response.status_code != 200:
            raise BenchError(f"in-process {url} answered {response.status_code}")
        counts.append(len(ctx.captured_queries))
        times.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
        captured = ctx.captured_queries
    return max(counts), round(statistics.median(times), 2), captured


def queries_per_page(token: str, urls: list[str], *, show_sql: bool) -> dict[str, dict]:
    """SQL statements (and time in SQL) of the first, middle and last page, in-process with the test client."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    picks = {"first": urls[0], "middle": urls[len(urls) // 2], "last": urls[-1]}
    client.get(urls[0])  # warm-up
    result = {}
    for name, url in picks.items():
        count, sql_ms, captured = _sql_of(client, url)
        result[name] = {"statements": count, "sql_ms": sql_ms}
        if show_sql and name == "last":
            print(f"\n  SQL of the last page ({url}):")
            for q in captured:
                print(f"    {q['time']}s  {q['sql'][:200]}")
    return result


# --- Web list -------------------------------------------------------------------------------------


def web_list_exists() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/incidents/")
    except Resolver404:
        return False
    return True


def session_cookie(username: str) -> str:
    """A signed-in session for ``username``, stored in the database the server reads."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def time_web_list(server: Gunicorn, cookie: str, *, timeout: float, repeat: int = 5) -> dict:
    """Time /incidents/?page=N for shallow and deep N; N_last is read from the pagination links of page 1."""
    import httpx

    results: dict = {"pages": {}}
    with httpx.Client(base_url=server.base_url, headers={"Cookie": cookie}, timeout=timeout) as client:
        first = client.get("/incidents/")
        results["status"] = first.status_code
        if first.status_code in (404, 405):
            results["skipped"] = f"/incidents/ answers {first.status_code}"
            return results
        if first.status_code != 200:
            server.keep_log = True
            results["skipped"] = (
                f"/incidents/ answers {first.status_code}: {server.last_error() or first.text[:200]}"
            )
            return results
        last = _last_page_number(client, first.text)
        if last is None:
            results["skipped"] = (
                "the web list paginates by cursor: no deep page number to time"
                if "cursor=" in first.text
                else "no numbered pagination found on /incidents/"
            )
            return results
        results["last_page"] = last
        wanted = sorted({1, 2, 10, 100, last // 2, last} & set(range(1, last + 1)))
        for page in wanted:
            timings = []
            status = None
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.get(f"/incidents/?page={page}")
                timings.append(time.perf_counter() - t0)
                status = response.status_code
            results["pages"][page] = {
                "status": status,
                "median_ms": round(statistics.median(timings) * 1000, 1),
                "bytes": len(response.content),
            }
    return results


def _last_page_number(client, html: str) -> int | None:
    """The number of the last page: from "Page X of Y", else from the page links of the page a huge page
    number lands on (Django's ``Paginator.get_page`` clamps it to the last page)."""
    shown = re.search(r"Page\s+[\d,]+\s+of\s+([\d,]+)", html)
    if shown:
        return int(shown.group(1).replace(",", ""))
    numbers = [int(x) for x in re.findall(r"[?&](?:amp;)?page=(\d+)", html)]
    if not numbers:
        return None
    clamped = client.get("/incidents/?page=999999999")
    if clamped.status_code == 200:
        shown = re.search(r"Page\s+[\d,]+\s+of\s+([\d,]+)", clamped.text)
        if shown:
            return int(shown.group(1).replace(",", ""))
        previous = [int(x) for x in re.findall(r"[?&](?:amp;)?page=(\d+)", clamped.text)]
        if previous:
            return max(previous) + 1
    return max(numbers)


def web_queries(username: str, pages: list[int]) -> dict[int, dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    client.get("/incidents/")
    result = {}
    for page in pages:
        count, sql_ms, _ = _sql_of(client, f"/incidents/?page={page}")
        result[page] = {"statements": count, "sql_ms": sql_ms}
    return result


def collectstatic() -> float:
    """Production serves hashed static files (DEBUG off): the web pages need the manifest."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    return time.perf_counter() - started


# --- Main -----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    env_url = prepare_database(args.database_url, force=args.force_drop, keep=args.reuse)
    env = bench_env(database_url=env_url)
    setup_django(env)
    migrate()
    db_version = database_version()
    print(f"Muster list benchmark: {args.incidents:,} incidents, page sizes {args.page_sizes}")
    print(f"  database: {db_version}  ({env_url.split('@')[-1]})")
    if args.reuse and filled(args.incidents):
        print("  reusing the filled database")
        fill_info = {"reused": True}
    else:
        if args.reuse and not empty():
            raise BenchError("--reuse: the database holds other data; run once without --reuse to refill it.")
        fill_info = fill(
            n=args.incidents, batch=args.batch, role_share=args.role_share, private_share=args.private_share
        )
        print(
            f"  filled {fill_info['incidents']:,} incidents, {fill_info['role_assignments']:,} role assignments, "
            f"{fill_info['service_links']:,} service links in {fill_info['seconds']}s"
        )
    token = create_token(USERNAME)

    from django.contrib.auth import get_user_model

    from incidents.selectors import incident_visible_queryset

    visible = incident_visible_queryset(user=get_user_model().objects.get(username=USERNAME)).count()
    has_web_list = web_list_exists()
    if has_web_list:
        collectstatic()
    cookie = session_cookie(USERNAME) if has_web_list else ""
    from django.db import connection

    connection.close()

    import httpx

    server = Gunicorn(env=env, workers=args.workers, threads=args.threads, port=args.port)
    print(f"  gunicorn: {args.workers} workers x {args.threads} threads on {server.base_url}; one client")
    print(f"  visible to user '{USERNAME}' (a team member, not an admin): {visible:,} incidents")
    walks: dict[int, dict] = {}
    web: dict = {"skipped": "no /incidents/ route in the web UI yet"}
    meters: dict[int, CpuMeter] = {}
    try:
        server.start()
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=args.timeout) as client:
            probe = client.get("/api/v1/incidents/?page_size=1")
            if probe.status_code == 404:
                raise BenchError("GET /api/v1/incidents/ answers 404: the incidents API is not there yet.")
            for _ in range(4):  # warm both workers
                client.get("/api/v1/incidents/?page_size=1")
            if args.wait_quiet:
                busy = wait_for_quiet(args.wait_quiet)
                print(f"  machine:  {busy * 100:.0f}% busy before the walks")
            for size in args.page_sizes:
                meter = CpuMeter(
                    {
                        "client": lambda: [os.getpid()],
                        "gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                        "postgres": lambda: pids_named("postgres"),
                    }
                )
                meter.start()
                walks[size] = walk(client, page_size=size, max_seconds=args.max_seconds)
                meter.stop()
                meters[size] = meter
                if walks[size]["urls"]:
                    run = walks[size]
                    run["interleaved"] = first_vs_last(
                        client, run["urls"][0], run["urls"][run["full_pages"][-1]]
                    )
        if has_web_list:
            web = time_web_list(server, cookie, timeout=args.timeout)
    except BaseException:
        server.keep_log = True
        raise
    finally:
        server.stop()

    ok = True
    summary: dict = {}
    print()
    for size, run in walks.items():
        pages = len(run["latencies"])
        lat = latency_summary(run["latencies"])
        full = run["full_pages"]
        first10 = statistics.median([run["latencies"][i] for i in full[:10]]) * 1000
        last10 = statistics.median([run["latencies"][i] for i in full[-10:]]) * 1000
        unique = len(set(run["ids"]))
        complete = not run["errors"] and unique == len(run["ids"]) == visible
        ok &= complete
        queries = queries_per_page(token, run["urls"], show_sql=args.show_sql) if run["urls"] else {}
        constant = len({q["statements"] for q in queries.values()}) == 1
        ok &= constant
        print(f"  page_size={size}")
        print_table(
            [
                ("pages", f"{pages:,} in {run['elapsed']:.1f}s = {pages / run['elapsed']:.1f} pages/s"),
                (
                    "rows",
                    f"{len(run['ids']):,} ({unique:,} unique; {visible:,} visible): "
                    + ("OK" if complete else "MISMATCH"),
                ),
                ("per page", f"p50 {lat['p50_ms']} ms  p99 {lat['p99_ms']} ms  max {lat['max_ms']} ms"),
                (
                    "first 10 / last 10",
                    f"median {first10:.1f} ms / {last10:.1f} ms (full pages, during the walk)",
                ),
                (
                    "first / last page",
                    "median {:.1f} ms / {:.1f} ms (last full page; 20 rounds, alternating)".format(
                        *run.get("interleaved", (0, 0))
                    ),
                ),
                (
                    "SQL per page",
                    ", ".join(f"{k} {v['statements']} ({v['sql_ms']} ms)" for k, v in queries.items())
                    + ("  constant" if constant else "  NOT constant"),
                ),
                ("CPU", meters[size].report(per=pages, unit="page")),
            ]
        )
        if meters[size].busy_neighbours():
            print(
                "  WARNING: other processes used much of the CPU during this walk; the numbers are pessimistic."
            )
        for error in run["errors"]:
            print(f"  error: {error}")
        summary[size] = {
            "pages": pages,
            "rows": len(run["ids"]),
            "unique_rows": unique,
            "visible": visible,
            "elapsed_s": round(run["elapsed"], 2),
            "pages_per_s": round(pages / run["elapsed"], 1),
            "latency": lat,
            "first10_median_ms": round(first10, 2),
            "last10_median_ms": round(last10, 2),
            "interleaved_first_last_median_ms": [round(x, 2) for x in run.get("interleaved", ())],
            "queries": queries,
            "cpu_seconds": {k: round(v, 2) for k, v in meters[size].used.items()},
            "errors": run["errors"],
        }
    print("  web list /incidents/?page=N (through gunicorn, signed-in session, median of 5)")
    if "skipped" in web:
        print(f"    skipped: {web['skipped']}")
    else:
        web["queries"] = web_queries(USERNAME, list(web["pages"]))
        for page, row in web["pages"].items():
            q = web["queries"][page]
            print(
                f"    page {page:>6}: {row['median_ms']:>8} ms  HTTP {row['status']}  {row['bytes']:>7,} bytes  "
                f"SQL {q['statements']} statements, {q['sql_ms']} ms"
            )
    path = save_results(
        "list_pages",
        {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "database": db_version,
            "args": {k: v for k, v in vars(args).items() if k != "database_url"},
            "fill": fill_info,
            "walks": summary,
            "web_list": web,
        },
    )
    print(f"  results:  {path.relative_to(path.parent.parent.parent)}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"list benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
