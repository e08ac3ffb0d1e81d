"""Benchmark: what do 200 open incident pages cost while they keep themselves current?

Each open incident page asks its own address every ``LIVE_POLL_SECONDS`` (15 s) with the key of the state it shows
(``incidents/live.py``): ``204 No Content`` from one indexed query while nothing changed, the whole page when
something did. This script fills its own database (dropped and recreated) with ``--pages`` open incidents, each
with a lead and a dozen notes, starts Muster under gunicorn with DEBUG off, signs a team member in, and measures
through gunicorn, over HTTP:

1. unchanged polls, closed loop (``--concurrency`` clients): polls/s and CPU ms per poll (gunicorn, PostgreSQL);
2. changed polls (a key that is out of date, so the page is rendered): polls/s and CPU ms per poll;
3. ``/healthz`` the same way, as the floor of any request on this machine;
4. the real load: ``--pages`` pages polling at the interval (spread over it, as pages opened at different times
   would), for ``--duration`` seconds, with ``--change-share`` of the polls finding a change: the share of the
   machine it takes, and the latency a page sees.

Queries per poll (unchanged and changed) are counted in-process with Django's test client on the same URLs.

    .venv/bin/python bench/live_poll.py                       # PostgreSQL muster_bench_live, 200 pages
    .venv/bin/python bench/live_poll.py --pages 500 --duration 60 --change-share 0.1
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _common import (
    BenchError,
    CpuMeter,
    Gunicorn,
    add_server_arguments,
    bench_env,
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
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench_live"
NOTES = 12


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200, help="open incident pages (default 200)")
    parser.add_argument("--interval", type=float, default=15.0, help="poll interval in seconds (default 15)")
    parser.add_argument(
        "--duration", type=float, default=45.0, help="seconds of the real-load run (default 45: three rounds)"
    )
    parser.add_argument(
        "--change-share",
        type=float,
        default=0.05,
        help="share of the real-load polls that find a change (default 0.05)",
    )
    parser.add_argument("--requests", type=int, default=600, help="requests per closed-loop run (600)")
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the closed-loop runs (4)")
    add_server_arguments(
        parser,
        database_env="BENCH_LIVE_DATABASE_URL",
        default_database_url=DEFAULT_DATABASE_URL,
        workers=2,
        threads=1,
        max_seconds=600,
    )
    return parser.parse_args(argv)


# --- Data -----------------------------------------------------------------------------------------


def fill(pages: int) -> dict:
    """A team, the signed-in member, and ``pages`` open incidents declared through the services, each with a
    lead and ``NOTES`` notes (what the incident page renders when a poll finds a change)."""
    from django.contrib.auth import get_user_model

    from incidents import services
    from teams.models import Membership, Team

    started = time.perf_counter()
    User = get_user_model()
    bench = User.objects.create_user(username=USERNAME, password="bench-password", first_name="Bench")
    lead = User.objects.create_user(
        username="lead", password="bench-password", first_name="Lee", last_name="Ad"
    )
    team = Team.objects.create(name="Payments", slug="payments")
    for user in (bench, lead):
        Membership.objects.create(team=team, user=user, role=Membership.Role.MEMBER)
    ids = []
    for i in range(pages):
        incident = services.incident_declare(
            title=f"Bench incident {i}: elevated error rate on checkout",
            summary="Error rate of the checkout API above 2% for 5 minutes in eu-west-1.",
            severity="major",
            team=team,
            actor=lead,
            lead=lead,
        )
        for n in range(NOTES):
            services.incident_add_note(
                incident=incident, text=f"Note {n}: looked at the dashboards.", actor=lead
            )
        ids.append(incident.pk)
    return {"incidents": len(ids), "ids": ids, "seconds": round(time.perf_counter() - started, 1)}


def session_cookie(username: str) -> str:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def collectstatic() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def keys_of(ids: list[int]) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    from incidents.live import incident_key

    user = get_user_model().objects.get(username=USERNAME)
    return {pk: incident_key(user=user, pk=pk) for pk in ids}


def queries_per_poll(pk: int, key: str) -> dict:
    """SQL statements of one unchanged and one changed poll, in-process (test client, same URLs)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    url = f"/incidents/{pk}/"
    client.get(url)
    result = {}
    for name, since in (("unchanged", key), ("changed", "0.0")):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, {"_live": since}, HTTP_X_MUSTER_LIVE="1")
        result[name] = {"status": response.status_code, "statements": len(ctx.captured_queries)}
    for name, url in (("dashboard unchanged", "/"), ("list unchanged", "/incidents/")):
        key_now = client.get(url)["X-Live-Key"]
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, {"_live": key_now}, HTTP_X_MUSTER_LIVE="1")
        result[name] = {"status": response.status_code, "statements": len(ctx.captured_queries)}
    return result


