"""The incidents REST API: happy paths, every error path, visibility, and the list's query count."""

import base64
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import token_client
from core.api.serializers import person
from incidents import services
from incidents.models import EventKind, RoleAssignment, TimelineEvent
from teams.models import Membership
from tests.factories import AdminFactory, MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def url(incident, suffix: str = "") -> str:
    pk = incident if isinstance(incident, int | str) else incident.pk
    return f"/api/v1/incidents/{pk}/{suffix}"


def assert_error(response, status: int, code: str, field: str | None = None):
    """The shared error body: JSON with a detail, a stable code and, for input errors, messages by field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if field is not None:
        assert field in body["errors"], body
    return body


@pytest.fixture
def outsider_api(user):
    """alice: signed in, in no team."""
    return token_client(user)


@pytest.fixture
def private_incident(member, team):
    return services.incident_declare(
        title="Card data exposure", severity="critical", actor=member, team=team, private=True
    )


# --- Authentication ---------------------------------------------------------------------------------


ENDPOINTS = [
    ("get", LIST),
    ("post", LIST),
    ("get", "/api/v1/incidents/1/"),
    ("patch", "/api/v1/incidents/1/"),
    ("post", "/api/v1/incidents/1/transition/"),
    ("post", "/api/v1/incidents/1/severity/"),
    ("get", "/api/v1/incidents/1/roles/"),
    ("post", "/api/v1/incidents/1/roles/"),
    ("delete", "/api/v1/incidents/1/roles/lead/"),
    ("post", "/api/v1/incidents/1/notes/"),
    ("post", "/api/v1/incidents/1/updates/"),
    ("get", "/api/v1/incidents/1/timeline/"),
    ("get", "/api/v1/severities/"),
    ("get", "/api/v1/roles/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_credentials_is_401_json(incident, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_bad_token_is_401_json(incident, method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(getattr(client, method)(path, {}, format="json"), 401, "authentication_failed")


def test_token_of_a_deactivated_user_is_401(member, incident):
    client = token_client(member)
    member.is_active = False
    member.save()
    assert_error(client.get(LIST), 401, "authentication_failed")


# --- List -------------------------------------------------------------------------------------------


def test_list_shows_the_full_representation(member_api, member, team):
    service = ServiceFactory(slug="checkout", name="Checkout", team=team)
    incident = services.incident_declare(
        title="Checkout is down",
        summary="500s",
        severity="critical",
        actor=member,
        team=team,
        services=[service],
        customer_impact=True,
        lead=member,
    )
    response = member_api.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    [row] = body["results"]
    assert row["id"] == incident.pk
    assert row["reference"] == f"INC-{incident.pk}"
    assert row["title"] == "Checkout is down"
    assert row["summary"] == "500s"
    assert row["severity"] == {"slug": "critical", "name": "Critical", "rank": 1, "colour": "#dc2626"}
    assert row["status"] == "triage"
    assert row["team"] == {"slug": "payments", "name": "Payments"}
    assert row["services"] == [{"slug": "checkout", "name": "Checkout"}]
    assert row["customer_impact"] is True
    assert row["private"] is False
    assert row["declared_by"] == person(member)
    assert row["declared_at"]
    assert row["investigating_at"] is None
    assert row["resolved_at"] is None
    assert row["roles"] == {
        "lead": {"user": person(member), "assigned_at": row["roles"]["lead"]["assigned_at"]}
    }
    assert row["allowed_transitions"] == ["investigating", "identified", "monitoring", "resolved", "declined"]
    assert row["url"] == f"http://testserver/api/v1/incidents/{incident.pk}/"
    assert row["web_url"] == "http://testserver" + reverse("incidents:detail", args=[incident.pk])


def test_list_is_newest_first_and_cursor_paginated(member_api, member):
    ids = [services.incident_declare(title=f"I{n}", severity="minor", actor=member).pk for n in range(5)]
    first = member_api.get(LIST, {"page_size": 2}).json()
    assert [r["id"] for r in first["results"]] == ids[::-1][:2]
    assert first["previous"] is None
    second = member_api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == ids[::-1][2:4]


def test_list_with_a_broken_cursor_is_404_json(member_api, incident):
    assert_error(member_api.get(LIST, {"cursor": "garbage"}), 404, "not_found")


@pytest.mark.parametrize("position", ["p=abc", "p=1.5", "p=%00", "p=99999999999999999999999", "o=-5"])
@pytest.mark.parametrize("suffix", ["", "{pk}/timeline/"])
def test_crafted_cursor_is_404_not_500(member_api, incident, position, suffix):
    """A cursor is client input: a position that does not fit the ordering field is an invalid cursor."""
    cursor = quote(base64.b64encode(position.encode()).decode())
    response = member_api.get(f"{LIST}{suffix.format(pk=incident.pk)}?cursor={cursor}")
    assert_error(response, 404, "not_found")


def test_list_hides_private_incidents_from_outsiders(outsider_api, member_api, incident, private_incident):
    assert [r["id"] for r in outsider_api.get(LIST).json()["results"]] == [incident.pk]
    assert {r["id"] for r in member_api.get(LIST).json()["results"]} == {incident.pk, private_incident.pk}


def test_admin_sees_private_incidents(admin_user, private_incident):
    assert [r["id"] for r in token_client(admin_user).get(LIST).json()["results"]] == [private_incident.pk]


@pytest.fixture
def spread(member, team):
    """Incidents that differ in one filterable way each."""
    platform = TeamFactory(slug="platform", name="Platform")
    ServiceFactory(slug="ledger", team=team)
    a = services.incident_declare(
        title="Checkout errors", summary="cards", severity="critical", actor=member, team=team
    )
    b = services.incident_declare(
        title="Ledger lag",
        severity="minor",
        actor=member,
        team=team,
        services=["ledger"],
        customer_impact=True,
    )
    c = services.incident_declare(
        title="Edge 502", severity="major", actor=member, team=platform, private=True
    )
    services.incident_transition(incident=b, to="resolved", actor=member)
    for incident, day in ((a, "2025-01-10"), (b, "2025-02-10"), (c, "2025-03-10")):
        type(incident).objects.filter(pk=incident.pk).update(declared_at=f"{day}T12:00:00Z")
    return {"a": a.pk, "b": b.pk, "c": c.pk}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"a", "b", "c"}),
        ({"status": "open"}, {"a", "c"}),
        ({"status": "resolved"}, {"b"}),
        ({"status": ["resolved", "triage"]}, {"a", "b", "c"}),
        ({"severity": "critical"}, {"a"}),
        ({"team": "platform"}, {"c"}),
        ({"service": "ledger"}, {"b"}),
        ({"q": "ledger"}, {"b"}),
        ({"q": "CARDS"}, {"a"}),
        ({"declared_after": "2025-02-10"}, {"b", "c"}),
        ({"declared_after": "2025-02-10T12:00:01Z"}, {"c"}),
        ({"declared_before": "2025-02-10"}, {"a", "b"}),
        ({"declared_before": "2025-02-10T11:00:00+00:00"}, {"a"}),
        ({"declared_after": "2025-01-01", "declared_before": "2025-01-31"}, {"a"}),
        ({"private": "true"}, {"c"}),
        ({"private": "false"}, {"a", "b"}),
        ({"customer_impact": "true"}, {"b"}),
        ({"customer_impact": "0"}, {"a", "c"}),
    ],
)
def test_list_filters(member, spread, params, expected):
    MembershipFactory(team=TeamFactory(slug="platform"), user=member)
    response = token_client(member).get(LIST, params)
    assert response.status_code == 200, response.content
    names = {name for name, pk in spread.items() if pk in {r["id"] for r in response.json()["results"]}}
    assert names == expected


def test_list_filter_by_reference(member_api, spread):
    response = member_api.get(LIST, {"q": f"INC-{spread['b']}"})
    assert [r["id"] for r in response.json()["results"]] == [spread["b"]]


@pytest.mark.parametrize("q", ["INC-²", "INC-" + "9" * 40, "INC-", "INC--1"])
def test_list_odd_references_are_text_searches_not_500(member_api, incident, q):
    response = member_api.get(LIST, {"q": q})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"status": "nope"}, "status", "invalid_choice"),
        ({"declared_after": "yesterday"}, "declared_after", "invalid"),
        ({"declared_after": "2025-02-30"}, "declared_after", "invalid"),
        ({"declared_before": "0001-01-01T00:00:00+05:00"}, "declared_before", "invalid"),
        ({"declared_before": "9" * 60}, "declared_before", "invalid"),
        ({"private": "maybe"}, "private", "invalid"),
        ({"customer_impact": "yes please"}, "customer_impact", "invalid"),
        ({"q": "x" * 201}, "q", "max_length"),
        ({"team": "t" * 51}, "team", "max_length"),
        ({"severity": "nonexistent"}, "severity", "unknown_severity"),
        ({"team": "nope"}, "team", "unknown_team"),
        ({"service": "nope"}, "service", "unknown_service"),
    ],
)
def test_list_bad_filters_are_400(member_api, incident, params, field, code):
    body = assert_error(member_api.get(LIST, params), 400, code, field)
    assert list(body["errors"]) == [field]


def test_list_nul_byte_in_a_filter_is_400(member_api, incident):
    # Refused before any view runs (core.middleware), for every URL alike.
    assert_error(member_api.get(LIST, {"severity": "a\x00b"}), 400, "bad_request")


def _list_queries(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST, {"page_size": 100})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


def test_list_query_count_is_constant(member, team):
    """3 incidents or 30, with services, roles and declarers: the same queries."""
    client = token_client(member)
    services_ = [ServiceFactory(slug=f"svc-{n}", team=team) for n in range(3)]
    colleagues = [MembershipFactory(team=team, user=UserFactory()).user for _ in range(3)]

    def declare(n: int) -> None:
        incident = services.incident_declare(
            title=f"Incident {n}",
            severity=("critical", "major", "minor")[n % 3],
            actor=colleagues[n % 3],
            team=team if n % 2 else None,
            services=services_[: n % 3 + 1],
            lead=colleagues[(n + 1) % 3],
        )
        services.incident_assign_role(incident=incident, role="messenger", user=member, actor=member)
        services.incident_transition(incident=incident, to="investigating", actor=member)

    for n in range(3):
        declare(n)
    few, count = _list_queries(client)
    assert count == 3
    for n in range(3, 30):
        declare(n)
    many, count = _list_queries(client)
    assert count == 30
    assert many == few
    # The token, the user's teams, the page of incidents, their current roles, their services.
    assert few == 5


# --- Declare ----------------------------------------------------------------------------------------


def test_declare(member_api, member, team):
    ServiceFactory(slug="checkout", team=team)
    response = member_api.post(
        LIST,
        {
            "title": "Checkout is down",
            "summary": "500s everywhere",
            "severity": "critical",
            "team": "payments",
            "services": ["checkout"],
            "customer_impact": True,
            "private": False,
            "lead": "bob",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Checkout is down"
    assert body["severity"]["slug"] == "critical"
    assert body["team"]["slug"] == "payments"
    assert body["services"] == [{"slug": "checkout", "name": body["services"][0]["name"]}]
    assert body["customer_impact"] is True
    assert body["declared_by"]["username"] == "bob"
    assert body["roles"]["lead"]["user"] == person(member)
    events = TimelineEvent.objects.filter(incident_id=body["id"]).order_by("id")
    assert [(e.kind, e.source) for e in events] == [("declared", "api"), ("role_assigned", "api")]


def test_declare_minimal(outsider_api):
    response = outsider_api.post(LIST, {"title": "Something is off", "severity": "minor"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["team"] is None
    assert body["services"] == []
    assert body["roles"] == {}
    assert body["declared_by"]["username"] == "alice"


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"severity": "major"}, "title", "required"),
        ({"title": "x"}, "severity", "required"),
        ({"title": "", "severity": "major"}, "title", "blank"),
        ({"title": "x" * 201, "severity": "major"}, "title", "max_length"),
        ({"title": "x", "summary": "s" * 20_001, "severity": "major"}, "summary", "max_length"),
        ({"title": "a\x00b", "severity": "major"}, "title", "null_characters_not_allowed"),
        ({"title": "x", "severity": "apocalyptic"}, "severity", "invalid"),
        ({"title": "x", "severity": "major", "team": "nope"}, "team", "invalid"),
        ({"title": "x", "severity": "major", "services": ["nope"]}, "services", "invalid"),
        ({"title": "x", "severity": "major", "services": "checkout"}, "services", "not_a_list"),
        ({"title": "x", "severity": "major", "services": ["bad slug!"]}, "services", "invalid"),
        ({"title": "x", "severity": "major", "lead": "nobody"}, "lead", "unknown_user"),
        ({"title": "x", "severity": "major", "private": "sometimes"}, "private", "invalid"),
        ({"title": "x", "severity": "major", "sevrity": "minor"}, "sevrity", "unknown_field"),
        ({"title": "x", "severity": "major", "status": "resolved"}, "status", "unknown_field"),
    ],
)
def test_declare_bad_input_is_400_by_field(member_api, team, payload, field, code):
    assert_error(member_api.post(LIST, payload, format="json"), 400, code, field)


def test_declare_malformed_json_is_400(member_api):
    response = member_api.post(LIST, '{"title": "x", ', content_type="application/json")
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    ("body", "code"), [("[]", "invalid"), ('"title"', "invalid"), ("42", "invalid"), ("null", "null")]
)
def test_declare_non_object_json_is_400(member_api, body, code):
    response = member_api.post(LIST, body, content_type="application/json")
    assert "non_field_errors" in assert_error(response, 400, code)["errors"]


def test_declare_form_encoded_is_415(member_api):
    response = member_api.post(LIST, {"title": "x", "severity": "major"})  # multipart
    assert_error(response, 415, "unsupported_media_type")


# --- Retrieve ---------------------------------------------------------------------------------------


def test_retrieve(member_api, incident):
    response = member_api.get(url(incident))
    assert response.status_code == 200
    assert response.json()["id"] == incident.pk
    assert response.json()["title"] == "Checkout is down"


@pytest.mark.parametrize("pk", ["999999", "abc", "1.5", "-1", "0", "99999999999999999999999999", "%20"])
def test_retrieve_missing_or_non_integer_id_is_404_json(member_api, incident, pk):
    assert_error(member_api.get(url(pk)), 404, "not_found")


def test_private_incident_is_404_to_outsider_and_visible_to_member(
    outsider_api, member_api, private_incident
):
    assert_error(outsider_api.get(url(private_incident)), 404, "not_found")
    assert member_api.get(url(private_incident)).status_code == 200


def test_put_and_delete_are_not_allowed(member_api, incident):
    assert_error(member_api.put(url(incident), {"title": "x"}, format="json"), 405, "method_not_allowed")
    assert_error(member_api.delete(url(incident)), 405, "method_not_allowed")


# --- Update -----------------------------------------------------------------------------------------


def test_patch_descriptive_fields(member_api, incident, team):
    ServiceFactory(slug="checkout", team=team)
    response = member_api.patch(
        url(incident),
        {
            "title": "Checkout degraded",
            "summary": "Some 500s",
            "services": ["checkout"],
            "customer_impact": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Checkout degraded"
    assert body["services"][0]["slug"] == "checkout"
    assert body["customer_impact"] is True
    event = TimelineEvent.objects.filter(incident=incident).latest("id")
    assert event.kind == EventKind.FIELDS_CHANGED
    assert event.source == "api"
    assert event.data["changes"]["title"] == {"old": "Checkout is down", "new": "Checkout degraded"}


def test_patch_team_to_null_clears_it(member_api, incident):
    response = member_api.patch(url(incident), {"team": None}, format="json")
    assert response.status_code == 200
    assert response.json()["team"] is None


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"status": "resolved"}, "status", "use_action_endpoint"),
        ({"severity": "minor"}, "severity", "use_action_endpoint"),
        ({"roles": {}}, "roles", "use_action_endpoint"),
        ({"title": "x", "status": "resolved"}, "status", "use_action_endpoint"),
        ({"declared_by": "alice"}, "declared_by", "unknown_field"),
        ({"team": "nope"}, "team", "invalid"),
        ({"services": ["nope"]}, "services", "invalid"),
        ({"title": ""}, "title", "blank"),
        ({"title": "x" * 201}, "title", "max_length"),
        ({"private": None}, "private", "null"),
    ],
)
def test_patch_bad_input_is_400(member_api, incident, payload, field, code):
    body = assert_error(member_api.patch(url(incident), payload, format="json"), 400, code, field)
    if code == "use_action_endpoint":
        assert f"/{field if field != 'status' else 'transition'}/" in body["errors"][field][0]


def test_patch_status_says_which_endpoint_to_use(member_api, incident):
    body = member_api.patch(url(incident), {"status": "resolved"}, format="json").json()
    assert "/transition/" in body["errors"]["status"][0]
    incident.refresh_from_db()
    assert incident.status == "triage"


def test_patch_by_outsider_on_public_team_incident_is_403(outsider_api, incident):
    assert_error(
        outsider_api.patch(url(incident), {"title": "mine"}, format="json"), 403, "permission_denied"
    )


# --- Transition -------------------------------------------------------------------------------------


def test_transition(member_api, incident):
    response = member_api.post(
        url(incident, "transition/"), {"to": "investigating", "reason": "On it"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "investigating"
    assert body["investigating_at"] is not None
    assert body["allowed_transitions"] == ["identified", "monitoring", "resolved", "declined"]
    event = TimelineEvent.objects.filter(incident=incident).latest("id")
    assert (event.kind, event.source, event.text) == ("status_changed", "api", "On it")
    assert event.data["old"] == "triage"
    assert event.data["new"] == "investigating"


def test_invalid_transition_is_409(member_api, incident):
    body = assert_error(
        member_api.post(url(incident, "transition/"), {"to": "closed"}, format="json"),
        409,
        "invalid_transition",
    )
    assert "triage" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"to": "done"}, "to", "invalid_choice"),
        ({}, "to", "required"),
        ({"to": "resolved", "reason": "r" * 20_001}, "reason", "max_length"),
        ({"to": "resolved", "because": "x"}, "because", "unknown_field"),
    ],
)
def test_transition_bad_input_is_400(member_api, incident, payload, field, code):
    assert_error(member_api.post(url(incident, "transition/"), payload, format="json"), 400, code, field)


def test_transition_by_outsider_is_403(outsider_api, incident):
    response = outsider_api.post(url(incident, "transition/"), {"to": "resolved"}, format="json")
    assert_error(response, 403, "permission_denied")
    incident.refresh_from_db()
    assert incident.status == "triage"


# --- Severity ---------------------------------------------------------------------------------------


def test_change_severity(member_api, incident):
    response = member_api.post(
        url(incident, "severity/"), {"severity": "minor", "reason": "Contained"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["severity"]["slug"] == "minor"
    event = TimelineEvent.objects.filter(incident=incident).latest("id")
    assert (event.kind, event.source) == ("severity_changed", "api")
    assert (event.data["old"], event.data["new"]) == ("critical", "minor")


def test_change_severity_to_the_same_is_409(member_api, incident):
    response = member_api.post(url(incident, "severity/"), {"severity": "critical"}, format="json")
    assert_error(response, 409, "unchanged", "severity")


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [({"severity": "apocalyptic"}, "severity", "invalid"), ({}, "severity", "required")],
)
def test_change_severity_bad_input_is_400(member_api, incident, payload, field, code):
    assert_error(member_api.post(url(incident, "severity/"), payload, format="json"), 400, code, field)


def test_change_severity_by_outsider_is_403(outsider_api, incident):
    response = outsider_api.post(url(incident, "severity/"), {"severity": "minor"}, format="json")
    assert_error(response, 403, "permission_denied")


# --- Roles ------------------------------------------------------------------------------------------


def test_assign_role_hand_off_and_history(member_api, member, team, incident):
    carol = MembershipFactory(team=team, user=UserFactory(username="carol")).user
    first = member_api.post(url(incident, "roles/"), {"role": "lead", "user": "bob"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["role"] == {"slug": "lead", "name": first.json()["role"]["name"]}
    assert first.json()["user"] == person(member)
    assert first.json()["assigned_by"] == person(member)
    assert first.json()["is_current"] is True
    second = member_api.post(url(incident, "roles/"), {"role": "lead", "user": "carol"}, format="json")
    assert second.status_code == 201
    assert member_api.get(url(incident)).json()["roles"]["lead"]["user"] == person(carol)

    history = member_api.get(url(incident, "roles/")).json()
    assert [(h["user"]["username"], h["is_current"]) for h in history] == [("bob", False), ("carol", True)]
    assert history[0]["relieved_by"] == person(member)
    event = TimelineEvent.objects.filter(incident=incident, kind=EventKind.ROLE_ASSIGNED).latest("id")
    assert (event.source, event.data["old"], event.data["new"]) == ("api", "bob", "carol")
    assert RoleAssignment.objects.get(incident=incident, relieved_at__isnull=True).user == carol


def test_assign_role_by_email(member_api, incident):
    response = member_api.post(
        url(incident, "roles/"), {"role": "messenger", "user": "bob@example.com"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["user"]["username"] == "bob"


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"role": "overlord", "user": "bob"}, "role", "invalid"),
        ({"role": "lead", "user": "nobody"}, "user", "unknown_user"),
        ({"role": "lead"}, "user", "required"),
        ({"user": "bob"}, "role", "required"),
        ({"role": "lead", "user": "u" * 151}, "user", "max_length"),
    ],
)
def test_assign_role_bad_input_is_400(member_api, incident, payload, field, code):
    assert_error(member_api.post(url(incident, "roles/"), payload, format="json"), 400, code, field)


def test_assign_the_same_holder_again_is_409(member_api, incident):
    member_api.post(url(incident, "roles/"), {"role": "lead", "user": "bob"}, format="json")
    response = member_api.post(url(incident, "roles/"), {"role": "lead", "user": "bob"}, format="json")
    assert_error(response, 409, "unchanged")


def test_assign_role_by_outsider_is_403(outsider_api, incident):
    response = outsider_api.post(url(incident, "roles/"), {"role": "lead", "user": "alice"}, format="json")
    assert_error(response, 403, "permission_denied")


def test_relieve_role(member_api, incident):
    member_api.post(url(incident, "roles/"), {"role": "lead", "user": "bob"}, format="json")
    response = member_api.delete(url(incident, "roles/lead/"))
    assert response.status_code == 200, response.content
    assert response.json()["is_current"] is False
    assert response.json()["relieved_by"]["username"] == "bob"
    assert member_api.get(url(incident)).json()["roles"] == {}
    event = TimelineEvent.objects.filter(incident=incident).latest("id")
    assert (event.kind, event.source, event.data["old"]) == ("role_relieved", "api", "bob")


def test_relieve_unheld_role_is_409(member_api, incident):
    assert_error(member_api.delete(url(incident, "roles/lead/")), 409, "unchanged", "role")


@pytest.mark.parametrize("role", ["overlord", "not a slug", "x" * 60])
def test_relieve_unknown_role_is_400(member_api, incident, role):
    assert_error(member_api.delete(url(incident, f"roles/{role}/")), 400, "invalid", "role")


def test_relieve_by_outsider_is_403(outsider_api, member_api, incident):
    member_api.post(url(incident, "roles/"), {"role": "lead", "user": "bob"}, format="json")
    assert_error(outsider_api.delete(url(incident, "roles/lead/")), 403, "permission_denied")


# --- Notes and updates ------------------------------------------------------------------------------


def test_add_note(member_api, incident):
    response = member_api.post(url(incident, "notes/"), {"text": "Rolling back 4.2"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["source"], body["actor"]["username"], body["text"]) == (
        "note_added",
        "api",
        "bob",
        "Rolling back 4.2",
    )


def test_outsider_may_note_a_public_incident_but_not_post_an_update(outsider_api, incident):
    assert (
        outsider_api.post(url(incident, "notes/"), {"text": "Seeing it too"}, format="json").status_code
        == 201
    )
    response = outsider_api.post(url(incident, "updates/"), {"text": "All fine"}, format="json")
    assert_error(response, 403, "permission_denied")


def test_post_update(member_api, incident):
    response = member_api.post(url(incident, "updates/"), {"text": "We are rolling back."}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "update_posted"
    assert response.json()["data"] == {"status": "triage", "severity": "critical"}
    # Stored with the severity's id; the timeline shows it by slug too.
    timeline = member_api.get(url(incident, "timeline/")).json()["results"]
    assert timeline[-1]["data"] == {"status": "triage", "severity": "critical"}


@pytest.mark.parametrize("suffix", ["notes/", "updates/"])
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "required"),
        ({"text": ""}, "blank"),
        ({"text": "x" * 20_001}, "max_length"),
        ({"text": None}, "null"),
    ],
)
def test_text_bad_input_is_400(member_api, incident, suffix, payload, code):
    assert_error(member_api.post(url(incident, suffix), payload, format="json"), 400, code, "text")


def test_whitespace_only_note_is_400(member_api, incident):
    assert_error(
        member_api.post(url(incident, "notes/"), {"text": "   "}, format="json"), 400, "blank", "text"
    )


# --- Timeline ---------------------------------------------------------------------------------------


def test_timeline_oldest_first_with_old_and_new_values(member_api, member, incident):
    services.incident_transition(incident=incident, to="investigating", actor=member, source="api")
    services.incident_change_severity(incident=incident, severity="major", actor=member, source="api")
    services.incident_add_note(incident=incident, text="Found it", actor=member, source="api")
    response = member_api.get(url(incident, "timeline/"))
    assert response.status_code == 200
    events = response.json()["results"]
    assert [e["kind"] for e in events] == ["declared", "status_changed", "severity_changed", "note_added"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[0]["source"] == "web"
    assert events[1]["data"] | {} == {"old": "triage", "new": "investigating", "reopened": False}
    assert (events[2]["data"]["old"], events[2]["data"]["new"]) == ("critical", "major")
    assert events[3]["text"] == "Found it"
    assert events[3]["actor"] == person(member)
    assert set(events[0]) == {
        "id",
        "kind",
        "kind_label",
        "actor",
        "via",
        "source",
        "occurred_at",
        "text",
        "data",
    }


def test_timeline_paginates_oldest_first(member_api, member, incident):
    for n in range(4):
        services.incident_add_note(incident=incident, text=f"note {n}", actor=member)
    first = member_api.get(url(incident, "timeline/"), {"page_size": 3}).json()
    second = member_api.get(first["next"]).json()
    texts = [e["text"] for e in first["results"] + second["results"]]
    assert texts == ["", "note 0", "note 1", "note 2", "note 3"]


# --- Private incidents: 404 on every endpoint -------------------------------------------------------

PRIVATE_CALLS = [
    ("get", "", None),
    ("patch", "", {"title": "x"}),
    ("post", "transition/", {"to": "investigating"}),
    ("post", "severity/", {"severity": "minor"}),
    ("get", "roles/", None),
    ("post", "roles/", {"role": "lead", "user": "alice"}),
    ("delete", "roles/lead/", None),
    ("post", "notes/", {"text": "hello"}),
    ("post", "updates/", {"text": "hello"}),
    ("get", "timeline/", None),
]


@pytest.mark.parametrize(("method", "suffix", "payload"), PRIVATE_CALLS)
def test_private_incident_is_404_on_every_endpoint(
    outsider_api, private_incident, member, method, suffix, payload
):
    services.incident_assign_role(incident=private_incident, role="lead", user=member, actor=member)
    before = TimelineEvent.objects.filter(incident=private_incident).count()
    response = getattr(outsider_api, method)(url(private_incident, suffix), payload, format="json")
    assert_error(response, 404, "not_found")
    assert TimelineEvent.objects.filter(incident=private_incident).count() == before


@pytest.mark.parametrize(("method", "suffix", "payload"), PRIVATE_CALLS)
def test_missing_incident_is_404_on_every_endpoint(member_api, method, suffix, payload):
    assert_error(getattr(member_api, method)(url(424242, suffix), payload, format="json"), 404, "not_found")
    assert_error(getattr(member_api, method)(url("nope", suffix), payload, format="json"), 404, "not_found")


def test_role_holder_outside_the_team_sees_the_private_incident(private_incident, member):
    outsider = UserFactory(username="dave")
    services.incident_assign_role(incident=private_incident, role="messenger", user=outsider, actor=member)
    client = token_client(outsider)
    assert client.get(url(private_incident)).status_code == 200
    assert [r["id"] for r in client.get(LIST).json()["results"]] == [private_incident.pk]


# --- Catalogue --------------------------------------------------------------------------------------


def test_severities(outsider_api):
    body = outsider_api.get("/api/v1/severities/").json()
    assert [s["slug"] for s in body] == ["critical", "major", "minor"]
    assert set(body[0]) == {"slug", "name", "rank", "colour", "description", "uses_incident_process"}


def test_roles(outsider_api):
    body = outsider_api.get("/api/v1/roles/").json()
    assert {"lead", "messenger", "resolution-owner"} <= {r["slug"] for r in body}


def test_staff_non_member_is_still_an_outsider(incident):
    """Staff status alone does not let one act on a team's incident; superusers may."""
    staff = UserFactory(username="staffer", is_staff=True)
    response = token_client(staff).post(url(incident, "transition/"), {"to": "investigating"}, format="json")
    assert_error(response, 403, "permission_denied")
    response = token_client(AdminFactory()).post(
        url(incident, "transition/"), {"to": "investigating"}, format="json"
    )
    assert response.status_code == 200


