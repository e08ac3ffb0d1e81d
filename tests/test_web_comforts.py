"""The web UI's comforts: pages with live state are never stored, one declare per intent, the app's own error
pages under DEBUG, the quick switcher, absolute times on the timeline and the timeline export."""

import pytest
from django.urls import reverse

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
