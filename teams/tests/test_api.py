"""The teams REST API: teams, members, services; who may change what; every error path."""

import pytest
from rest_framework.test import APIClient

from conftest import token_client
from teams.models import Membership, Service, Team
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

TEAMS = "/api/v1/teams/"
SERVICES = "/api/v1/services/"


def assert_error(response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    if field is not None:
        assert field in body["errors"], body
    return body


@pytest.fixture
def lead(team):
    return MembershipFactory(team=team, user=UserFactory(username="lena"), role=Membership.Role.LEAD).user


@pytest.fixture
def lead_api(lead):
    return token_client(lead)


@pytest.fixture
def staff_api(db):
    return token_client(UserFactory(username="stella", is_staff=True))


@pytest.fixture
def outsider_api(user):
    return token_client(user)


# --- Authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", TEAMS),
        ("post", TEAMS),
        ("get", "/api/v1/teams/payments/"),
        ("patch", "/api/v1/teams/payments/"),
        ("get", "/api/v1/teams/payments/members/"),
        ("post", "/api/v1/teams/payments/members/"),
        ("delete", "/api/v1/teams/payments/members/bob/"),
        ("get", SERVICES),
        ("post", SERVICES),
    ],
)
def test_no_or_bad_credentials_is_401_json(member, method, path):
    assert_error(getattr(APIClient(), method)(path, {}, format="json"), 401, "not_authenticated")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert_error(getattr(client, method)(path, {}, format="json"), 401, "authentication_failed")


# --- Teams ------------------------------------------------------------------------------------------


def test_list_teams(outsider_api, member):
    TeamFactory(name="Platform", slug="platform")
    response = outsider_api.get(TEAMS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(t["slug"], t["member_count"]) for t in rows] == [("payments", 1), ("platform", 0)]
    assert rows[0]["url"] == "http://testserver/api/v1/teams/payments/"


def test_list_teams_paginates_by_name(outsider_api):
    for name in ["Delta", "Alpha", "Charlie", "Bravo"]:
        TeamFactory(name=name, slug=name.lower())
    first = outsider_api.get(TEAMS, {"page_size": 3}).json()
    second = outsider_api.get(first["next"]).json()
    assert [t["name"] for t in first["results"] + second["results"]] == ["Alpha", "Bravo", "Charlie", "Delta"]


def test_team_detail_has_members_and_services(outsider_api, member, team):
    ServiceFactory(name="Checkout", slug="checkout", team=team)
    response = outsider_api.get("/api/v1/teams/payments/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Payments"
    assert [(m["user"]["username"], m["role"]) for m in body["members"]] == [("bob", "member")]
    assert body["services"] == [{"slug": "checkout", "name": "Checkout"}]
    assert body["member_count"] == 1


@pytest.mark.parametrize("slug", ["nope", "not%20a%20slug", "x" * 60])
def test_unknown_team_is_404(outsider_api, team, slug):
    assert_error(outsider_api.get(f"/api/v1/teams/{slug}/"), 404, "not_found")
    assert_error(outsider_api.get(f"/api/v1/teams/{slug}/members/"), 404, "not_found")


def test_nul_byte_in_url_is_400(outsider_api, team):
    assert_error(outsider_api.get("/api/v1/teams/%00/"), 400, "bad_request")


def test_staff_creates_a_team_and_becomes_its_admin(staff_api):
    response = staff_api.post(
        TEAMS, {"name": "Platform", "slug": "platform", "description": "Infra"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["name"], body["description"]) == ("platform", "Platform", "Infra")
    assert [(m["user"]["username"], m["role"]) for m in body["members"]] == [("stella", "admin")]


def test_slug_defaults_from_the_name(staff_api):
    response = staff_api.post(TEAMS, {"name": "Data Platform"}, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "data-platform"


def test_non_staff_cannot_create_a_team(outsider_api):
    assert_error(outsider_api.post(TEAMS, {"name": "Rogue"}, format="json"), 403, "permission_denied")
    assert not Team.objects.filter(name="Rogue").exists()


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({}, 400, "required", "name"),
        ({"name": ""}, 400, "blank", "name"),
        ({"name": "n" * 101}, 400, "max_length", "name"),
        ({"name": "Ok", "slug": "not a slug"}, 400, "invalid", "slug"),
        ({"name": "Ok", "colour": "red"}, 400, "unknown_field", "colour"),
        ({"name": "Other", "slug": "payments"}, 409, "duplicate", "slug"),
        ({"name": "payments", "slug": "other"}, 409, "duplicate", "name"),
    ],
)
def test_create_team_errors(staff_api, team, payload, status, code, field):
    assert_error(staff_api.post(TEAMS, payload, format="json"), status, code, field)


def test_create_team_malformed_json_is_400(staff_api):
    assert_error(staff_api.post(TEAMS, "{nope", content_type="application/json"), 400, "parse_error")


def test_lead_updates_the_team(lead_api, team):
    response = lead_api.patch(
        "/api/v1/teams/payments/", {"name": "Payments & Billing", "description": "Money"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["description"]) == ("Payments & Billing", "Money")
    team.refresh_from_db()
    assert team.name == "Payments & Billing"


def test_member_cannot_update_the_team(member_api, team):
    assert_error(
        member_api.patch("/api/v1/teams/payments/", {"name": "Mine"}, format="json"), 403, "permission_denied"
    )


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"slug": "money"}, 400, "read_only", "slug"),
        ({"name": ""}, 400, "blank", "name"),
        ({"members": []}, 400, "unknown_field", "members"),
        ({"name": "Platform"}, 409, "duplicate", "name"),
    ],
)
def test_update_team_errors(lead_api, team, payload, status, code, field):
    TeamFactory(name="Platform", slug="platform")
    assert_error(lead_api.patch("/api/v1/teams/payments/", payload, format="json"), status, code, field)