# --- Load -----------------------------------------------------------------------------------------


def closed_loop(base: str, cookie: str, make_request, *, n: int, concurrency: int, timeout: float) -> dict:
    """``n`` requests from ``concurrency`` clients, back to back: ``make_request(i) -> (path, params)``."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        headers = {"Cookie": cookie, "X-Muster-Live": "1"}
        with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                path, params = make_request(i)
                t0 = time.perf_counter()
                response = client.get(path, params=params)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "requests": n,
        "wall_s": wall,
        "rate": n / wall,
        "statuses": statuses,
        "latency": latency_summary(latencies),
    }


def paced(
    base: str,
    cookie: str,
    keys: dict[int, str],
    *,
    interval: float,
    duration: float,
    change_share: float,
    timeout: float,
) -> dict:
    """Every page polls once per ``interval``, the pages spread evenly over it; a ``change_share`` of the polls
    carry an out-of-date key (so they render, as after a change)."""
    import httpx

    ids = list(keys)
    due = [(n * interval / len(ids), n, pk) for n, pk in enumerate(ids)]
    heapq.heapify(due)
    latencies: dict[str, list[float]] = {"unchanged": [], "changed": []}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()
    every = max(1, round(1 / change_share)) if change_share > 0 else 0

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=base, headers={"Cookie": cookie, "X-Muster-Live": "1"}, timeout=timeout
            )
        return local.client

    def one(pk: int, changed: bool) -> None:
        t0 = time.perf_counter()
        response = client().get(f"/incidents/{pk}/", params={"_live": "0.0" if changed else keys[pk]})
        elapsed = time.perf_counter() - t0
        with lock:
            latencies["changed" if changed else "unchanged"].append(elapsed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.perf_counter()
    sent = 0
    with ThreadPoolExecutor(max_workers=16) as pool:
        while True:
            at, n, pk = heapq.heappop(due)
            if at >= duration:
                break
            wait = started + at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent += 1
            pool.submit(one, pk, bool(every) and sent % every == 0)
            heapq.heappush(due, (at + interval, n, pk))
    wall = time.perf_counter() - started
    return {
        "polls": sent,
        "wall_s": wall,
        "rate": sent / wall,
        "statuses": statuses,
        "unchanged": latency_summary(latencies["unchanged"]),
        "changed": latency_summary(latencies["changed"]) if latencies["changed"] else {},
    }


def measured(server: Gunicorn, run) -> tuple[dict, CpuMeter]:
    meter = CpuMeter(
        {
            "client": lambda: [os.getpid()],
            "gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
            "postgres": lambda: pids_named("postgres"),
        }
    )
    meter.start()
    result = run()
    meter.stop()
    return result, meter


def ms_per(meter: CpuMeter, n: int, group: str) -> float:
    return round(meter.used.get(group, 0.0) / max(1, n) * 1000, 2)


# --- Main -----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    env_url = prepare_database(args.database_url, force=args.force_drop)
    env = bench_env(database_url=env_url)
    env["LIVE_POLL_SECONDS"] = str(args.interval)
    setup_django(env)
    migrate()
    db_version = database_version()
    print(f"Muster live-poll benchmark: {args.pages} open incident pages polling every {args.interval:g} s")
    print(f"  database: {db_version}  ({env_url.split('@')[-1]})")
    info = fill(args.pages)
    print(f"  filled {info['incidents']} incidents with a lead and {NOTES} notes each in {info['seconds']}s")
    collectstatic()
    cookie = session_cookie(USERNAME)
    keys = keys_of(info["ids"])
    queries = queries_per_poll(info["ids"][0], keys[info["ids"][0]])
    from django.db import connection

    connection.close()

    server = Gunicorn(env=env, workers=args.workers, threads=args.threads, port=args.port)
    print(f"  gunicorn: {args.workers} workers x {args.threads} threads on {server.base_url}")
    ids = info["ids"]
    runs: dict[str, tuple[dict, CpuMeter]] = {}
    try:
        server.start()
        import httpx

        with httpx.Client(base_url=server.base_url, headers={"Cookie": cookie}, timeout=args.timeout) as c:
            page = c.get(f"/incidents/{ids[0]}/")
            if page.status_code != 200 or "data-live-key" not in page.text:
                raise BenchError(f"the incident page answers {page.status_code} without a live key")
            for pk in ids[:8]:  # warm both workers
                c.get(f"/incidents/{pk}/")
        if args.wait_quiet:
            busy = wait_for_quiet(args.wait_quiet)
            print(f"  machine:  {busy * 100:.0f}% busy before the runs")
        common = {"n": args.requests, "concurrency": args.concurrency, "timeout": args.timeout}
        base = server.base_url
        runs["healthz"] = measured(
            server, lambda: closed_loop(base, cookie, lambda i: ("/healthz", {}), **common)
        )
        runs["unchanged"] = measured(
            server,
            lambda: closed_loop(
                base,
                cookie,
                lambda i: (f"/incidents/{ids[i % len(ids)]}/", {"_live": keys[ids[i % len(ids)]]}),
                **common,
            ),
        )
        changed_n = max(args.concurrency * 10, args.requests // 4)
        runs["changed"] = measured(
            server,
            lambda: closed_loop(
                base,
                cookie,
                lambda i: (f"/incidents/{ids[i % len(ids)]}/", {"_live": "0.0"}),
                n=changed_n,
                concurrency=args.concurrency,
                timeout=args.timeout,
            ),
        )
        runs["paced"] = measured(
            server,
            lambda: paced(
                base,
                cookie,
                keys,
                interval=args.interval,
                duration=args.duration,
                change_share=args.change_share,
                timeout=args.timeout,
            ),
        )
    except BaseException:
        server.keep_log = True
        raise
    finally:
        server.stop()

    cores = os.cpu_count() or 1
    print()
    summary: dict = {"queries": queries}
    rows = []
    for name in ("healthz", "unchanged", "changed"):
        result, meter = runs[name]
        n = result["requests"]
        lat = result["latency"]
        rows.append(
            (
                {
                    "healthz": "GET /healthz",
                    "unchanged": "poll, unchanged (204)",
                    "changed": "poll, changed (page)",
                }[name],
                f"{result['rate']:.0f}/s at {args.concurrency} clients; p50 {lat['p50_ms']} ms p99 {lat['p99_ms']} ms; "
                f"CPU gunicorn {ms_per(meter, n, 'gunicorn')} ms + postgres {ms_per(meter, n, 'postgres')} ms "
                f"per request; HTTP {result['statuses']}",
            )
        )
        summary[name] = {
            **{k: v for k, v in result.items() if k != "latency"},
            "latency": lat,
            "cpu_ms_per_request": {g: ms_per(meter, n, g) for g in meter.used},
        }
    healthz_rate = runs["healthz"][0]["rate"]
    for name in ("unchanged", "changed"):
        summary[name]["x_healthz"] = round(runs[name][0]["rate"] / healthz_rate, 3)
    paced_result, paced_meter = runs["paced"]
    wall = paced_meter.wall
    share = {g: s / wall / cores for g, s in paced_meter.used.items()}
    rows.append(
        (
            f"{args.pages} pages every {args.interval:g} s",
            f"{paced_result['rate']:.1f} polls/s for {paced_result['wall_s']:.0f} s "
            f"({args.change_share:.0%} finding a change); gunicorn {share.get('gunicorn', 0) * 100:.1f}% and "
            f"postgres {share.get('postgres', 0) * 100:.1f}% of {cores} cores; unchanged p50 "
            f"{paced_result['unchanged']['p50_ms']} ms p99 {paced_result['unchanged']['p99_ms']} ms; "
            f"HTTP {paced_result['statuses']}",
        )
    )
    rows.append(
        (
            "SQL per poll",
            ", ".join(f"{k} {v['statements']} (HTTP {v['status']})" for k, v in queries.items()),
        )
    )
    print_table(rows)
    if any(m.busy_neighbours() for _, m in runs.values()):
        print("  WARNING: other processes used much of the CPU during a run; the numbers are pessimistic.")
    summary["paced"] = {
        **paced_result,
        "cpu_share_of_machine": {g: round(v, 4) for g, v in share.items()},
        "cpu_seconds": {g: round(v, 2) for g, v in paced_meter.used.items()},
    }
    path = save_results(
        "live_poll",
        {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "database": db_version,
            "args": {k: v for k, v in vars(args).items() if k != "database_url"},
            "results": summary,
        },
    )
    print(f"  results:  {path.relative_to(path.parent.parent.parent)}")
    ok = (
        queries["unchanged"]["status"] == 204
        and queries["changed"]["status"] == 200
        and set(runs["unchanged"][0]["statuses"]) == {204}
        and set(runs["changed"][0]["statuses"]) == {200}
    )
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"live-poll benchmark: {exc}", file=sys.stderr)
        sys.exit(2)
