"""Benchmark: who is on call for 200 teams, and a 90-day iCal feed.

Sets up its own database (dropped and recreated), migrates, and creates T teams (default 200), each with one
schedule of two layers (a weekly rotation of 4-8 people in one of several time zones, and a business-hours layer
restricted to weekdays 09:00-17:00 in another) plus a few overrides around now. Then, in-process (the numbers are
the schedule engine and its queries, not HTTP):

1. who is on call for all T teams at once (``oncall.selectors.teams_oncall_entries``): time and SQL queries;
2. who is on call team by team (``team_oncall_entries`` per team, as ``GET /api/v1/teams/{slug}/oncall/`` does): time and
   queries per team, and the endpoint itself through Django's test client;
3. a schedule's iCal feed (7 days back, 90 ahead: compute, render) and a person's feed across their schedules,
   through ``GET /oncall/ical/...``: time, events and bytes;
4. the pure engine alone: a 90-day window of one schedule.

    .venv/bin/python bench/oncall.py                          # PostgreSQL muster_bench_oncall, 200 teams
    .venv/bin/python bench/oncall.py --teams 1000 --repeat 20
    .venv/bin/python bench/oncall.py --database-url sqlite:////tmp/muster_bench_oncall.db
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

from _common import (
    BenchError,
    bench_env,
    database_version,
    machine_info,
    migrate,
    prepare_database,
    print_table,
    save_results,
    setup_django,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/muster_bench_oncall"
ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "UTC",
]


def seed(teams: int, rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from oncall.models import Override, Rotation, RotationMember, Schedule
    from teams.models import Membership, Team

    User = get_user_model()
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        team_rows = Team.objects.bulk_create(
            [Team(name=f"Team {i:04d}", slug=f"team-{i:04d}") for i in range(teams)]
        )
        users = User.objects.bulk_create(
            [
                User(username=f"u{i:05d}", email=f"u{i:05d}@example.com", first_name="U", last_name=str(i))
                for i in range(teams * 8)
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(team=t, user=users[i * 8 + j], role="lead" if j == 0 else "member")
                for i, t in enumerate(team_rows)
                for j in range(8)
            ]
        )
        schedules = Schedule.objects.bulk_create(
            [Schedule(team=t, name="Primary", slug="primary", time_zone=rng.choice(ZONES)) for t in team_rows]
        )
        rotations, members, overrides = [], [], []
        for i, s in enumerate(schedules):
            people = users[i * 8 : i * 8 + 8]
            n = rng.randint(4, 8)
            base = Rotation(
                schedule=s,
                name="Week",
                layer=1,
                time_zone=rng.choice(ZONES),
                start_date=date(2025, 1, 6) + timedelta(days=rng.randint(0, 60)),
                handoff_time=rng.choice([time_of(9), time_of(10), time_of(0, 30)]),
                period="weekly",
            )
            day = Rotation(
                schedule=s,
                name="Business hours",
                layer=2,
                time_zone=rng.choice(ZONES),
                start_date=date(2025, 1, 6),
                handoff_time=time_of(9),
                period="daily",
                restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
            )
            rotations += [(base, people[:n]), (day, people[n - 3 : n])]
            for _ in range(rng.randint(0, 3)):
                start = now + timedelta(hours=rng.randint(-48, 24 * 60))
                overrides.append(
                    Override(
                        schedule=s,
                        user=rng.choice(people),
                        starts_at=start,
                        ends_at=start + timedelta(hours=rng.randint(2, 48)),
                    )
                )
        Rotation.objects.bulk_create([r for r, _ in rotations])
        for r, people in rotations:
            members += [RotationMember(rotation=r, user=u, position=p) for p, u in enumerate(people)]
        RotationMember.objects.bulk_create(members)
        Override.objects.bulk_create(overrides)
    return {
        "teams": teams,
        "rotations": len(rotations),
        "rotation_members": len(members),
        "overrides": len(overrides),
        "seed_s": round(time.perf_counter() - started, 2),
    }


def time_of(h: int, m: int = 0):
    from datetime import time as t

    return t(h, m)


def measure(fn, repeat: int) -> tuple[list[float], int, object]:
    """Run ``fn`` ``repeat`` times; the times, the queries of the last run and its result."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    times, result, queries = [], None, 0
    for _ in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
    return times, queries, result


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, min {min(values) * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=10, help="runs of each measurement (median reported)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_ONCALL_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--force-drop", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    url = prepare_database(args.database_url, force=args.force_drop)
    setup_django(bench_env(database_url=url))
    migrate_s = migrate()

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from oncall import selectors, services
    from oncall import shifts as engine
    from oncall.models import Schedule
    from teams.models import Team

    seeded = seed(args.teams, rng)
    teams = list(Team.objects.order_by("slug"))
    now = timezone.now()

    # 1. Everyone at once.
    all_times, all_queries, result = measure(lambda: selectors.teams_oncall_entries(teams, now), args.repeat)
    covered = sum(1 for entries in result.values() for e in entries if e.shift is not None)

    # 2. Team by team.
    per_team_times, per_team_queries, _ = measure(
        lambda: [selectors.team_oncall_entries(t, now) for t in teams], max(2, args.repeat // 3)
    )

    reader = get_user_model().objects.get(username="u00001")
    client = Client()
    client.force_login(reader)

    def api_call():
        r = client.get(f"/api/v1/teams/{teams[0].slug}/oncall/")
        if r.status_code != 200:
            raise BenchError(f"oncall API answered {r.status_code}")
        return r

    api_times, api_queries, _ = measure(api_call, args.repeat * 3)

    # 3. iCal feeds (no login).
    schedule = Schedule.objects.select_related("team").get(team=teams[0])
    anon = Client()

    def schedule_feed():
        r = anon.get(f"/oncall/ical/schedule/{schedule.ical_token}.ics")
        if r.status_code != 200:
            raise BenchError(f"schedule feed answered {r.status_code}")
        return r

    feed_times, feed_queries, feed = measure(schedule_feed, args.repeat)
    feed_events = feed.content.count(b"BEGIN:VEVENT")
    person = get_user_model().objects.get(username="u00002")
    token = services.calendar_feed_ensure(user=person).token

    def user_feed():
        r = anon.get(f"/oncall/ical/user/{token}.ics")
        if r.status_code != 200:
            raise BenchError(f"user feed answered {r.status_code}")
        return r

    user_feed_times, user_feed_queries, ufeed = measure(user_feed, args.repeat)

    # 4. The engine alone, 90 days of the first schedule (no database).
    schedule = selectors.schedule_get(pk=schedule.pk)
    specs = [selectors.rotation_spec(r) for r in schedule.rotations.all()]
    overrides = [selectors.override_spec(o) for o in selectors.override_list(schedule=schedule)]
    engine_times = []
    for _ in range(args.repeat * 10):
        started = time.perf_counter()
        timeline = engine.compute(specs, overrides, now, now + timedelta(days=90))
        engine_times.append(time.perf_counter() - started)

    rows = [
        ("database", database_version()),
        (
            "seeded",
            f"{seeded['teams']} teams, {seeded['rotations']} rotations, {seeded['rotation_members']} members, {seeded['overrides']} overrides",
        ),
        (
            f"on call, {len(teams)} teams at once",
            f"{ms(all_times)}, {all_queries} queries, {covered} schedules covered now",
        ),
        (
            f"on call, team by team ({len(teams)})",
            f"{ms(per_team_times)}, {per_team_queries} queries ({per_team_queries / len(teams):.0f}/team)",
        ),
        ("GET /api/v1/teams/{slug}/oncall/", f"{ms(api_times)}, {api_queries} queries"),
        (
            "schedule iCal feed (97 days)",
            f"{ms(feed_times)}, {feed_queries} queries, {feed_events} events, {len(feed.content)} bytes",
        ),
        (
            "person iCal feed (97 days)",
            f"{ms(user_feed_times)}, {user_feed_queries} queries, {ufeed.content.count(b'BEGIN:VEVENT')} events",
        ),
        (
            "engine only, 90 days, 1 schedule",
            f"{ms(engine_times)}, {len(timeline.shifts)} shifts, {len(timeline.gaps)} gaps",
        ),
    ]
    print(f"\nMuster on-call benchmark ({len(teams)} teams)")
    print_table(rows)
    path = save_results(
        "oncall",
        {
            "machine": machine_info(),
            "database": database_version(),
            "migrate_s": round(migrate_s, 2),
            "seeded": seeded,
            "oncall_all_teams": {"times_ms": [round(t * 1000, 2) for t in all_times], "queries": all_queries},
            "oncall_per_team": {
                "times_ms": [round(t * 1000, 2) for t in per_team_times],
                "queries": per_team_queries,
            },
            "api_oncall": {"times_ms": [round(t * 1000, 2) for t in api_times], "queries": api_queries},
            "schedule_feed": {
                "times_ms": [round(t * 1000, 2) for t in feed_times],
                "queries": feed_queries,
                "events": feed_events,
            },
            "user_feed": {
                "times_ms": [round(t * 1000, 2) for t in user_feed_times],
                "queries": user_feed_queries,
            },
            "engine_90_days": {"median_ms": round(statistics.median(engine_times) * 1000, 3)},
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/oncall.py: {exc}", file=sys.stderr)
        sys.exit(2)
