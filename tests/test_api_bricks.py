"""The bricks every API endpoint shares: errors in words, the optional count, the JSON 404 for any method."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ErrorDetail
from rest_framework.test import APIClient

from conftest import token_client
from core.api.exceptions import validation_sentence
from incidents import services

pytestmark = pytest.mark.django_db

#: What a Python dict or list of error details looks like when printed: braces, quoted list items, ErrorDetail.
PYTHON_REPR = re.compile(r"[{}]|\[\s*['\"]|ErrorDetail")


# --- Errors in words --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "sentence"),
    [
        ({"to": [ErrorDetail("This field is required.", code="required")]}, "to: this field is required."),
        (
            {
                "to": ["This field is required."],
                "reason": ["Ensure this field has no more than 2000 characters."],
            },
            "to: this field is required. reason: ensure this field has no more than 2000 characters.",
        ),
        (
            {"steps": [{}, {"wait_minutes": ["Ensure this value is greater than or equal to 1."]}]},
            "steps[1].wait_minutes: ensure this value is greater than or equal to 1.",
        ),
        ({"non_field_errors": ["Send a team or a user."]}, "Send a team or a user."),
        (['Expected a list of items but got type "str"'], 'Expected a list of items but got type "str".'),
        ({"url": ["URL is not allowed"]}, "url: URL is not allowed."),
        (
            {"a": ["One."], "b": ["Two."], "c": ["Three."], "d": ["Four."], "e": ["Five."]},
            "a: one. b: two. c: three. (and 2 more)",
        ),
        ({}, "Invalid input."),
    ],
)
def test_validation_errors_are_worded(detail, sentence):
    assert validation_sentence(detail) == sentence


def test_an_invalid_body_answers_a_sentence_and_keeps_the_messages_by_field(member_api, incident):
    response = member_api.post(f"/api/v1/incidents/{incident.pk}/transition/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "to: this field is required."
    assert body["errors"] == {"to": ["This field is required."]}
    assert body["code"] == "required"


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/api/v1/incidents/", {"title": "", "severity": "nope", "bogus": 1}),
        ("post", "/api/v1/incidents/", {"title": "x", "severity": "major", "services": ["a", 3, {"b": 1}]}),
        ("post", "/api/v1/incidents/", ["not", "an", "object"]),
        (
            "post",
            "/api/v1/escalation-policies/",
            {"team": "payments", "name": "P", "steps": [{"target": "x"}]},
        ),
        ("post", "/api/v1/teams/", {"name": "", "slug": "not a slug"}),
    ],
)
def test_no_error_detail_shows_a_python_dict_or_list(member_api, method, path, payload):
    response = getattr(member_api, method)(path, payload, format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert not PYTHON_REPR.search(detail), detail
    assert detail.endswith((".", ")")), detail


def test_a_refusal_about_a_query_parameter_names_it(member_api):
    response = member_api.get("/api/v1/teams/payments/oncall/", {"at": "noon"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("at: not an ISO 8601 date and time")


# --- The optional count -----------------------------------------------------------------------------


@pytest.fixture
def five(member, team):
    made = [
        services.incident_declare(title=f"Incident {n}", severity="major", actor=member, team=team)
        for n in range(5)
    ]
    services.incident_transition(incident=made[0], to="resolved", actor=member)
    return made


def _count_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_a_list_counts_only_on_request_and_then_with_one_count_query(member_api, five):
    with CaptureQueriesContext(connection) as plain:
        without = member_api.get("/api/v1/incidents/", {"status": "open"})
    assert without.status_code == 200
    assert "count" not in without.json()
    assert _count_queries(plain.captured_queries) == []

    with CaptureQueriesContext(connection) as counted:
        with_count = member_api.get("/api/v1/incidents/", {"status": "open", "count": "true"})
    body = with_count.json()
    assert body["count"] == 4 and len(body["results"]) == 4
    assert len(_count_queries(counted.captured_queries)) == 1
    assert len(counted.captured_queries) == len(plain.captured_queries) + 1


def test_the_count_is_of_every_matching_row_on_every_page(member_api, five):
    first = member_api.get("/api/v1/incidents/", {"count": "1", "page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2
    second = member_api.get(first["next"]).json()
    assert second["count"] == 5 and len(second["results"]) == 2
    assert member_api.get("/api/v1/incidents/", {"count": "false"}).json().keys() == {
        "next",
        "previous",
        "results",
    }


def test_the_count_respects_visibility(member, team, user):
    services.incident_declare(title="Leak", severity="critical", actor=member, team=team, private=True)
    services.incident_declare(title="Slow", severity="minor", actor=member, team=team)
    assert token_client(member).get("/api/v1/incidents/", {"count": "true"}).json()["count"] == 2
    assert token_client(user).get("/api/v1/incidents/", {"count": "true"}).json()["count"] == 1


def test_count_works_on_other_lists_too(member_api, incident, member):
    services.incident_add_note(incident=incident, text="Looking", actor=member)
    timeline = member_api.get(f"/api/v1/incidents/{incident.pk}/timeline/", {"count": "true"}).json()
    assert timeline["count"] == len(timeline["results"]) == 2
    teams = member_api.get("/api/v1/teams/", {"count": "yes"}).json()
    assert teams["count"] == 1


def test_a_page_size_above_the_maximum_is_read_as_the_maximum(member_api, five):
    response = member_api.get("/api/v1/incidents/", {"page_size": 5000})
    assert response.status_code == 200 and len(response.json()["results"]) == 5


def test_the_schema_documents_the_count(member_api):
    schema = member_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    params = {p["name"]: p for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert params["count"]["schema"]["type"] == "boolean"
    assert "count" in schema["components"]["schemas"]["PaginatedIncidentList"]["properties"]


# --- The JSON 404 for any method ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/incidents/1/nope/", "/api/v1/x"])
def test_a_token_request_to_an_unknown_path_is_the_json_404_whatever_the_method(member, method, path):
    client = APIClient(enforce_csrf_checks=True)  # as a real client: no test-client CSRF bypass
    client.credentials(HTTP_AUTHORIZATION=token_client(member)._credentials["HTTP_AUTHORIZATION"])
    response = getattr(client, method)(path, {"x": 1}, format="json")
    assert response.status_code == 404, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "No such API endpoint.", "code": "not_found"}


def test_a_session_post_to_an_unknown_path_is_the_json_404_too(member):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/api/v1/nope/", {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_missing_trailing_slash_is_pointed_out(member_api):
    response = member_api.post("/api/v1/incidents", {"title": "x", "severity": "major"}, format="json")
    assert response.status_code == 404
    assert (
        response.json()["detail"]
        == "No such API endpoint: did you mean /api/v1/incidents/ (with the trailing slash)?"
    )
