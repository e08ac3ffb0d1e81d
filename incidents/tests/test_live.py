"""Live pages (incidents.live): a poll whose key is current is a 204 that costs a constant, small number of queries;
any change (a state change, a note, an incident declared elsewhere) makes the next poll render the page."""

import pytest
from django.urls import reverse

from incidents import live, services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POLL = {"HTTP_X_MUSTER_LIVE": "1"}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Leaked signing key", severity="critical", actor=member, team=team, private=True
    )


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.pk])


def key_of(response) -> str:
    return response["X-Live-Key"]


def poll(client, url, key, **extra):
    return client.get(url, {"_live": key}, **POLL, **extra)


def test_the_incident_page_carries_its_key_and_the_poll_interval(member_client, incident, settings):
    settings.LIVE_POLL_SECONDS = 2.5
    response = member_client.get(detail_url(incident))
    assert response.status_code == 200
    key = key_of(response)
    incident.refresh_from_db()
    newest = incident.events.order_by("-id").first().pk
    assert key == f"{incident.version}.{newest}"
    html = response.content.decode()
    assert f'data-live-key="{key}"' in html
    assert 'data-live-interval="2500"' in html
    # Every part that can change is a live region the browser swaps in: header, controls, the wings' panels,
    # the timeline and the update form (it carries the version).
    for region in ("incident-header", "incident-sidebar", "incident-panels", "timeline", "update-form"):
        assert f'id="{region}"' in html
    assert html.count("data-live-region") >= 5


def test_an_unchanged_poll_is_a_204_with_a_constant_few_queries(
    member_client, incident, django_assert_num_queries
):
    url = detail_url(incident)
    key = key_of(member_client.get(url))
    # Session, user, and the one query for the key: nothing is rendered.
    with django_assert_num_queries(3):
        response = poll(member_client, url, key)
    assert response.status_code == 204
    assert response.content == b""
    assert key_of(response) == key
    assert "no-store" in response["Cache-Control"]

    # Many more events and incidents cost the same.
    for n in range(20):
        services.incident_add_note(incident=incident, text=f"note {n}", actor=incident.declared_by)
        services.incident_declare(title=f"Other {n}", severity="minor", actor=incident.declared_by)
    key = key_of(member_client.get(url))
    with django_assert_num_queries(3):
        assert poll(member_client, url, key).status_code == 204


@pytest.mark.parametrize(
    "change",
    [
        lambda i, who: services.incident_transition(incident=i, to="investigating", actor=who, source="web"),
        lambda i, who: services.incident_assign_role(
            incident=i, role="lead", user=who, actor=who, source="web"
        ),
        lambda i, who: services.incident_add_note(incident=i, text="Looking at the load balancer", actor=who),
        lambda i, who: services.incident_change_severity(
            incident=i, severity="minor", actor=who, source="web"
        ),
    ],
    ids=["status", "role", "note", "severity"],
)
def test_any_change_makes_the_next_poll_render_the_page(member_client, incident, member, change):
    url = detail_url(incident)
    key = key_of(member_client.get(url))
    change(incident, member)
    response = poll(member_client, url, key)
    assert response.status_code == 200
    assert key_of(response) != key
    assert 'id="incident-sidebar"' in response.content.decode()
    # And then it is current again.
    assert poll(member_client, url, key_of(response)).status_code == 204


def test_a_poll_without_a_key_or_without_the_header_renders_the_page(member_client, incident):
    url = detail_url(incident)
    key = key_of(member_client.get(url))
    assert poll(member_client, url, "").status_code == 200  # the page asks for a full render when it is old
    assert member_client.get(url, {"_live": key}).status_code == 200  # a link, not a poll
    assert poll(member_client, url, "nonsense").status_code == 200


def test_a_private_incident_answers_no_poll_to_someone_who_may_not_see_it(client, private_incident):
    outsider = UserFactory(username="olga")
    client.force_login(outsider)
    key = live.incident_key(user=private_incident.declared_by, pk=private_incident.pk)
    assert key is not None
    response = poll(client, detail_url(private_incident), key)
    assert response.status_code == 404
    assert "X-Live-Key" not in response
    assert poll(client, reverse("incidents:detail", args=[999999]), "1.1").status_code == 404


def test_a_private_incident_polls_for_those_who_may_see_it(member_client, private_incident):
    url = detail_url(private_incident)
    key = key_of(member_client.get(url))
    assert poll(member_client, url, key).status_code == 204


def test_signed_out_the_poll_is_sent_to_sign_in(client, incident):
    response = poll(client, detail_url(incident), "1.1")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_dashboard_and_the_list_answer_204_until_something_happens(
    member_client, incident, member, django_assert_num_queries
):
    for url in (reverse("incidents:dashboard"), reverse("incidents:list")):
        key = key_of(member_client.get(url))
        with django_assert_num_queries(3):
            assert poll(member_client, url, key).status_code == 204
    dashboard_key = key_of(member_client.get(reverse("incidents:dashboard")))
    services.incident_declare(title="Card payments declined", severity="critical", actor=member)
    response = poll(member_client, reverse("incidents:dashboard"), dashboard_key)
    assert response.status_code == 200
    assert "Card payments declined" in response.content.decode()


def test_the_live_parameter_does_not_leak_into_the_list_filters_or_links(member_client, member):
    for n in range(30):
        services.incident_declare(title=f"Incident {n}", severity="minor", actor=member)
    url = reverse("incidents:list")
    response = member_client.get(url, {"status": "open", "_live": "stale"}, **POLL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "_live" not in html  # not in the pagination links
    assert response.context["filtered"] is True  # the filters still apply
    assert not response.context["form"].errors


def test_reopening_a_resolved_incident_is_labelled_reopen(member_client, incident, member):
    services.incident_transition(incident=incident, to="resolved", actor=member, source="web")
    html = member_client.get(detail_url(incident)).content.decode()
    assert 'data-testid="to-investigating">Reopen</button>' in html
    assert ">Investigate</button>" not in html
