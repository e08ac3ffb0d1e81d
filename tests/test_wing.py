"""The house's extension points, proved end to end by a wing that exists only in the tests (``tests/wing``).

The wing registers an event kind, a consumer, an incident-page panel and a transport in its ``ready()``; nothing in
``incidents/`` or ``notifications/`` names it. Each test fails if one of those registries stops working.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.kinds import get_kind, routable_kinds
from incidents.models import TimelineEvent
from notifications import services as notify_services
from notifications.models import Destination, Message, RoutingRule
from tests.wing.apps import PINGED, SENT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sent():
    SENT.clear()
    yield
    SENT.clear()


@pytest.fixture
def ping(django_capture_on_commit_callbacks):
    """Record a ping and run what happens after its commit (consumers, then delivery), as a worker would."""

    def record(incident, room="room-ops", text="hello from the wing"):
        with django_capture_on_commit_callbacks(execute=True):
            return services.incident_record_event(
                incident=incident, kind=PINGED, text=text, data={"room": room}
            )

    return record


def test_the_wing_kind_is_registered_and_routable():
    assert get_kind(PINGED).label == "Wing pinged"
    assert get_kind(PINGED).registered
    assert PINGED in routable_kinds()


def test_an_unregistered_kind_is_refused_when_recorded(incident):
    from core.errors import ValidationError

    with pytest.raises(ValidationError):
        services.incident_record_event(incident=incident, kind="wing.never_registered", text="x")


def test_the_event_is_recorded_and_its_consumer_sends_through_the_wing_transport(incident, ping):
    event = ping(incident)
    assert TimelineEvent.objects.filter(incident=incident, kind=PINGED).count() == 1
    echo = Message.objects.get(event=event, kind="echo")
    assert (echo.channel, echo.target, echo.status) == ("wing", "room-ops", Message.Status.SENT)
    assert {"id": echo.pk, "kind": "echo", "target": "room-ops", "body": "echo: hello from the wing"} in SENT
    assert echo.external_id == f"wing-{echo.pk}"


def test_a_routing_rule_matches_the_wing_kind_and_the_transport_delivers(incident, ping):
    destination = Destination.objects.create(name="Wing ops", channel="wing", address="room-routed")
    rule = RoutingRule.objects.create(name="Pings to the wing", event_kinds=[PINGED])
    rule.destinations.add(destination)
    event = ping(incident, room="")  # no echo: only the rule sends
    routed = Message.objects.get(event=event, destination=destination)
    assert (routed.channel, routed.kind, routed.target, routed.status) == (
        "wing",
        "post",
        "room-routed",
        Message.Status.SENT,
    )
    assert [m["target"] for m in SENT] == ["room-routed"]
    assert f"The wing was pinged about {incident.reference}" in SENT[0]["body"]  # the kind's recap template


def test_the_transport_checks_its_own_destinations():
    from core.errors import ValidationError

    with pytest.raises(ValidationError) as raised:
        notify_services.destination_check(Destination(name="Bad", channel="wing", address="lobby"))
    assert raised.value.field == "address"
    notify_services.destination_check(Destination(name="Good", channel="wing", address="room-1"))
    with pytest.raises(ValidationError):
        notify_services.destination_check(Destination(name="Nowhere", channel="pigeon"))


def test_a_permanent_failure_of_the_wing_transport_goes_dead(incident, ping):
    event = ping(incident, room="room-closed")
    echo = Message.objects.get(event=event, kind="echo")
    assert (echo.status, echo.last_error) == (Message.Status.DEAD, "room_closed")


def test_the_kind_and_the_panel_render_on_the_incident_page(client, member, incident, ping):
    ping(incident, room="room-ops")
    client.force_login(member)
    page = client.get(incident.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-kind="wing.pinged"' in html
    assert 'data-testid="wing-ping">room-ops</span>' in html
    assert 'data-testid="wing-panel"' in html
    assert f"1 ping for {incident.reference}" in html


def test_the_panel_stays_away_when_its_context_says_so(client, member, incident):
    client.force_login(member)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="wing-panel"' not in html


def test_the_api_shows_the_wing_kind_and_documents_it(member_api, incident, ping):
    ping(incident)
    answer = member_api.get(reverse("api-incident-timeline", args=[incident.pk]))
    assert answer.status_code == 200
    rows = answer.json()["results"] if isinstance(answer.json(), dict) else answer.json()
    pinged = [row for row in rows if row["kind"] == PINGED]
    assert len(pinged) == 1 and pinged[0]["kind_label"] == "Wing pinged"
    schema = member_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "wing.pinged" in schema


def test_a_stored_kind_whose_app_is_gone_still_renders(client, member, incident):
    TimelineEvent.objects.create(incident=incident, kind="gone_app.thing", text="left behind")
    client.force_login(member)
    page = client.get(incident.get_absolute_url())
    assert page.status_code == 200
    assert 'data-kind="gone_app.thing"' in page.content.decode()
    assert "gone app.thing" in page.content.decode().lower()


def test_the_incident_page_costs_the_same_with_more_panel_and_timeline_rows(client, member, incident, ping):
    client.force_login(member)
    ping(incident)
    with CaptureQueriesContext(connection) as few:
        assert client.get(incident.get_absolute_url()).status_code == 200
    for n in range(6):
        ping(incident, text=f"ping {n}")
        services.incident_add_note(incident=incident, text=f"note {n}", actor=member)
    with CaptureQueriesContext(connection) as many:
        assert client.get(incident.get_absolute_url()).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_team_page_dashboard_and_navigation_show_the_wing(client, member, team):
    client.force_login(member)
    team_page = client.get(reverse("teams:detail", args=[team.slug])).content.decode()
    assert f'data-testid="wing-team-panel">Wing room of {team.name}' in team_page
    # The apps below the team page contribute through the same slots: declare and on-call buttons.
    assert f"{reverse('incidents:declare')}?team={team.slug}" in team_page
    assert reverse("oncall:team", args=[team.slug]) in team_page
    dashboard = client.get(reverse("incidents:dashboard")).content.decode()
    assert 'data-testid="wing-dashboard-panel"' in dashboard
    nav = dashboard.split('id="primary-nav"', 1)[1].split("</nav>", 1)[0]
    links = {
        label.strip(): current
        for current, label in re.findall(
            r'<a href="[^"]*" ((?:aria-current="page")?)>.*?</svg>([^<]+)</a>', nav, re.S
        )
    }
    assert links["Wing room"] == ""  # incidents:list, but on the dashboard only Dashboard is current
    assert links["Dashboard"] == 'aria-current="page"'
    assert list(links).index("Wing room") > list(links).index("On call")  # in registration order
    assert 'data-testid="wing-menu"' in dashboard and "Wing settings" in dashboard


def test_the_wing_hint_shows_in_the_header_of_its_incidents_only(client, member, team, incident):
    from incidents import services as incident_services

    client.force_login(member)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="hint-wing.room"' not in html
    ours = incident_services.incident_declare(
        title="Wing fell off", severity="minor", actor=member, team=team
    )
    html = client.get(ours.get_absolute_url()).content.decode()
    assert 'data-testid="hint-wing.room"' in html and "The wing room is open" in html
    assert 'data-testid="wing-hint-link"' in html


def test_the_wing_badge_counts_for_the_signed_in_person_it_is_for(client, member):
    from tests.factories import UserFactory

    client.force_login(member)
    assert 'data-testid="nav-badge-wing"' not in client.get(reverse("incidents:dashboard")).content.decode()
    client.force_login(UserFactory(username="wing-fan"))
    html = client.get(reverse("incidents:dashboard")).content.decode()
    assert 'data-testid="nav-badge-wing">2<span class="sr-only"> waiting</span></span>' in html