def test_update_unknown_team_is_404(lead_api, team):
    assert_error(lead_api.patch("/api/v1/teams/nope/", {"name": "x"}, format="json"), 404, "not_found")


# --- Members ----------------------------------------------------------------------------------------


def test_list_members(outsider_api, member, lead):
    response = outsider_api.get("/api/v1/teams/payments/members/")
    assert response.status_code == 200
    assert [(m["user"]["username"], m["role"]) for m in response.json()] == [
        ("bob", "member"),
        ("lena", "lead"),
    ]


def test_lead_adds_a_member_then_changes_the_role(lead_api, team):
    UserFactory(username="carol")
    added = lead_api.post("/api/v1/teams/payments/members/", {"user": "carol"}, format="json")
    assert added.status_code == 201, added.content
    assert (added.json()["user"]["username"], added.json()["role"]) == ("carol", "member")
    changed = lead_api.post(
        "/api/v1/teams/payments/members/", {"user": "carol", "role": "lead"}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "lead"
    assert Membership.objects.get(team=team, user__username="carol").role == "lead"


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"user": "nobody"}, "unknown_user", "user"),
        ({"user": "bob", "role": "overlord"}, "invalid_choice", "role"),
        ({}, "required", "user"),
        ({"user": "u" * 151}, "max_length", "user"),
        ({"user": "bob", "team": "payments"}, "unknown_field", "team"),
    ],
)
def test_add_member_bad_input_is_400(lead_api, member, payload, code, field):
    assert_error(lead_api.post("/api/v1/teams/payments/members/", payload, format="json"), 400, code, field)


def test_member_cannot_add_members(member_api, user):
    response = member_api.post("/api/v1/teams/payments/members/", {"user": "alice"}, format="json")
    assert_error(response, 403, "permission_denied")
    assert not Membership.objects.filter(user=user).exists()


def test_lead_removes_a_member(lead_api, member, team):
    response = lead_api.delete("/api/v1/teams/payments/members/bob/")
    assert response.status_code == 204
    assert not response.content
    assert not Membership.objects.filter(team=team, user=member).exists()


@pytest.mark.parametrize("username", ["alice", "nobody", "not%20a%20user"])
def test_remove_a_non_member_is_404(lead_api, user, username):
    assert_error(lead_api.delete(f"/api/v1/teams/payments/members/{username}/"), 404, "not_found")


def test_member_cannot_remove_members(member_api, lead, team):
    assert_error(member_api.delete("/api/v1/teams/payments/members/lena/"), 403, "permission_denied")
    assert Membership.objects.filter(team=team, user=lead).exists()


# --- Services ---------------------------------------------------------------------------------------


def test_list_services_and_filter_by_team(outsider_api, team):
    platform = TeamFactory(name="Platform", slug="platform")
    ServiceFactory(name="Checkout", slug="checkout", team=team)
    ServiceFactory(name="Edge", slug="edge", team=platform)
    everything = outsider_api.get(SERVICES).json()["results"]
    assert [(s["slug"], s["team"]["slug"]) for s in everything] == [
        ("checkout", "payments"),
        ("edge", "platform"),
    ]
    only = outsider_api.get(SERVICES, {"team": "platform"}).json()["results"]
    assert [s["slug"] for s in only] == ["edge"]


@pytest.mark.parametrize(("team", "code"), [("nope", "unknown_team"), ("not a slug", "invalid")])
def test_list_services_of_an_unknown_team_is_400(outsider_api, team, code):
    assert_error(outsider_api.get(SERVICES, {"team": team}), 400, code, "team")


def test_lead_adds_a_service(lead_api, team):
    response = lead_api.post(
        SERVICES, {"name": "Checkout", "team": "payments", "description": "Pay"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["name"], body["team"]["slug"]) == ("checkout", "Checkout", "payments")
    assert Service.objects.get(slug="checkout").team == team


def test_member_cannot_add_a_service(member_api, team):
    assert_error(
        member_api.post(SERVICES, {"name": "X", "team": "payments"}, format="json"), 403, "permission_denied"
    )


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"name": "X", "team": "nope"}, 400, "unknown_team", "team"),
        ({"name": "X"}, 400, "required", "team"),
        ({"team": "payments"}, 400, "required", "name"),
        ({"name": "X", "team": "payments", "owner": "bob"}, 400, "unknown_field", "owner"),
        ({"name": "n" * 101, "team": "payments"}, 400, "max_length", "name"),
        ({"name": "Checkout", "team": "payments"}, 409, "duplicate", "name"),
    ],
)
def test_add_service_errors(lead_api, team, payload, status, code, field):
    ServiceFactory(name="Checkout", slug="checkout", team=team)
    assert_error(lead_api.post(SERVICES, payload, format="json"), status, code, field)
