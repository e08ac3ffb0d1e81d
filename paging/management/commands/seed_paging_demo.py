"""Demo paging data for `make run`: a default escalation policy per demo team (its primary schedule's on-call, then
the whole team), auto-paging at the team's severity. Safe to run again.

Runs after ``seed_demo`` and ``seed_oncall_demo`` and skips teams without a primary schedule.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from incidents.models import Severity
from oncall.models import Schedule
from paging.models import EscalationPolicy, EscalationStep

AUTO_PAGE = {"payments": "critical", "platform": "major", "security": "critical"}


class Command(BaseCommand):
    help = "Load demo escalation policies (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for slug, severity in AUTO_PAGE.items():
            schedule = Schedule.objects.select_related("team").filter(team__slug=slug, slug="primary").first()
            if schedule is None or EscalationPolicy.objects.filter(team=schedule.team).exists():
                continue
            policy = EscalationPolicy.objects.create(
                team=schedule.team,
                name="Default",
                repeat=1,
                is_default=True,
                auto_page_severity=Severity.objects.filter(slug=severity).first(),
            )
            EscalationStep.objects.create(
                policy=policy, position=0, target="schedule", schedule=schedule, wait_minutes=5
            )
            EscalationStep.objects.create(policy=policy, position=1, target="team", wait_minutes=10)
        self.stdout.write("Paging demo data loaded.")
