"""The paging API: escalation policies (CRUD with nested steps), pages of an incident, acknowledge."""

import pytest

from conftest import token_client
from core.api.serializers import person
from incidents.models import TimelineEvent
from oncall.models import Rotation, RotationMember, Schedule
from paging.models import EscalationPolicy, Page
from teams.models import Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(team):
    return MembershipFactory(team=team, user=UserFactory(username="lena"), role=Membership.Role.LEAD).user


@pytest.fixture
def schedule(team, member):
    schedule = Schedule.objects.create(team=team, name="Primary", slug="primary")
    rotation = Rotation.objects.create(
        schedule=schedule, name="W", start_date="2024-01-01", handoff_time="09:00"
    )
    RotationMember.objects.create(rotation=rotation, user=member, position=0)
    return schedule


POLICY = {
    "team": "payments",
    "name": "Default",
    "repeat": 1,
    "is_default": True,
    "auto_page_severity": "critical",
    "steps": [
        {"target": "schedule", "schedule": "primary", "wait_minutes": 5},
        {"target": "user", "user": "lena", "wait_minutes": 10},
        {"target": "team", "wait_minutes": 15},
    ],
}


def test_policy_crud(lead, schedule):
    api = token_client(lead)
    created = api.post("/api/v1/escalation-policies/", POLICY, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["team"]["slug"] == "payments" and body["auto_page_severity"] == "critical"
    assert [
        (s["target"], s["schedule"], (s["user"] or {}).get("username"), s["wait_minutes"])
        for s in body["steps"]
    ] == [
        ("schedule", "primary", None, 5),
        ("user", None, "lena", 10),
        ("team", None, None, 15),
    ]
    url = f"/api/v1/escalation-policies/{body['id']}/"
    assert api.get("/api/v1/escalation-policies/?team=payments").json()["results"][0]["id"] == body["id"]
    unknown = api.get("/api/v1/escalation-policies/?team=nope")
    assert unknown.status_code == 400 and list(unknown.json()["errors"]) == ["team"]
    patched = api.patch(url, {"steps": [{"target": "team", "wait_minutes": 2}], "repeat": 0}, format="json")
    assert patched.status_code == 200
    assert [s["wait_minutes"] for s in patched.json()["steps"]] == [2] and patched.json()["repeat"] == 0
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


@pytest.mark.parametrize(
    "change, field",
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"target": "team", "wait_minutes": 0}]}, "steps"),
        ({"steps": [{"target": "team", "wait_minutes": 1441}]}, "steps"),
        ({"steps": [{"target": "team", "wait_minutes": 5, "phone": "1"}]}, "steps"),
        ({"steps": [{"target": "schedule", "schedule": "nope", "wait_minutes": 5}]}, "steps"),
        ({"repeat": 11}, "repeat"),
        ({"team": "nope"}, "team"),
        ({"auto_page_severity": "nope"}, "auto_page_severity"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_policy_input_errors_are_400_with_the_field(change, field, lead, schedule):
    response = token_client(lead).post("/api/v1/escalation-policies/", POLICY | change, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body.get("errors", {}) or field in body["detail"].lower() or body.get("code") == "invalid"


def test_members_cannot_edit_policies(member, lead, schedule):
    assert token_client(member).post("/api/v1/escalation-policies/", POLICY, format="json").status_code == 403
    policy_id = token_client(lead).post("/api/v1/escalation-policies/", POLICY, format="json").json()["id"]
    api = token_client(member)
    assert (
        api.patch(f"/api/v1/escalation-policies/{policy_id}/", {"repeat": 0}, format="json").status_code
        == 403
    )
    assert api.delete(f"/api/v1/escalation-policies/{policy_id}/").status_code == 403
    assert api.get(f"/api/v1/escalation-policies/{policy_id}/").status_code == 200
    for bad in ("abc", "0", "99999999999999999999"):
        assert api.get(f"/api/v1/escalation-policies/{bad}/").status_code == 404


def test_page_a_team_list_and_acknowledge(incident, member, lead, schedule, member_api):
    token_client(lead).post("/api/v1/escalation-policies/", POLICY, format="json")
    created = member_api.post(f"/api/v1/incidents/{incident.pk}/pages/", {"team": "payments"}, format="json")
    assert created.status_code == 201, created.json()
    page = created.json()
    assert (
        page["status"] == "triggered"
        and page["team"] == "payments"
        and page["steps"][0]["notified"] == [person(member)]
        and page["created_by"] == person(member)
    )
    listed = member_api.get(f"/api/v1/incidents/{incident.pk}/pages/").json()
    assert [p["id"] for p in listed] == [page["id"]]
    again = member_api.post(f"/api/v1/incidents/{incident.pk}/pages/", {"team": "payments"}, format="json")
    assert again.status_code == 409
    ack = member_api.post(f"/api/v1/pages/{page['id']}/acknowledge/", {"note": "on it"}, format="json")
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged" and ack.json()["acknowledged_by"] == person(member)
    assert member_api.post(f"/api/v1/pages/{page['id']}/acknowledge/").status_code == 409
    assert TimelineEvent.objects.filter(
        incident=incident, kind="page_acknowledged", source="api", text="on it"
    ).exists()


def test_page_a_person(incident, member_api, other_user):
    created = member_api.post(f"/api/v1/incidents/{incident.pk}/pages/", {"user": "mallory"}, format="json")
    assert created.status_code == 201
    assert created.json()["user"] == person(other_user)
    # The person paged can see and acknowledge the page, though not on the team.
    api = token_client(other_user)
    assert api.get(f"/api/v1/pages/{created.json()['id']}/").status_code == 200
    assert (
        api.post(f"/api/v1/pages/{created.json()['id']}/acknowledge/", {}, format="json").status_code == 200
    )


def test_page_takes_if_match_and_a_stale_one_pages_nobody_twice(incident, member_api, other_user):
    """Paging from a stale view (someone paged that person since) is a 412 saying who did; a fresh tag pages."""
    path = f"/api/v1/incidents/{incident.pk}/pages/"
    shown = member_api.get(f"/api/v1/incidents/{incident.pk}/")["ETag"]
    first = member_api.post(path, {"user": "mallory"}, format="json", HTTP_IF_MATCH=shown)
    assert first.status_code == 201, first.json()
    member_api.post(f"/api/v1/pages/{first.json()['id']}/acknowledge/", {}, format="json")
    stale = member_api.post(path, {"user": "mallory"}, format="json", HTTP_IF_MATCH=shown)
    assert stale.status_code == 412, stale.json()
    assert stale.json()["code"] == "stale" and "paged" in stale.json()["detail"]
    assert Page.objects.filter(incident=incident).count() == 1
    assert member_api.post(path, {"user": "mallory"}, format="json", HTTP_IF_MATCH="nope").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"team": "payments", "user": "bob"},
        {"team": "nope"},
        {"user": "nobody"},
        {"team": "a b"},
        {"x": 1},
    ],
)
def test_page_input_errors(body, incident, member_api):
    response = member_api.post(f"/api/v1/incidents/{incident.pk}/pages/", body, format="json")
    assert response.status_code == 400, response.json()
    assert not Page.objects.exists()


