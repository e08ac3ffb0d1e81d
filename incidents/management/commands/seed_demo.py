"""Demo data for `make run`: users, teams, services and incidents in every state. Safe to run again."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.models import Incident, Source, TimelineEvent
from teams.models import Membership, Service, Team

USERS = [
    # username, first, last, superuser
    ("admin", "Ada", "Admin", True),
    ("alice", "Alice", "Nakamura", False),
    ("bob", "Bob", "Okafor", False),
    ("carol", "Carol", "Silva", False),
    ("dave", "Dave", "Kowalski", False),
    ("erin", "Erin", "Byrne", False),
]
TEAMS = {
    "payments": ("Payments", "Checkout, billing and payouts.", ["alice:lead", "bob:member", "carol:member"]),
    "platform": (
        "Platform",
        "Infrastructure, databases, deploys.",
        ["dave:lead", "alice:member", "erin:member"],
    ),
    "security": ("Security", "Security operations and incident response.", ["erin:lead", "admin:admin"]),
}
SERVICES = [
    ("checkout", "Checkout", "payments"),
    ("billing", "Billing", "payments"),
    ("api-gateway", "API gateway", "platform"),
    ("postgres-primary", "PostgreSQL primary", "platform"),
    ("auth", "Authentication", "security"),
]


class Command(BaseCommand):
    help = "Load demo users, teams, services and incidents (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        Site.objects.update_or_create(pk=1, defaults={"domain": "127.0.0.1:8000", "name": "Muster"})
        User = get_user_model()
        users = {}
        for username, first, last, superuser in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "is_staff": superuser or username == "carol",
                    "is_superuser": superuser,
                },
            )
            if created:
                user.set_password("muster-admin" if superuser else "muster-demo")
                user.save()
            users[username] = user
        teams = {}
        for slug, (name, description, members) in TEAMS.items():
            team, _ = Team.objects.get_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
            teams[slug] = team
            for spec in members:
                username, role = spec.split(":")
                Membership.objects.get_or_create(team=team, user=users[username], defaults={"role": role})
        for slug, name, team in SERVICES:
            Service.objects.get_or_create(slug=slug, defaults={"name": name, "team": teams[team]})

        if Incident.objects.exists():
            self.stdout.write("Demo data already loaded.")
            return
        alice, bob, carol, dave, erin = (users[u] for u in ("alice", "bob", "carol", "dave", "erin"))
        now = timezone.now()

        def declare(minutes_ago, **kwargs):
            incident = services.incident_declare(source=Source.WEB, **kwargs)
            shift = timedelta(minutes=minutes_ago)
            Incident.objects.filter(pk=incident.pk).update(declared_at=now - shift)
            TimelineEvent.objects.filter(incident=incident).update(occurred_at=now - shift)
            return incident

        inc = declare(
            42,
            title="Checkout returns 502 for card payments",
            summary="Error rate on /checkout jumped to 30% after the 14:02 deploy.",
            severity="critical",
            team="payments",
            services=["checkout", "api-gateway"],
            customer_impact=True,
            actor=bob,
        )
        services.incident_assign_role(incident=inc, role="lead", user=alice, actor=bob)
        services.incident_assign_role(incident=inc, role="messenger", user=carol, actor=alice)
        services.incident_transition(incident=inc, to="investigating", actor=alice)
        services.incident_add_note(incident=inc, text="Rolling back the 14:02 deploy first.", actor=alice)
        services.incident_transition(
            incident=inc, to="identified", actor=alice, reason="Bad config in release 2026.11.3"
        )

        inc = declare(
            15,
            title="Replication lag on the PostgreSQL primary",
            summary="Replicas are 5 minutes behind; reports are stale.",
            severity="major",
            team="platform",
            services=["postgres-primary"],
            actor=dave,
        )
        services.incident_assign_role(incident=inc, role="lead", user=dave, actor=dave)
        services.incident_transition(incident=inc, to="investigating", actor=dave)

        declare(
            3,
            title="Invoices PDF slow to render",
            severity="minor",
            team="payments",
            services=["billing"],
            actor=carol,
        )

        inc = declare(
            60 * 26,
            title="Login failures for SSO customers",
            summary="SAML assertions rejected after certificate rotation.",
            severity="major",
            team="security",
            services=["auth"],
            customer_impact=True,
            actor=erin,
        )
        services.incident_assign_role(incident=inc, role="lead", user=erin, actor=erin)
        for status in ("investigating", "identified", "monitoring", "resolved", "closed"):
            services.incident_transition(incident=inc, to=status, actor=erin)

        inc = declare(
            60 * 5, title="Alert: disk 91% on worker-3", severity="minor", team="platform", actor=dave
        )
        services.incident_transition(
            incident=inc, to="declined", actor=dave, reason="Log rotation catches up; false positive."
        )

        declare(
            9,
            title="Suspicious admin logins from unknown IPs",
            summary="Private: security investigation.",
            severity="critical",
            team="security",
            private=True,
            actor=erin,
        )
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