def test_team_admin_role_is_a_member_too(incident, team):
    lead = MembershipFactory(team=team, user=UserFactory(), role=Membership.Role.ADMIN).user
    response = token_client(lead).post(url(incident, "transition/"), {"to": "investigating"}, format="json")
    assert response.status_code == 200


def test_timeline_query_count_is_constant_with_people_and_updates(member, team, incident):
    """Actors are person objects and updates name their severity by slug: 4 events or 40, the same queries."""
    client = token_client(member)
    colleagues = [MembershipFactory(team=team, user=UserFactory()).user for _ in range(3)]

    def add(n: int) -> None:
        actor = colleagues[n % 3]
        services.incident_add_note(incident=incident, text=f"note {n}", actor=actor)
        services.incident_post_update(incident=incident, text=f"update {n}", actor=actor)

    add(0)
    with CaptureQueriesContext(connection) as few:
        first = client.get(url(incident, "timeline/"), {"page_size": 200}).json()["results"]
    for n in range(1, 20):
        add(n)
    with CaptureQueriesContext(connection) as many:
        second = client.get(url(incident, "timeline/"), {"page_size": 200}).json()["results"]
    assert (len(first), len(second)) == (3, 41)
    assert len(many.captured_queries) == len(few.captured_queries)
    updates = [e for e in second if e["kind"] == "update_posted"]
    assert {e["data"]["severity"] for e in updates} == {"critical"}
    assert all("severity_id" not in e["data"] for e in second)
    assert {e["actor"]["username"] for e in updates} == {c.username for c in colleagues}