def test_outsiders_cannot_page_or_acknowledge(incident, member_api, other_user):
    api = token_client(other_user)
    assert (
        api.post(f"/api/v1/incidents/{incident.pk}/pages/", {"team": "payments"}, format="json").status_code
        == 403
    )
    page_id = member_api.post(
        f"/api/v1/incidents/{incident.pk}/pages/", {"user": "bob"}, format="json"
    ).json()["id"]
    assert api.post(f"/api/v1/pages/{page_id}/acknowledge/").status_code == 403
    for bad in ("abc", "0", "99999999999999999999"):
        assert api.post(f"/api/v1/pages/{bad}/acknowledge/").status_code == 404
        assert api.get(f"/api/v1/incidents/{bad}/pages/").status_code == 404


def test_private_incident_pages_are_hidden(member, other_user, team, member_api):
    from incidents import services

    incident = services.incident_declare(
        title="Leak", severity="major", actor=member, team=team, private=True
    )
    page_id = member_api.post(f"/api/v1/incidents/{incident.pk}/pages/", {"team": "payments"}, format="json")
    page_id = page_id.json()["id"]
    api = token_client(other_user)
    assert api.get(f"/api/v1/pages/{page_id}/").status_code == 404
    assert api.post(f"/api/v1/pages/{page_id}/acknowledge/").status_code == 404
    assert api.get(f"/api/v1/incidents/{incident.pk}/pages/").status_code == 404


def test_anonymous_is_401(incident, api_client):
    assert api_client.get("/api/v1/escalation-policies/").status_code == 401
    assert api_client.post(f"/api/v1/incidents/{incident.pk}/pages/", {"team": "payments"}).status_code == 401


def test_default_moves(lead, schedule):
    api = token_client(lead)
    first = api.post("/api/v1/escalation-policies/", POLICY, format="json").json()
    second = api.post("/api/v1/escalation-policies/", POLICY | {"name": "Night"}, format="json").json()
    assert second["is_default"]
    assert list(EscalationPolicy.objects.filter(is_default=True).values_list("pk", flat=True)) == [
        second["id"]
    ]
    assert api.get(f"/api/v1/escalation-policies/{first['id']}/").json()["is_default"] is False


def _queries(client, path: str) -> tuple[int, list]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_incident_pages_show_people_in_constant_queries(incident, member, member_api):
    """Whoever a page reached, created it or acknowledged it is a person object; 2 pages or 8 cost the same."""
    from paging import services

    path = f"/api/v1/incidents/{incident.pk}/pages/"

    def page_someone() -> None:
        user = MembershipFactory(team=incident.team, user=UserFactory()).user
        page = services.page_create(incident=incident, user=user, actor=member)
        services.page_acknowledge(page=page, actor=user)

    for _ in range(2):
        page_someone()
    few, pages = _queries(member_api, path)
    assert len(pages) == 2
    for _ in range(6):
        page_someone()
    many, pages = _queries(member_api, path)
    assert len(pages) == 8
    assert many == few
    for page in pages:
        assert page["steps"][0]["notified"] == [page["user"]]
        assert page["acknowledged_by"] == page["user"]
        assert page["created_by"] == person(member)
        assert set(page["user"]) == {"id", "username", "name"}
