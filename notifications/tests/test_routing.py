"""Routing rules: which destinations an incident event reaches, as a table, and the seeded process defaults."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import EventKind, Severity, TimelineEvent
from notifications import routing
from notifications.models import AttentionWindow, Destination, Message, RoutingRule
from tests.factories import ServiceFactory, TeamFactory

DEFAULT_NAMES = {"#incidents", "#customer-support", "#ce", "#sales", "#marketing", "#general"}


def _names(event) -> set[str]:
    return {d.name for d in routing.destinations_for(event)}


def _declare(user, **kwargs):
    incident = incident_services.incident_declare(title="Checkout errors", actor=user, **kwargs)
    return incident, incident.events.get(kind=EventKind.DECLARED)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("severity", "impact", "expected"),
    [
        ("minor", False, {"#incidents"}),
        ("major", False, {"#incidents"}),
        ("major", True, {"#incidents", "#customer-support", "#ce", "#sales", "#marketing"}),
        ("critical", False, {"#incidents", "#general"}),
        ("critical", True, DEFAULT_NAMES),
    ],
)
def test_seeded_rules_follow_the_process(user, severity, impact, expected):
    _, event = _declare(user, severity=severity, customer_impact=impact)
    assert _names(event) == expected


@pytest.mark.django_db
def test_executive_list_joins_critical_incidents_once_it_is_activated(user):
    Destination.objects.filter(name="Executive email list").update(active=True)
    _, event = _declare(user, severity="critical")
    assert "Executive email list" in _names(event)


@pytest.mark.django_db
def test_attention_window_sends_every_incident_to_marketing_whatever_its_severity(user):
    now = timezone.now()
    _, before = _declare(user, severity="minor")
    assert "#marketing" not in _names(before)
    AttentionWindow.objects.create(
        note="Launch day", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    _, during = _declare(user, severity="minor")
    assert _names(during) == {"#incidents", "#marketing"}


@pytest.mark.django_db
def test_an_expired_or_future_window_changes_nothing(user):
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Past", starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    AttentionWindow.objects.create(
        note="Future", starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2)
    )
    _, event = _declare(user, severity="minor")
    assert _names(event) == {"#incidents"}


@pytest.mark.django_db
def test_team_and_service_conditions(user):
    payments, search = TeamFactory(slug="payments"), TeamFactory(slug="search")
    checkout = ServiceFactory(team=payments, slug="checkout")
    team_dest = Destination.objects.create(name="#payments", channel="slack", slack_channel="#payments")
    service_dest = Destination.objects.create(name="#checkout", channel="slack", slack_channel="#checkout")
    RoutingRule.objects.create(name="Payments", team=payments).destinations.add(team_dest)
    RoutingRule.objects.create(name="Checkout", service=checkout).destinations.add(service_dest)

    _, ev_search = _declare(user, severity="minor", team=search)
    _, ev_pay = _declare(user, severity="minor", team=payments)
    _, ev_checkout = _declare(user, severity="minor", team=payments, services=[checkout])
    assert _names(ev_search) == {"#incidents"}
    assert _names(ev_pay) == {"#incidents", "#payments"}
    assert _names(ev_checkout) == {"#incidents", "#payments", "#checkout"}


@pytest.mark.django_db
def test_event_kinds_disabled_rules_inactive_destinations_and_private_incidents(user):
    notes = Destination.objects.create(name="#notes", channel="slack", slack_channel="#notes")
    RoutingRule.objects.create(name="Notes", event_kinds=["note_added"]).destinations.add(notes)
    incident, declared = _declare(user, severity="minor")
    assert "#notes" not in _names(declared)
    note = incident_services.incident_add_note(incident=incident, text="Looking", actor=user)
    assert _names(note) == {"#notes"}

    RoutingRule.objects.filter(name="Every incident to #incidents").update(enabled=False)
    Destination.objects.filter(name="#general").update(active=False)
    _, critical = _declare(user, severity="critical")
    assert _names(critical) == set()

    RoutingRule.objects.filter(name="Every incident to #incidents").update(enabled=True)
    _, secret = _declare(user, severity="critical", private=True)
    assert _names(secret) == set()
    RoutingRule.objects.filter(name="Every incident to #incidents").update(include_private=True)
    assert _names(secret) == {"#incidents"}


@pytest.mark.django_db
def test_escalating_to_critical_reaches_general(user):
    incident, _ = _declare(user, severity="major")
    incident_services.incident_change_severity(incident=incident, severity="critical", actor=user)
    event = TimelineEvent.objects.select_related("incident").get(
        incident=incident, kind=EventKind.SEVERITY_CHANGED
    )
    assert "#general" in _names(event)
    assert Severity.objects.get(slug="critical").rank == 1


@pytest.mark.django_db
def test_two_rules_naming_one_channel_post_once_and_a_rerun_writes_nothing_new(
    user, slack_peer, django_capture_on_commit_callbacks
):
    now = timezone.now()
    AttentionWindow.objects.create(
        note="Launch", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident, event = _declare(user, severity="major", customer_impact=True)
    marketing = [p for p in slack_peer.delivered("chat.postMessage") if p["channel"] == "#marketing"]
    assert len(marketing) == 1
    count = Message.objects.filter(incident=incident).count()
    routing.route_event(event)  # a consumer run replayed by hand: every draft's dedupe key exists
    assert Message.objects.filter(incident=incident).count() == count


@pytest.mark.django_db
def test_disabled_channels_write_no_rows(user, settings):
    settings.SLACK_BOT_TOKEN = ""
    settings.NOTIFY_EMAIL = False
    Destination.objects.filter(name="Executive email list").update(active=True)
    incident, event = _declare(user, severity="critical", customer_impact=True)
    routing.route_event(event)
    assert not Message.objects.filter(incident=incident).exists()


@pytest.mark.django_db
def test_email_list_fans_out_one_row_per_address_with_shared_content(user, settings):
    settings.NOTIFY_EMAIL = True
    settings.SLACK_BOT_TOKEN = ""
    Destination.objects.filter(name="Executive email list").update(
        active=True, email_addresses="a@example.com\nb@example.com, A@example.com b@example.com"
    )
    incident, event = _declare(user, severity="critical")
    routing.route_event(event)
    rows = list(Message.objects.filter(incident=incident, channel="email"))
    assert sorted(m.target for m in rows) == ["a@example.com", "b@example.com"]
    assert {m.subject for m in rows} == {f"[INC-{incident.pk}] [Critical] Checkout errors · Triage"}
    assert all(m.event_id == event.pk and m.status == "pending" for m in rows)


def test_dedupe_keys_stay_short_and_distinct():
    long_a = routing.dedupe_key("ev", 1, "dest", 2, "a" * 300 + "@example.com")
    long_b = routing.dedupe_key("ev", 1, "dest", 2, "b" * 300 + "@example.com")
    assert len(long_a) <= 255 and len(long_b) <= 255
    assert long_a != long_b
    assert routing.dedupe_key("ev", 1, "dest", 2) == "ev:1:dest:2"


@pytest.mark.django_db
def test_a_routed_webhook_describes_the_incident_with_the_shared_block(user, settings):
    settings.SITE_URL = "https://muster.example.com/"
    payments = TeamFactory(slug="payments")
    hook = Destination.objects.create(name="hook", channel="webhook", webhook_url="http://127.0.0.1:9/hook")
    RoutingRule.objects.create(name="Payments", team=payments).destinations.add(hook)
    incident, event = _declare(user, severity="major", team=payments, customer_impact=True)
    routing.route_event(event)
    payload = Message.objects.get(incident=incident, channel="webhook").payload
    assert payload["type"] == "incident.declared" and payload["event"]["id"] == event.pk
    assert payload["incident"] == {
        "id": incident.pk,
        "reference": f"INC-{incident.pk}",
        "title": "Checkout errors",
        "status": "triage",
        "severity": "major",
        "customer_impact": True,
        "team": "payments",
        "url": f"https://muster.example.com/incidents/{incident.pk}/",
    }
