"""Demo on-call data for `make run`: a layered schedule per demo team. Safe to run again.

Runs after ``seed_demo`` (which creates the users and teams) and skips teams or users that do not exist.
"""

from datetime import date, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from oncall.models import Override, Rotation, RotationMember, Schedule
from teams.models import Team

# team slug: (schedule name, time zone, [(rotation name, layer, period, hand-off, members, restrictions)])
SCHEDULES = {
    "payments": (
        "Payments primary",
        "Europe/London",
        [
            ("Weekly", 1, "weekly", time(9, 0), ["alice", "bob", "carol"], []),
            (
                "Business hours",
                2,
                "daily",
                time(9, 0),
                ["carol", "bob"],
                [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
            ),
        ],
    ),
    "platform": (
        "Platform",
        "America/New_York",
        [("Daily", 1, "daily", time(10, 0), ["dave", "erin", "alice"], [])],
    ),
    "security": (
        "Security",
        "Australia/Sydney",
        [("Weekly", 1, "weekly", time(8, 30), ["erin", "admin"], [])],
    ),
}


class Command(BaseCommand):
    help = "Load demo on-call schedules (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        users = {u.username: u for u in get_user_model().objects.all()}
        today = timezone.now().date()
        monday = today - timedelta(days=today.weekday())
        for slug, (name, tz, rotations) in SCHEDULES.items():
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                continue
            schedule, created = Schedule.objects.get_or_create(
                team=team, slug="primary", defaults={"name": name, "time_zone": tz}
            )
            if created:
                for rot_name, layer, period, handoff, members, restrictions in rotations:
                    rotation = Rotation.objects.create(
                        schedule=schedule,
                        name=rot_name,
                        layer=layer,
                        time_zone=tz,
                        start_date=monday - timedelta(days=14)
                        if period == "weekly"
                        else date(today.year, 1, 1),
                        handoff_time=handoff,
                        period=period,
                        restrictions=restrictions,
                    )
                    for position, username in enumerate(m for m in members if m in users):
                        RotationMember.objects.create(
                            rotation=rotation, user=users[username], position=position
                        )
                if slug == "platform" and "alice" in users:
                    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
                    Override.objects.create(
                        schedule=schedule,
                        user=users["alice"],
                        starts_at=start,
                        ends_at=start + timedelta(hours=12),
                        note="Covering for Dave (dentist)",
                    )
        self.stdout.write("On-call demo data loaded.")
