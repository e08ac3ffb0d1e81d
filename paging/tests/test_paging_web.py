"""Paging in the web UI and the admin: the incident page's panel, paging and acknowledging, the ack link, my pages,
the escalation policy editor."""

import pytest
from django.urls import reverse

from paging import services
from paging.models import EscalationPolicy, Page
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, member):
    client.force_login(member)
    return client


def test_incident_page_shows_the_panel_and_pages_a_person(web, incident, other_user):
    html = web.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="page-panel"' in html and 'data-testid="page-form"' in html
    response = web.post(
        reverse("paging:page_create", args=[incident.pk]),
        {"user": other_user.pk, "reason": "DB", "version": incident.version},
    )
    assert response.status_code == 302
    page = Page.objects.get()
    assert page.user == other_user and page.reason == "DB"
    html = web.get(incident.get_absolute_url()).content.decode()
    assert f'id="page-{page.pk}"' in html and "Triggered" in html
    assert "paged <strong>mallory</strong>" in html  # the timeline line


def test_paging_form_errors_are_messages_not_500s(web, incident):
    for data in ({}, {"team": "payments", "user": 1}, {"team": "nope"}, {"user": 999999}, {"user": "x"}):
        response = web.post(
            reverse("paging:page_create", args=[incident.pk]), {**data, "version": 1}, follow=True
        )
        assert response.status_code == 200
    assert not Page.objects.exists()


def test_outsider_sees_no_form_and_cannot_page(client, incident, other_user):
    client.force_login(other_user)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="page-form"' not in html
    client.post(
        reverse("paging:page_create", args=[incident.pk]),
        {"user": other_user.pk, "version": incident.version},
    )
    assert not Page.objects.exists()


def test_acknowledge_button_and_my_pages(web, client, incident, member, other_user):
    page = services.page_create(incident=incident, user=other_user, actor=member)
    client.force_login(other_user)
    html = client.get(reverse("paging:pages")).content.decode()
    assert f'id="page-{page.pk}"' in html
    response = client.post(
        reverse("paging:page_acknowledge", args=[page.pk]), {"next": reverse("paging:pages")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("paging:pages")
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED and page.acknowledged_by == other_user
    assert client.get(reverse("paging:pages") + "?status=nope&page=zz").status_code == 200


def test_ack_link_needs_a_sign_in_and_a_post(client, incident, member):
    stranger = UserFactory(username="stranger")
    page = services.page_create(incident=incident, user=member, actor=member)
    url = reverse("paging:page_ack_link", args=[page.pk, page.ack_token])
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(stranger)
    assert client.get(url).status_code == 200
    page.refresh_from_db()
    assert page.status == Page.Status.TRIGGERED  # a GET (a mail scanner) acknowledges nothing
    assert client.get(reverse("paging:page_ack_link", args=[page.pk, "wrong"])).status_code == 404
    assert client.get(reverse("paging:page_ack_link", args=[page.pk, "x" * 500])).status_code == 404
    response = client.post(url)
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.status == Page.Status.ACKNOWLEDGED and page.acknowledged_by == stranger
    assert client.post(url).status_code == 200  # twice: a message, not an error


def test_policy_editor_in_the_admin(client, admin_user, team, member):
    client.force_login(admin_user)
    lead = MembershipFactory(team=team, role=Membership.Role.LEAD).user
    data = {
        "team": team.pk,
        "name": "Default",
        "is_default": "on",
        "repeat": 1,
        "auto_page_severity": "",
        "steps-TOTAL_FORMS": 2,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "steps-0-position": 0,
        "steps-0-target": "user",
        "steps-0-user": lead.pk,
        "steps-0-wait_minutes": 5,
        "steps-1-position": 1,
        "steps-1-target": "team",
        "steps-1-wait_minutes": 10,
    }
    response = client.post(reverse("admin:paging_escalationpolicy_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = EscalationPolicy.objects.get()
    assert [(s.target, s.wait_minutes) for s in policy.steps.all()] == [("user", 5), ("team", 10)]
    bad = data | {"name": "Bad", "steps-0-wait_minutes": 0, "steps-0-user": UserFactory(username="x").pk}
    response = client.post(reverse("admin:paging_escalationpolicy_add"), bad)
    assert response.status_code == 200 and EscalationPolicy.objects.count() == 1
    assert client.get(reverse("admin:paging_page_changelist")).status_code == 200


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_incident_page_and_pages_api_cost_the_same_for_one_page_or_six(web, incident, member, team):
    from conftest import token_client

    people = [MembershipFactory(team=team).user for _ in range(5)]
    services.page_create(incident=incident, user=people[0], actor=member)
    api = token_client(member)
    api_url = f"/api/v1/incidents/{incident.pk}/pages/"
    one_page, one_api = _queries(web, incident.get_absolute_url()), _queries(api, api_url)
    for person in people[1:]:
        services.page_create(incident=incident, user=person, actor=member)
    services.page_create(incident=incident, team=team, actor=member)
    many_page = _queries(web, incident.get_absolute_url())
    assert many_page == one_page, (one_page, many_page)
    assert _queries(api, api_url) == one_api


def test_acknowledge_never_redirects_off_site(client, incident, member):
    page = services.page_create(incident=incident, user=member, actor=member)
    client.force_login(member)
    response = client.post(
        reverse("paging:page_acknowledge", args=[page.pk]), {"next": "https://evil.example.com/"}
    )
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
