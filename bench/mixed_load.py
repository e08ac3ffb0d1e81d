"""Benchmark: concurrent writes on a few incidents, the load that once deadlocked (notes against role hand-offs).

Sets up its own database (dropped and recreated), a team of two people with API tokens and a few incidents,
starts Muster under gunicorn (4 processes x 4 threads by default) and sends N requests from C threads, each
picking one of: a note, a lead hand-off between the two people, a status change, a summary edit, a stakeholder
update, a severity change. Reports the answers by status code, throughput as a ratio to ``GET /healthz`` in the
same run, and checks the end state: every note answered 201 is stored once, each incident has one current lead
and one ``role_assigned`` event per assignment.

    .venv/bin/python bench/mixed_load.py                 # PostgreSQL muster_bench, 1000 requests, 40 threads
    .venv/bin/python bench/mixed_load.py -n 3000 -c 64 --incidents 1
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from _common import (
    DEFAULT_DATABASE_URL,
    BenchError,
    Gunicorn,
    add_server_arguments,
    bench_env,
    create_token,
    migrate,
    prepare_database,
    print_table,
    save_results,
    setup_django,
    wait_for_quiet,
)

PEOPLE = ("alice", "bob")
STATUSES = ("investigating", "identified", "monitoring", "investigating")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--requests", type=int, default=1000, help="requests (default 1000)")
    parser.add_argument("-c", "--concurrency", type=int, default=40, help="client threads (default 40)")
    parser.add_argument(
        "--incidents", type=int, default=2, help="incidents the load is spread over (default 2)"
    )
    parser.add_argument("--seed", type=int, default=7)
    add_server_arguments(
        parser,
        database_env="BENCH_DATABASE_URL",
        default_database_url=DEFAULT_DATABASE_URL,
        workers=4,
        threads=4,
        max_seconds=300,
    )
    return parser.parse_args(argv)


def setup(n_incidents: int) -> tuple[dict[str, str], list[int]]:
    from django.contrib.auth import get_user_model

    from incidents import services
    from teams.models import Membership, Team

    team = Team.objects.create(name="Bench team", slug="bench-team")
    users = {}
    for name in PEOPLE:
        users[name] = get_user_model().objects.create_user(name, f"{name}@example.com", "bench-password")
        Membership.objects.create(team=team, user=users[name], role=Membership.Role.LEAD)
    tokens = {name: create_token(name) for name in PEOPLE}
    ids = [
        services.incident_declare(
            title=f"Mixed load {i}", severity="major", actor=users["alice"], team=team, customer_impact=True
        ).pk
        for i in range(n_incidents)
    ]
    return tokens, ids


def request_for(rng: random.Random, i: int, incident_ids: list[int]):
    incident = rng.choice(incident_ids)
    base = f"/api/v1/incidents/{incident}/"
    who = rng.choice(PEOPLE)
    kind = rng.choices(
        ["note", "role", "transition", "edit", "update", "severity"], weights=[30, 25, 15, 10, 10, 10]
    )[0]
    if kind == "note":
        return kind, who, "POST", base + "notes/", {"text": f"note {i}"}
    if kind == "role":
        return kind, who, "POST", base + "roles/", {"role": "lead", "user": rng.choice(PEOPLE)}
    if kind == "transition":
        return kind, who, "POST", base + "transition/", {"to": STATUSES[i % len(STATUSES)]}
    if kind == "edit":
        return kind, who, "PATCH", base, {"summary": f"summary {i}"}
    if kind == "update":
        return kind, who, "POST", base + "updates/", {"text": f"Still investigating ({i})."}
    return kind, who, "POST", base + "severity/", {"severity": rng.choice(["critical", "major"])}


def run(base_url: str, tokens: dict[str, str], plan: list, concurrency: int, timeout: float) -> dict:
    import httpx

    answers: Counter = Counter()
    by_kind: Counter = Counter()
    notes_ok: Counter = Counter()
    lock = threading.Lock()
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = {
        name: httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, limits=limits, timeout=timeout
        )
        for name, token in tokens.items()
    }

    def worker() -> None:
        while (i := next(counter)) < len(plan):
            kind, who, method, url, body = plan[i]
            try:
                response = clients[who].request(method, url, json=body)
                status = response.status_code
                if status == 409:  # which refusal: unchanged, invalid_transition ... or busy (contention)
                    status = f"409 {response.json().get('code', '')}"
            except httpx.HTTPError as exc:
                status = exc.__class__.__name__
            with lock:
                answers[status] += 1
                by_kind[(kind, status)] += 1
                if kind == "note" and status == 201:
                    notes_ok[url] += 1

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            started = time.perf_counter()
            for future in [pool.submit(worker) for _ in range(concurrency)]:
                future.result()
            elapsed = time.perf_counter() - started
    finally:
        for client in clients.values():
            client.close()
    return {"answers": answers, "by_kind": by_kind, "notes_ok": notes_ok, "elapsed": elapsed}


def healthz_rate(base_url: str, n: int, concurrency: int) -> float:
    import httpx

    def get(client) -> None:
        with contextlib.suppress(httpx.HTTPError):
            client.get("/healthz")

    with httpx.Client(base_url=base_url, timeout=10) as client, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: get(client), range(concurrency * 2)))  # warm up
        started = time.perf_counter()
        list(pool.map(lambda _: get(client), range(n)))
        return n / (time.perf_counter() - started)


def verify(incident_ids: list[int], notes_ok: Counter) -> dict:
    from incidents.models import RoleAssignment, TimelineEvent

    problems = []
    for pk in incident_ids:
        stored = TimelineEvent.objects.filter(incident_id=pk, kind="note_added").count()
        answered = notes_ok[f"/api/v1/incidents/{pk}/notes/"]
        if stored != answered:
            problems.append(f"incident {pk}: {answered} notes answered 201, {stored} stored")
        leads = RoleAssignment.objects.filter(incident_id=pk, role__slug="lead")
        current = leads.filter(relieved_at__isnull=True).count()
        if current != 1:
            problems.append(f"incident {pk}: {current} current leads")
        events = TimelineEvent.objects.filter(incident_id=pk, kind="role_assigned", data__role="lead").count()
        if events != leads.count():
            problems.append(f"incident {pk}: {leads.count()} lead assignments, {events} events")
    return {"ok": not problems, "problems": problems}


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = prepare_database(args.database_url, force=args.force_drop)
    env = bench_env(database_url=database_url)
    setup_django(env)
    migrate()
    tokens, incident_ids = setup(args.incidents)
    from django.db import connection

    connection.close()
    rng = random.Random(args.seed)
    plan = [request_for(rng, i, incident_ids) for i in range(args.requests)]
    if args.wait_quiet:
        wait_for_quiet(args.wait_quiet)
    server = Gunicorn(env=env, workers=args.workers, threads=args.threads, port=args.port)
    print(f"Muster mixed-load benchmark: {args.requests} requests, {args.concurrency} threads, "
          f"{args.incidents} incident(s), gunicorn {args.workers}x{args.threads}")  # fmt: skip
    try:
        server.start()
        health = healthz_rate(server.base_url, 2000, args.concurrency)
        result = run(server.base_url, tokens, plan, args.concurrency, args.timeout)
    finally:
        server.stop()
    check = verify(incident_ids, result["notes_ok"])
    rate = args.requests / result["elapsed"]

    def is_error(status) -> bool:
        code = str(status)[:3]
        return not code.isdigit() or int(code) >= 500

    server_errors = sum(n for status, n in result["answers"].items() if is_error(status))
    rows = [
        ("answers by status", ", ".join(f"{s}: {n}" for s, n in sorted(result["answers"].items(), key=str))),
        ("5xx or transport errors", str(server_errors)),
        ("writes per second", f"{rate:.1f}"),
        ("GET /healthz per second", f"{health:.1f}"),
        ("ratio to /healthz", f"{rate / health:.3f}"),
        ("end state", "consistent" if check["ok"] else "; ".join(check["problems"])),
    ]
    print_table(rows)
    for (kind, status), n in sorted(result["by_kind"].items(), key=str):
        print(f"    {kind:<10} {status}: {n}")
    save_results(
        "mixed_load",
        {
            "requests": args.requests,
            "concurrency": args.concurrency,
            "answers": {str(k): v for k, v in result["answers"].items()},
            "writes_per_second": rate,
            "healthz_per_second": health,
            "ratio": rate / health,
            "check": check,
        },
    )
    return 0 if check["ok"] and server_errors == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
