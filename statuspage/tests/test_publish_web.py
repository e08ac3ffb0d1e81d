"""The messenger publishes from the incident page: the Status page panel, the redaction check, the timeline."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services as incident_services
from incidents.models import TimelineEvent
from statuspage import kinds, services
from statuspage.models import PublicIncident
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOST_BODY = "We are aware there is an issue with API. The database db-3.prod.internal is overloaded."


@pytest.fixture
def page(admin_user):
    page = services.status_page_create(
        actor=admin_user, name="Acme", slug="acme", is_default=True, support_email="support@example.com"
    )
    services.component_create(actor=admin_user, page=page, name="API")
    return page


@pytest.fixture
def impact_incident(member, team):
    return incident_services.incident_declare(
        title="Checkout is down", severity="critical", actor=member, team=team, customer_impact=True
    )


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def _detail(client, incident):
    return client.get(reverse("incidents:detail", args=[incident.pk]))


def _post(client, incident, **data):
    incident.refresh_from_db()
    payload = {"page": "acme", "status": "identified", "version": incident.version, "name": "Checkout errors"}
    payload.update(data)
    return client.post(reverse("statuspage:publish", args=[incident.pk]), payload)


def test_panel_shows_the_prefilled_identified_wording(member_client, impact_incident, page):
    html = _detail(member_client, impact_incident).content.decode()
    assert 'data-testid="statuspage-panel"' in html
    assert (
        "We are aware there is an issue with some of our services. We are investigating a resolution." in html
    )
    assert "If you have any questions, email support@example.com." in html
    assert f'name="version" value="{impact_incident.version}"' in html


def test_panel_hidden_without_customer_impact_when_private_or_without_permission(client, member, team, page):
    plain = incident_services.incident_declare(
        title="Internal only", severity="minor", actor=member, team=team
    )
    secret = incident_services.incident_declare(
        title="A secret thing", severity="minor", actor=member, team=team, customer_impact=True, private=True
    )
    client.force_login(member)
    assert 'data-testid="statuspage-panel"' not in _detail(client, plain).content.decode()
    assert 'data-testid="statuspage-panel"' not in _detail(client, secret).content.decode()
    public = incident_services.incident_declare(
        title="Visible", severity="minor", actor=member, team=team, customer_impact=True
    )
    assert 'data-testid="statuspage-panel"' in _detail(client, public).content.decode()
    outsider = MembershipFactory(user=UserFactory(username="outsider")).user
    client.force_login(outsider)
    response = _detail(client, public)
    assert response.status_code == 200
    assert 'data-testid="statuspage-panel"' not in response.content.decode()
    # Posting anyway is refused and publishes nothing.
    response = _post(client, public, body="We are aware.")
    assert response.status_code == 403
    assert not PublicIncident.objects.exists()


def test_internal_hostname_is_flagged_and_nothing_published_until_confirmed(
    member_client, impact_incident, page
):
    response = _post(member_client, impact_incident, body=HOST_BODY)
    html = response.content.decode()
    assert response.status_code == 200
    assert "internal hostname db-3.prod.internal" in html
    assert "I have checked: publish anyway" in html
    assert not PublicIncident.objects.exists()
    # Ticking the box without the digest of the checked text does not publish either.
    response = _post(member_client, impact_incident, body=HOST_BODY, confirm="on")
    assert "internal hostname db-3.prod.internal" in response.content.decode()
    assert not PublicIncident.objects.exists()
    checked = response.context["sp_checked"]
    response = _post(member_client, impact_incident, body=HOST_BODY, confirm="on", checked=checked)
    assert response.status_code == 302
    assert PublicIncident.objects.get().updates.get().body == HOST_BODY


def test_confirmed_publish_is_public_signed_out_and_on_the_timeline(client, member, impact_incident, page):
    client.force_login(member)
    body = "We are aware there is an issue with API. We are investigating a resolution."
    api = page.components.get()
    response = _post(client, impact_incident, body=body, **{f"component-{api.code}": "major_outage"})
    assert response.status_code == 302, response.content.decode()[:2000]
    public = PublicIncident.objects.get()
    assert public.incident_id == impact_incident.pk and public.status == "identified"
    event = TimelineEvent.objects.get(incident=impact_incident, kind=kinds.PUBLISHED)
    assert event.data["status"] == "identified" and event.data["page"] == "acme"
    assert event.actor_id == member.pk
    html = _detail(client, impact_incident).content.decode()
    assert "published <strong>Identified</strong> to the status page <strong>Acme</strong>" in html
    assert 'data-testid="statuspage-last"' in html

    client.logout()
    summary = json.loads(client.get("/status/api/v2/summary.json").content)
    assert [i["name"] for i in summary["incidents"]] == ["Checkout errors"]
    assert summary["incidents"][0]["incident_updates"][0]["body"] == body
    assert summary["components"][0]["status"] == "major_outage"
    assert body in client.get("/status/").content.decode()

    # The next natural status is prefilled; publishing it adds an update to the same public incident.
    client.force_login(member)
    html = _detail(client, impact_incident).content.decode()
    assert '<option value="monitoring" selected>' in html
    response = _post(client, impact_incident, status="resolved", body="We have resolved the issue.")
    assert response.status_code == 302
    public.refresh_from_db()
    assert public.status == "resolved" and public.updates.count() == 2
    assert TimelineEvent.objects.filter(kind=kinds.PUBLISHED).count() == 2


def test_stale_version_is_refused(member_client, member, impact_incident, page):
    incident_services.incident_transition(incident=impact_incident, to="identified", actor=member)
    impact_incident.refresh_from_db()
    stale = impact_incident.version - 1
    response = member_client.post(
        reverse("statuspage:publish", args=[impact_incident.pk]),
        {"page": "acme", "status": "identified", "body": "We are aware.", "version": stale},
    )
    assert response.status_code == 412
    assert "Nothing was changed" in response.content.decode()
    assert not PublicIncident.objects.exists()


def test_private_incident_and_bad_input_are_4xx(member_client, member, team, impact_incident, page):
    secret = incident_services.incident_declare(
        title="A secret thing", severity="minor", actor=member, team=team, customer_impact=True, private=True
    )
    assert _post(member_client, secret, body="We are aware.").status_code == 403
    assert _post(member_client, impact_incident, body="x", status="bogus").status_code == 400
    assert _post(member_client, impact_incident, body="x", page="nope").status_code == 400
    assert _post(member_client, impact_incident, body="").status_code == 400
    api = page.components.get()
    assert (
        _post(member_client, impact_incident, body="x", **{f"component-{api.code}": "on_fire"}).status_code
        == 400
    )
    assert _post(member_client, impact_incident, body="x", status="postmortem").status_code in (400, 409, 422)
    assert not PublicIncident.objects.exists()


def test_panel_query_count_does_not_grow_with_updates(
    member_client, member, admin_user, impact_incident, page
):
    _post(member_client, impact_incident, body="We are aware.")
    url = reverse("incidents:detail", args=[impact_incident.pk])
    member_client.get(url)
    with CaptureQueriesContext(connection) as one:
        member_client.get(url)
    public = PublicIncident.objects.get()
    services.component_create(actor=admin_user, page=page, name="Dashboard")
    for n in range(4):
        services.public_update_publish(
            actor=admin_user, public_incident=public, status="identified", body=f"update {n}"
        )
    with CaptureQueriesContext(connection) as many:
        response = member_client.get(url)
    assert "update 3" in response.content.decode()
    assert len(many) == len(one)


def test_staff_emails_and_private_titles_are_flagged(member_client, member, team, impact_incident, page):
    incident_services.incident_declare(
        title="Credential leak in the billing vault", severity="minor", actor=member, team=team, private=True
    )
    staff = UserFactory(username="dana", email="dana@example.com")
    body = f"Related to the Credential leak in the billing vault; ask {staff.email} or support@example.com."
    html = _post(member_client, impact_incident, body=body).content.decode()
    assert "staff email dana@example.com" in html
    assert "title of a private incident" in html
    assert "support@example.com" not in html.split('data-testid="statuspage-findings"')[1].split("</ul>")[0]
    assert not PublicIncident.objects.exists()


def test_several_pages_offer_a_choice_and_a_page_lead_may_publish(client, admin_user, team, impact_incident):
    from teams.models import Membership
    from tests.factories import TeamFactory

    other_team = TeamFactory(name="Support", slug="support")
    services.status_page_create(actor=admin_user, name="Acme", slug="acme", is_default=True)
    services.status_page_create(actor=admin_user, name="Partners", slug="partners", team=other_team)
    lead = MembershipFactory(
        team=other_team, user=UserFactory(username="lena"), role=Membership.Role.LEAD
    ).user
    client.force_login(admin_user)
    html = _detail(client, impact_incident).content.decode()
    assert 'data-testid="statuspage-page"' in html and ">Partners</option>" in html
    # The lead of the Partners page's team is not on the incident's team: only that page is offered.
    client.force_login(lead)
    html = _detail(client, impact_incident).content.decode()
    assert 'data-testid="statuspage-panel"' in html and 'value="partners"' in html
    assert 'value="acme"' not in html
    assert _post(client, impact_incident, page="acme", body="We are aware.").status_code == 400
    response = _post(client, impact_incident, page="partners", body="We are aware.")
    assert response.status_code == 302
    assert PublicIncident.objects.get().page.slug == "partners"
