"""Two people change one incident at the same moment: the row lock makes one of them win, cleanly."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from core.errors import InvalidTransition
from incidents import services
from incidents.models import Incident, TimelineEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises all writers)"
    ),
]


def test_concurrent_transitions_cannot_both_win(member, team):
    incident = services.incident_declare(title="Race", severity="major", actor=member, team=team)
    first_holds_lock = threading.Event()
    results: dict[str, object] = {}

    def first():
        try:
            with transaction.atomic():
                services.incident_transition(incident=incident.pk, to="investigating", actor=member)
                first_holds_lock.set()
                time.sleep(0.8)  # keep the row locked while the second tries
            results["first"] = "ok"
        finally:
            connections.close_all()

    def second():
        try:
            first_holds_lock.wait(5)
            try:
                services.incident_transition(incident=incident.pk, to="investigating", actor=member)
                results["second"] = "ok"
            except InvalidTransition as exc:
                results["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)

    assert results["first"] == "ok"
    assert isinstance(results["second"], InvalidTransition)
    assert "already investigating" in str(results["second"])
    assert Incident.objects.get(pk=incident.pk).status == "investigating"
    assert TimelineEvent.objects.filter(incident=incident, kind="status_changed").count() == 1


def test_concurrent_role_handoffs_leave_one_holder(member, team):
    from tests.factories import MembershipFactory, UserFactory

    incident = services.incident_declare(title="Race", severity="major", actor=member, team=team)
    others = [MembershipFactory(team=team, user=UserFactory(username=f"racer{i}")).user for i in range(4)]
    barrier = threading.Barrier(len(others))
    errors: list[Exception] = []

    def take(user):
        try:
            barrier.wait(5)
            services.incident_assign_role(incident=incident.pk, role="lead", user=user, actor=user)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(u,)) for u in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)

    assert errors == []  # serialised by the lock: each hand-off relieves the previous holder
    current = incident.role_assignments.filter(role__slug="lead", relieved_at__isnull=True)
    assert current.count() == 1
    assert incident.role_assignments.filter(role__slug="lead").count() == 4
    assert TimelineEvent.objects.filter(incident=incident, kind="role_assigned").count() == 4
