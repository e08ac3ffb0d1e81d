"""Every query parameter of every API list, in every app, refuses a value it cannot use with a 400 that names it,
like ``?status=bogus``: never a silently empty (or unfiltered) list, never a 404, never a 500.

The endpoints and their parameters are not listed by hand: they are read from the URLconf (every view under
/api/v1/ that answers GET), the filtersets and the OpenAPI schema, and checked against the table of bogus values
below, so a new endpoint or filter fails here until its parameter has a bogus value (or a reason it takes any
value) in ``BOGUS``/``ANY_VALUE``.
"""

from __future__ import annotations

import inspect
import re

import pytest
from django.urls import URLPattern, URLResolver
from drf_spectacular.generators import SchemaGenerator

from config import api_urls
from conftest import token_client
from core.api.views import api_not_found
from incidents import services
from oncall.tests.schedule_helpers import make_schedule
from paging.models import EscalationPolicy

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/"

#: A value each parameter must refuse, by parameter name (a name means the same on every endpoint).
BOGUS = {
    "status": "bogus",
    "severity": "nope",
    "team": "nope",
    "service": "nope",
    "declared_after": "yesterday",
    "declared_before": "2025-02-30",
    "private": "maybe",
    "customer_impact": "perhaps",
    "at": "nope",
    "start": "nope",
    "end": "tomorrow",
    "page_size": "nope",
    "count": "maybe",
}

#: Parameters that take any value, and why.
ANY_VALUE = {
    "q": "free text: any words are a search (only its length is bounded)",
    "cursor": "opaque: one this API did not give is DRF's 404 'Invalid cursor', as for a page that does not exist",
}

_QUERY_READ = re.compile(r"""query_params(?:\.get\(\s*|\[\s*)["']([A-Za-z_][\w-]*)["']""")


def _routes(patterns, prefix: str = ""):
    """(route, view class) for every pattern of the API URLconf, includes followed."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.callback is not api_not_found:
            yield prefix + str(pattern.pattern), getattr(pattern.callback, "view_class", None)


def _schema_path(route: str) -> str:
    return PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


ROUTES = {_schema_path(route): view for route, view in _routes(api_urls.urlpatterns)}
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def _query_parameters(path: str) -> list[str]:
    operation = SCHEMA["paths"].get(path, {}).get("get") or {}
    return sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")


GET_ENDPOINTS = sorted(path for path, view in ROUTES.items() if view is not None and hasattr(view, "get"))
CASES = [(path, name) for path in GET_ENDPOINTS for name in _query_parameters(path) if name not in ANY_VALUE]


def test_the_table_is_read_from_the_urlconf():
    """Sanity of the derivation: the known lists are found, with their filters."""
    assert {"/api/v1/incidents/", "/api/v1/schedules/", "/api/v1/escalation-policies/"} <= set(GET_ENDPOINTS)
    assert {("/api/v1/incidents/", "severity"), ("/api/v1/incidents/", "team")} <= set(CASES)
    assert ("/api/v1/escalation-policies/", "team") in CASES
    assert len(GET_ENDPOINTS) >= 20


@pytest.mark.parametrize("path", GET_ENDPOINTS)
def test_every_get_endpoint_is_in_the_schema_with_every_parameter_it_reads(path):
    """So that the table below cannot miss a parameter: what a view reads from the query string, its filterset
    and its paginator are all documented on its operation."""
    assert "get" in SCHEMA["paths"].get(path, {}), f"GET {path} is not in the schema"
    view = ROUTES[path]
    read = set(_QUERY_READ.findall(inspect.getsource(view)))
    filterset = getattr(view, "filterset_class", None)
    if filterset is not None:
        read |= set(filterset.base_filters)
    if getattr(view, "pagination_class", None) is not None:
        read |= {"cursor", "page_size", "count"}
    missing = read - set(_query_parameters(path))
    assert not missing, f"GET {path} reads {sorted(missing)} without documenting it"


def test_every_query_parameter_has_a_bogus_value_or_a_reason_to_take_any():
    unknown = sorted(
        {name for path in GET_ENDPOINTS for name in _query_parameters(path)} - set(BOGUS) - set(ANY_VALUE)
    )
    assert not unknown, f"add a value that must be refused for {unknown} to BOGUS (or a reason to ANY_VALUE)"


@pytest.fixture
def objects(member, team):
    """What the path parameters of the endpoints name: one object of each kind."""
    incident = services.incident_declare(
        title="Checkout is down", severity="critical", actor=member, team=team
    )
    schedule = make_schedule(team)
    policy = EscalationPolicy.objects.create(team=team, name="Default")
    return {
        "incidents": incident.pk,
        "schedules": schedule.pk,
        "teams": team.slug,
        "escalation-policies": policy.pk,
    }


def _fill(path: str, objects: dict) -> str:
    collection = path.removeprefix(PREFIX).split("/")[0]

    def value(match):
        assert collection in objects, f"add an object for {PREFIX}{collection}/ to the objects fixture"
        return str(objects[collection])

    return re.sub(r"\{\w+\}", value, path)


@pytest.mark.parametrize(("path", "name"), CASES, ids=[f"{p.removeprefix(PREFIX)}?{n}" for p, n in CASES])
def test_an_unusable_filter_value_is_a_400_naming_the_parameter(member, objects, path, name):
    response = token_client(member).get(_fill(path, objects), {name: BOGUS[name]})
    assert response.status_code == 400, (path, name, response.content)
    body = response.json()
    assert list(body["errors"]) == [name], body
    assert name in body["detail"], body


FORMAT_CHARACTERS = "nope %(value)s %s %"
ALL_CASES = [(path, name) for path in GET_ENDPOINTS for name in _query_parameters(path)]


@pytest.mark.parametrize(
    ("path", "name"), ALL_CASES, ids=[f"{p.removeprefix(PREFIX)}?{n}" for p, n in ALL_CASES]
)
def test_a_value_with_format_characters_is_never_a_500(member, objects, path, name):
    """A refusal that quotes the user's value must not read it as a format string (Django %-formats a message
    with its params): every parameter of every endpoint, the free-text ones included."""
    response = token_client(member).get(_fill(path, objects), {name: FORMAT_CHARACTERS})
    assert response.status_code in (200, 400, 404), (path, name, response.status_code)
    detail = response.json().get("detail", "") if response.status_code == 400 else ""
    if detail.startswith(f"{name}: unknown"):  # quoted as sent, not formatted
        assert FORMAT_CHARACTERS in detail, response.json()
