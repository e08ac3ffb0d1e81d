"""Two responders click on the same state at the same moment (same expected version): exactly one click wins, the
other is refused as stale and says who won. On PostgreSQL, with real threads and row locks; through the services
and through the API's If-Match."""

import threading

import pytest
from django.db import connection, connections

from conftest import token_client
from core.errors import StaleState
from incidents import services
from incidents.models import Incident, RoleAssignment, TimelineEvent
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises all writers)"
    ),
]


def race(*calls):
    """Run ``calls`` in threads released together; what each returned or raised, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(5)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.fixture
def responders(team):
    return [
        MembershipFactory(
            team=team, user=UserFactory(username=f"racer{i}", first_name="Racer", last_name=str(i))
        ).user
        for i in range(2)
    ]


@pytest.fixture
def declared(member, team):
    return services.incident_declare(title="Race", severity="major", actor=member, team=team)


def test_two_take_it_clicks_on_the_same_version_leave_one_lead_and_one_refusal(declared, responders):
    shown = Incident.objects.get(pk=declared.pk).version
    results = race(
        *(
            lambda u=u: services.incident_assign_role(
                incident=declared.pk, role="lead", user=u, actor=u, expected_version=shown
            )
            for u in responders
        )
    )
    won = [r for r in results if isinstance(r, RoleAssignment)]
    refused = [r for r in results if isinstance(r, StaleState)]
    assert len(won) == 1 and len(refused) == 1, results
    winner = won[0].user
    assert refused[0].message.startswith(f"Racer {winner.last_name} became incident lead ")
    current = RoleAssignment.objects.filter(incident=declared, role__slug="lead", relieved_at__isnull=True)
    assert [a.user_id for a in current] == [winner.pk]
    assert TimelineEvent.objects.filter(incident=declared, kind="role_assigned").count() == 1
    assert Incident.objects.get(pk=declared.pk).version == shown + 1


def test_two_status_clicks_on_the_same_version_make_one_change(declared, responders):
    # Investigate and Decline are both allowed from triage, and Decline is allowed after Investigate: without the
    # version check both would apply, one after the other.
    shown = Incident.objects.get(pk=declared.pk).version
    targets = ["investigating", "declined"]
    results = race(
        *(
            lambda u=u, to=to: services.incident_transition(
                incident=declared.pk, to=to, actor=u, expected_version=shown
            )
            for u, to in zip(responders, targets, strict=True)
        )
    )
    won = [r for r in results if isinstance(r, Incident)]
    refused = [r for r in results if isinstance(r, StaleState)]
    assert len(won) == 1 and len(refused) == 1, results
    assert Incident.objects.get(pk=declared.pk).status == won[0].status
    assert TimelineEvent.objects.filter(incident=declared, kind="status_changed").count() == 1


def test_two_api_clients_with_the_same_if_match_get_one_200_and_one_412(declared, responders):
    shown = Incident.objects.get(pk=declared.pk).version
    clients = [token_client(u) for u in responders]
    path = f"/api/v1/incidents/{declared.pk}/roles/"
    results = race(
        *(
            lambda c=c, u=u: c.post(
                path, {"role": "lead", "user": u.username}, format="json", HTTP_IF_MATCH=f'"{shown}"'
            )
            for c, u in zip(clients, responders, strict=True)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 412], results
    loser = next(r for r in results if r.status_code == 412)
    assert loser.json()["code"] == "stale"
    assert loser["ETag"] == f'"{shown + 1}"'
    winner = next(r for r in results if r.status_code == 201)
    assert winner["ETag"] == f'"{shown + 1}"'
    assert RoleAssignment.objects.filter(incident=declared, relieved_at__isnull=True).count() == 1
