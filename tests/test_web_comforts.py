"""The web UI's comforts: pages with live state are never stored, one declare per intent, the app's own error
pages under DEBUG, the quick switcher, absolute times on the timeline and the timeline export."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, TimelineEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


# --- Cache-Control: no-store on every page with live state ---------------------------------------------------


def live_urls(incident, team):
    return [
        reverse("incidents:dashboard"),
        reverse("incidents:list"),
        reverse("incidents:list") + "?status=open",
        reverse("incidents:declare"),
        reverse("incidents:detail", args=[incident.pk]),
        reverse("incidents:timeline", args=[incident.pk]),
        reverse("incidents:team_open", args=[team.slug]),
        reverse("incidents:team_counts") + f"?teams={team.slug}",
        reverse("teams:list"),
        reverse("teams:detail", args=[team.slug]),
        reverse("oncall:index"),
        reverse("oncall:team", args=[team.slug]),
        reverse("oncall:my_shifts"),
        reverse("paging:pages"),
        reverse("notifications:incident_messages", args=[incident.pk]),
        reverse("core:api_tokens"),
    ]


def test_every_page_with_live_state_is_never_stored(member_client, incident, team):
    for url in live_urls(incident, team):
        for extra in ({}, HX):
            response = member_client.get(url, **extra)
            assert response.status_code == 200, url
            assert "text/html" in response["Content-Type"], url
            assert "no-store" in response["Cache-Control"], (url, extra)


def test_the_incident_page_after_an_action_and_its_error_pages_are_never_stored(member_client, incident):
    response = member_client.post(
        reverse("incidents:transition", args=[incident.pk]), {"to": "investigating"}
    )
    assert response.status_code == 302
    assert "no-store" in member_client.get(response["Location"])["Cache-Control"]
    assert "no-store" in member_client.get("/incidents/999999/")["Cache-Control"]


def test_json_answers_are_left_to_the_api(member_client, incident):
    response = member_client.get(f"/api/v1/incidents/{incident.pk}/")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# --- One declare per intent -------------------------------------------------------------------------------------


def declare_token(client) -> str:
    import re

    html = client.get(reverse("incidents:declare")).content.decode()
    match = re.search(r'name="intent" value="([^"]+)"', html)
    assert match, "the declare form carries a token"
    return match.group(1)


def test_the_same_declare_form_posted_twice_declares_once(member_client, member):
    token = declare_token(member_client)
    body = {"title": "Checkout returns 502", "severity": "critical", "intent": token}
    first = member_client.post(reverse("incidents:declare"), body)
    second = member_client.post(reverse("incidents:declare"), body)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert first["Location"] == incident.get_absolute_url()
    assert incident.declared_by == member
    assert TimelineEvent.objects.filter(incident=incident, kind="declared").count() == 1


def test_each_rendered_declare_form_is_its_own_intent(member_client):
    first, second = declare_token(member_client), declare_token(member_client)
    assert first != second
    for token in (first, second):
        member_client.post(
            reverse("incidents:declare"), {"title": "Disk full", "severity": "minor", "intent": token}
        )
    assert Incident.objects.count() == 2


def test_the_token_is_per_person(client, member, team):
    other = UserFactory(username="carol")
    body = {"title": "Disk full", "severity": "minor", "intent": "same-token"}
    for user in (member, other):
        client.force_login(user)
        assert client.post(reverse("incidents:declare"), body).status_code == 302
    assert Incident.objects.count() == 2


def test_a_form_with_errors_keeps_its_token_and_then_declares_once(member_client):
    token = declare_token(member_client)
    refused = member_client.post(
        reverse("incidents:declare"), {"title": "", "severity": "critical", "intent": token}
    )
    assert refused.status_code == 400
    assert f'value="{token}"' in refused.content.decode()
    body = {"title": "Checkout returns 502", "severity": "critical", "intent": token}
    assert member_client.post(reverse("incidents:declare"), body).status_code == 302
    assert member_client.post(reverse("incidents:declare"), body).status_code == 302
    assert Incident.objects.count() == 1


def test_the_same_form_sent_again_with_other_values_says_so_and_offers_a_new_token(member_client):
    token = declare_token(member_client)
    member_client.post(
        reverse("incidents:declare"), {"title": "Disk full", "severity": "minor", "intent": token}
    )
    changed = member_client.post(
        reverse("incidents:declare"), {"title": "Disk full on db-2", "severity": "minor", "intent": token}
    )
    assert changed.status_code == 400
    html = changed.content.decode()
    assert "This form already declared an incident" in html
    assert f'value="{token}"' not in html and 'name="intent"' in html
    assert Incident.objects.count() == 1


def test_a_declare_without_a_token_still_works(member_client):
    response = member_client.post(reverse("incidents:declare"), {"title": "Disk full", "severity": "minor"})
    assert response.status_code == 302
    assert Incident.objects.count() == 1


def test_a_hostile_token_is_a_clear_400(member_client):
    response = member_client.post(
        reverse("incidents:declare"),
        {"title": "Disk full", "severity": "minor", "intent": "has spaces in it"},
    )
    assert response.status_code == 400
    assert Incident.objects.count() == 0


def first_submit_in_flight(member, token, body):
    """The key row a first submit holds while its declaration runs (committed before the incident exists)."""
    from django.test import RequestFactory

    from incidents.models import IdempotencyKey, Source
    from incidents.views import _declare_fingerprint

    posted = RequestFactory().post(reverse("incidents:declare"), body)
    return IdempotencyKey.objects.create(
        source=Source.WEB, scope=f"user:{member.pk}", key=token, request_hash=_declare_fingerprint(posted)
    )


def test_a_second_submit_while_the_first_runs_waits_for_it_and_lands_on_its_incident(
    member_client, member, monkeypatch
):
    from incidents import views

    body = {"title": "Checkout returns 502", "severity": "critical", "intent": "tok-1"}
    row = first_submit_in_flight(member, "tok-1", body)
    first = services.incident_declare(title="Checkout returns 502", severity="critical", actor=member)
    waits = []

    def first_finishes(seconds):  # the first request's declaration commits while the second one waits
        waits.append(seconds)
        row.incident = first
        row.save()

    monkeypatch.setattr(views.time, "sleep", first_finishes)
    response = member_client.post(reverse("incidents:declare"), body)
    assert waits, "the second submit waited"
    assert response.status_code == 302 and response["Location"] == first.get_absolute_url()
    assert Incident.objects.count() == 1


def test_a_second_submit_gives_up_waiting_with_a_clear_message(member_client, member, monkeypatch):
    from incidents import views

    body = {"title": "Checkout returns 502", "severity": "critical", "intent": "tok-2"}
    first_submit_in_flight(member, "tok-2", body)
    monkeypatch.setattr(views, "DECLARE_WAIT_SECONDS", 0.05)
    response = member_client.post(reverse("incidents:declare"), body)
    assert response.status_code == 400
    assert "still being processed" in response.content.decode()
    assert Incident.objects.count() == 0


# --- The app's own 404 under DEBUG ------------------------------------------------------------------------------


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Leaked signing key", severity="critical", actor=member, team=team, private=True
    )


@pytest.mark.parametrize("debug", [True, False])
def test_a_private_incident_opened_by_an_outsider_is_musters_404_page_under_debug_too(
    client, private_incident, settings, debug
):
    settings.DEBUG = debug
    client.force_login(UserFactory(username="olga"))
    for url in (
        reverse("incidents:detail", args=[private_incident.pk]),
        reverse("incidents:timeline", args=[private_incident.pk]),
        "/incidents/999999/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert "We can't find that page" in html, url
        assert "Leaked signing key" not in html
        assert "technical_404" not in html and "Django tried these URL patterns" not in html
        assert "no-store" in response["Cache-Control"]


def test_the_api_keeps_its_json_404_under_debug(client, private_incident, settings):
    settings.DEBUG = True
    client.force_login(UserFactory(username="olga"))
    response = client.get(f"/api/v1/incidents/{private_incident.pk}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
