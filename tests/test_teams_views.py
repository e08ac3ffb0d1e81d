"""The staff web UI for teams: list, detail, adding members, creating teams."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from teams.models import Membership, Team
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(team):
    return MembershipFactory(
        team=team, user=UserFactory(username="lena", first_name="Lena"), role=Membership.Role.LEAD
    ).user


@pytest.fixture
def staff(db):
    return UserFactory(username="stan", is_staff=True)


def test_pages_render_for_a_signed_in_user(client, member, team):
    client.force_login(member)
    assert client.get(reverse("teams:list")).status_code == 200
    assert client.get(reverse("teams:detail", args=[team.slug])).status_code == 200


def test_pages_require_sign_in(client, team):
    for url in (
        reverse("teams:list"),
        reverse("teams:detail", args=[team.slug]),
        reverse("teams:create"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    response = client.post(reverse("teams:member_add", args=[team.slug]), {"username": "x", "role": "member"})
    assert response.status_code == 302
    assert not Membership.objects.exists()


def test_unknown_team_is_a_404(client, member):
    client.force_login(member)
    assert client.get(reverse("teams:detail", args=["nope"])).status_code == 404


def test_list_shows_teams(client, member, team):
    ServiceFactory(team=team, name="Checkout", slug="checkout")
    TeamFactory(name="Platform", slug="platform")
    client.force_login(member)
    response = client.get(reverse("teams:list"))
    html = response.content.decode()
    assert "Payments" in html and "Platform" in html
    assert "1 member" in html and "1 service" in html
    assert "Your team" in html
    # Open counts come from the incidents app in one htmx request; without JavaScript, a link to the list.
    assert 'hx-get="/incidents/teams/open-counts/?teams=payments,platform"' in html
    assert 'id="open-count-payments" href="/incidents/?status=open&amp;team=payments"' in html


def test_list_searches_and_paginates(client, member):
    for n in range(30):
        TeamFactory(name=f"Squad {n:02}", slug=f"squad-{n:02}")
    TeamFactory(name="Billing", slug="billing")
    client.force_login(member)
    response = client.get(reverse("teams:list"))
    assert len(response.context["teams"]) == 24
    assert response.context["page"].paginator.count == 32  # and Payments, the member's team
    response = client.get(reverse("teams:list"), {"q": "squad", "page": 2})
    assert [t.slug for t in response.context["teams"]] == [f"squad-{n:02}" for n in range(24, 30)]
    assert 'href="?q=squad&amp;page=1" rel="prev"' in response.content.decode()
    response = client.get(reverse("teams:list"), {"q": "nothing-like-it"})
    assert "No team matches" in response.content.decode()


def test_empty_list_says_what_to_do(client, member, staff):
    Team.objects.all().delete()
    client.force_login(member)
    assert "Ask a Muster admin" in client.get(reverse("teams:list")).content.decode()
    client.force_login(staff)
    assert "Create the first team" in client.get(reverse("teams:list")).content.decode()


def test_detail_shows_members_and_services(client, member, lead, team):
    ServiceFactory(team=team, name="Checkout", slug="checkout")
    client.force_login(member)
    html = client.get(reverse("teams:detail", args=[team.slug])).content.decode()
    assert "bob" in html and "Lena" in html
    assert ">Lead</span>" in html and ">Member</span>" in html
    assert "Checkout" in html
    # Open incidents are a fragment of the incidents app, loaded with htmx; a plain link without JavaScript.
    assert 'hx-get="/incidents/teams/payments/open/" hx-trigger="load"' in html
    assert 'href="/incidents/?status=open&amp;team=payments"' in html
    assert f"{reverse('incidents:declare')}?team=payments" in html


def test_member_form_only_for_leads_and_admins(client, member, lead, admin_user, team):
    url = reverse("teams:detail", args=[team.slug])
    client.force_login(member)
    assert "Add a member" not in client.get(url).content.decode()
    client.force_login(lead)
    assert "Add a member" in client.get(url).content.decode()
    client.force_login(admin_user)
    assert "Add a member" in client.get(url).content.decode()


def test_lead_adds_a_member_and_changes_a_role(client, lead, team):
    carol = UserFactory(username="carol", email="carol@example.com")
    client.force_login(lead)
    url = reverse("teams:member_add", args=[team.slug])
    response = client.post(url, {"username": "carol", "role": "member"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("teams:detail", args=[team.slug])
    assert "is now a member of Payments" in response.content.decode()
    assert Membership.objects.get(team=team, user=carol).role == "member"
    client.post(url, {"username": "carol@example.com", "role": "lead"})
    assert Membership.objects.get(team=team, user=carol).role == "lead"


def test_add_member_errors_are_shown_next_to_the_field(client, lead, team):
    client.force_login(lead)
    url = reverse("teams:member_add", args=[team.slug])
    response = client.post(url, {"username": "nobody", "role": "member"})
    assert response.status_code == 400
    assert "No active user with that username or email." in response.content.decode()
    response = client.post(url, {"username": "", "role": "overlord"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "Select a valid choice" in html
    assert Membership.objects.filter(team=team).count() == 1  # the lead only


def test_a_plain_member_cannot_add_members(client, member, team):
    UserFactory(username="carol")
    client.force_login(member)
    response = client.post(
        reverse("teams:member_add", args=[team.slug]), {"username": "carol", "role": "admin"}
    )
    assert response.status_code == 403
    assert "Only the team&#x27;s leads and admins can change its members." in response.content.decode()
    assert not Membership.objects.filter(user__username="carol").exists()


def test_staff_create_a_team(client, staff):
    client.force_login(staff)
    assert client.get(reverse("teams:list")).content.decode().count(reverse("teams:create")) >= 1
    response = client.post(
        reverse("teams:create"), {"name": "Data Platform", "slug": "", "description": "Warehouses"}
    )
    team = Team.objects.get(slug="data-platform")
    assert response.status_code == 302
    assert response["Location"] == reverse("teams:detail", args=["data-platform"])
    assert team.description == "Warehouses"
    assert Membership.objects.get(team=team).user == staff


def test_create_team_errors_are_shown_next_to_the_field(client, staff, team):
    client.force_login(staff)
    response = client.post(reverse("teams:create"), {"name": "Payments 2", "slug": "payments"})
    assert response.status_code == 400
    assert "A team with slug &#x27;payments&#x27; already exists." in response.content.decode()
    response = client.post(reverse("teams:create"), {"name": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert Team.objects.count() == 1


def test_non_staff_cannot_create_teams(client, member):
    client.force_login(member)
    assert reverse("teams:create") not in client.get(reverse("teams:list")).content.decode()
    assert client.get(reverse("teams:create")).status_code == 403
    assert client.post(reverse("teams:create"), {"name": "Rogue"}).status_code == 403
    assert not Team.objects.filter(name="Rogue").exists()


@pytest.mark.parametrize("url_name", ["teams:list", "teams:detail"])
def test_team_pages_run_a_constant_number_of_queries(
    client, member, team, url_name, django_assert_num_queries
):
    client.force_login(member)
    url = reverse(url_name, args=[team.slug]) if url_name == "teams:detail" else reverse(url_name)

    def grow(n):
        for _ in range(n):
            other = TeamFactory()
            MembershipFactory(team=other)
            MembershipFactory(team=team)
            ServiceFactory(team=other)
            ServiceFactory(team=team)

    grow(2)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    grow(10)
    with django_assert_num_queries(len(ctx.captured_queries)):
        client.get(url)
