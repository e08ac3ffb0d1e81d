"""The Statuspage API v2 of a page: the same shapes as Atlassian's (the fixtures in this folder), signed out for
public pages, never a private incident or an internal note, and a warm request that does no database query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from statuspage import services
from statuspage.models import PublicIncident, ScheduledMaintenance
from statuspage.tests.helpers import INTERNAL_NOTE, PRIVATE_TITLE, build_world
from tests.factories import IncidentFactory, UserFactory

FIXTURES = Path(__file__).parent / "fixtures"
# fixture file -> the endpoint that answers it
CONTRACT = {
    "statuspage_summary.json": "summary",
    "statuspage_status.json": "status",
    "statuspage_components.json": "components",
    "statuspage_incidents.json": "incidents",
    "statuspage_incidents_unresolved.json": "incidents/unresolved",
    "statuspage_scheduled_maintenances.json": "scheduled-maintenances",
}
ENUMS = {
    ("status", "indicator"): {"none", "minor", "major", "critical"},
    ("components", "status"): {
        "operational",
        "under_maintenance",
        "degraded_performance",
        "partial_outage",
        "major_outage",
    },
    ("incidents", "impact"): {"none", "minor", "major", "critical"},
    ("incidents", "status"): {"investigating", "identified", "monitoring", "resolved", "postmortem"},
    ("incident_updates", "status"): {
        "investigating",
        "identified",
        "monitoring",
        "resolved",
        "postmortem",
        "scheduled",
        "in_progress",
        "verifying",
        "completed",
    },
    ("scheduled_maintenances", "impact"): {"none", "minor", "major", "critical"},
    ("scheduled_maintenances", "status"): {"scheduled", "in_progress", "verifying", "completed"},
}


def url(endpoint: str, slug: str | None = "acme") -> str:
    return f"/status/{slug}/api/v2/{endpoint}.json" if slug else f"/status/api/v2/{endpoint}.json"


def kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def compare(expected, actual, where: str, problems: list[str], parent: str = "") -> None:
    """Same keys and value types at every level; a null in the fixture is a nullable string (Statuspage's
    nullable fields are strings); every list item is compared with the fixture's first item."""
    if expected is None:
        if actual is not None and not isinstance(actual, str):
            problems.append(f"{where}: expected null or a string, got {kind(actual)}")
        return
    if kind(expected) != kind(actual):
        problems.append(f"{where}: expected {kind(expected)}, got {kind(actual)}")
        return
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            problems.append(
                f"{where}: keys differ: missing {sorted(set(expected) - set(actual))}, "
                f"extra {sorted(set(actual) - set(expected))}"
            )
        for key in set(expected) & set(actual):
            allowed = ENUMS.get((parent, key))
            if allowed is not None and actual[key] not in allowed:
                problems.append(f"{where}.{key}: {actual[key]!r} is not one of {sorted(allowed)}")
            compare(
                expected[key],
                actual[key],
                f"{where}.{key}",
                problems,
                parent=key if isinstance(expected[key], list | dict) else parent,
            )
    elif isinstance(expected, list):
        if expected and not actual:
            problems.append(f"{where}: empty list, the seed should fill it")
        for index, item in enumerate(actual):
            compare(expected[0], item, f"{where}[{index}]", problems, parent=parent)


@pytest.fixture
def world(db):
    return build_world()


@pytest.mark.parametrize("fixture", sorted(CONTRACT))
def test_each_endpoint_has_the_shape_of_statuspage(client, world, fixture):
    expected = json.loads((FIXTURES / fixture).read_text())
    response = client.get(url(CONTRACT[fixture]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    problems: list[str] = []
    compare(expected, response.json(), "$", problems)
    assert not problems, "\n".join(problems)


def test_the_comparison_can_fail():
    problems: list[str] = []
    expected = {"incidents": [{"id": "x", "status": "resolved", "resolved_at": None}]}
    compare(expected, {"incidents": [{"id": 3, "status": "gone", "extra": 1}]}, "$", problems)
    assert any("keys differ" in p for p in problems)
    assert any("expected str, got number" in p for p in problems)
    assert any("'gone' is not one of" in p for p in problems)


def test_upcoming_and_active_maintenances_are_split_by_status(client, world):
    upcoming = client.get(url("scheduled-maintenances/upcoming")).json()["scheduled_maintenances"]
    active = client.get(url("scheduled-maintenances/active")).json()["scheduled_maintenances"]
    assert [m["id"] for m in upcoming] == [world.upcoming.code]
    assert [m["id"] for m in active] == [world.active.code]
    fixture = json.loads((FIXTURES / "statuspage_scheduled_maintenances.json").read_text())
    for document in (upcoming, active):
        problems: list[str] = []
        compare(fixture["scheduled_maintenances"], document, "$", problems, parent="scheduled_maintenances")
        assert not problems, problems


def test_the_documents_say_what_the_page_holds(client, world, settings):
    summary = client.get(url("summary")).json()
    world.page.refresh_from_db()
    assert summary["page"] == {
        "id": world.page.code,
        "name": "Acme",
        "url": f"{settings.SITE_URL}/status/acme/",
        "updated_at": world.page.updated_at.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{world.page.updated_at.microsecond // 1000:03d}Z",
    }
    statuses = {c["name"]: c["status"] for c in summary["components"]}
    # The API is in a partial outage (the open incident says so); the portal's incident is resolved, but its
    # maintenance is in progress.
    assert statuses == {"API": "partial_outage", "Management Portal": "under_maintenance"}
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert [i["id"] for i in summary["incidents"]] == [world.open_incident.code]
    assert [u["status"] for u in summary["incidents"][0]["incident_updates"]] == [
        "identified",
        "investigating",
    ]
    assert summary["incidents"][0]["updated_at"].endswith("Z")
    incidents = client.get(url("incidents")).json()["incidents"]
    assert {i["id"]: i["status"] for i in incidents} == {
        world.open_incident.code: "identified",
        world.resolved_incident.code: "resolved",
    }
    resolved = next(i for i in incidents if i["status"] == "resolved")
    assert resolved["resolved_at"] and resolved["monitoring_at"]


def test_groups_are_components_with_their_members(client, db):
    world = build_world(slug="grouped", groups=True)
    components = client.get(url("components", "grouped")).json()["components"]
    group = next(c for c in components if c["group"])
    assert group["name"] == "Storage"
    assert group["components"] == [world.grouped.code]
    member = next(c for c in components if c["id"] == world.grouped.code)
    assert member["group_id"] == group["id"]
    fixture = json.loads((FIXTURES / "statuspage_components.json").read_text())["components"][0]
    assert set(group) == set(fixture) | {"components"}  # Statuspage lists a group's members the same way


def test_the_default_page_is_served_at_status(client, world):
    assert client.get(url("summary", None)).content == client.get(url("summary")).content


def test_no_default_page_and_unknown_pages_are_404(client, db):
    assert client.get(url("summary", None)).status_code == 404
    response = client.get(url("status", "nope"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get(url("status", "x" * 60)).status_code == 404


def test_only_get_and_head(client, world):
    assert client.post(url("summary")).status_code == 405
    assert client.head(url("summary")).status_code == 200


def test_private_incidents_and_internal_notes_never_appear(client, world, django_capture_on_commit_callbacks):
    secret = IncidentFactory(title=PRIVATE_TITLE, private=True)
    # A public incident linked to an incident that was made private afterwards is hidden too.
    later = services.public_incident_create(
        actor=world.admin, page=world.page, incident=IncidentFactory(title="Soon secret"),
        name="Login trouble", body="Some people cannot sign in.",
    )  # fmt: skip
    type(secret).objects.filter(pk=later.incident_id).update(private=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.component_update(actor=world.admin, component=world.api, description="The REST API")
    bodies = "".join(client.get(url(e)).content.decode() for e in CONTRACT.values())
    bodies += client.get(url("scheduled-maintenances/active")).content.decode()
    assert PRIVATE_TITLE not in bodies
    assert "Login trouble" not in bodies and later.code not in bodies
    assert INTERNAL_NOTE not in bodies and "corp.internal" not in bodies
    assert "Checkout latency" not in bodies  # the incident's own title is not the public name
    assert "Elevated API errors" in bodies  # the comparison can see what is published


def test_an_internal_page_is_404_signed_out_and_served_signed_in(client, db):
    admin = UserFactory(is_superuser=True, is_staff=True)
    services.status_page_create(actor=admin, name="Staff", slug="staff", visibility="internal")
    assert client.get(url("summary", "staff")).status_code == 404
    client.force_login(UserFactory())
    response = client.get(url("summary", "staff"))
    assert response.status_code == 200
    assert "public" not in response["Cache-Control"]
    assert response.json()["page"]["name"] == "Staff"


def test_a_warm_request_does_no_query_and_a_change_shows_at_once(
    client, world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    first = client.get(url("summary"))
    assert first.status_code == 200
    with django_assert_num_queries(0):
        warm = client.get(url("summary"))
    assert warm.content == first.content
    with django_assert_num_queries(0):
        assert client.get(url("components")).status_code == 200  # rendered with the summary
    default = client.get(url("summary", None))  # the default page is its own entry: cold once, then warm
    with django_assert_num_queries(0):
        assert client.get(url("summary", None)).content == default.content
    with django_capture_on_commit_callbacks(execute=True):
        services.component_update(
            actor=world.admin, component=world.portal, manual_status="major_outage", override=True
        )
    after = client.get(url("summary")).json()
    assert {c["name"]: c["status"] for c in after["components"]}["Management Portal"] == "major_outage"
    assert after["status"]["indicator"] == "critical"


def test_a_missing_page_is_remembered_without_queries(
    client, db, django_assert_num_queries, django_capture_on_commit_callbacks
):
    assert client.get(url("summary", "later")).status_code == 404
    with django_assert_num_queries(0):
        assert client.get(url("summary", "later")).status_code == 404
    admin = UserFactory(is_superuser=True, is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.status_page_create(actor=admin, name="Later", slug="later")
    assert client.get(url("summary", "later")).status_code == 200


def test_etag_304_and_cache_control(client, world, settings, django_capture_on_commit_callbacks):
    response = client.get(url("summary"))
    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert response["Cache-Control"] == f"public, max-age={settings.STATUSPAGE_MAX_AGE}"
    assert response["Access-Control-Allow-Origin"] == "*"
    not_modified = client.get(url("summary"), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert client.get(url("summary"), headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url("summary"), headers={"If-None-Match": '"other"'}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.public_update_publish(
            actor=world.admin, public_incident=world.open_incident, status="monitoring", body="A fix is out."
        )
    assert len(callbacks) == 1  # the invalidation waits for the commit
    changed = client.get(url("summary"), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_rolled_back_change_keeps_the_cache(client, world, django_assert_num_queries):
    from django.db import transaction

    client.get(url("summary"))
    with pytest.raises(RuntimeError), transaction.atomic():
        services.component_update(actor=world.admin, component=world.api, name="Renamed")
        raise RuntimeError
    with django_assert_num_queries(0):
        assert "Renamed" not in client.get(url("summary")).content.decode()


def test_resolving_clears_the_derived_status(client, world, django_capture_on_commit_callbacks):
    client.get(url("summary"))
    with django_capture_on_commit_callbacks(execute=True):
        services.public_update_publish(
            actor=world.admin,
            public_incident=world.open_incident,
            status="resolved",
            body="We have resolved it.",
        )
    summary = client.get(url("summary")).json()
    assert {c["name"]: c["status"] for c in summary["components"]}["API"] == "operational"
    assert summary["incidents"] == []
    assert PublicIncident.objects.get(pk=world.open_incident.pk).resolved_at is not None
    assert ScheduledMaintenance.objects.filter(page=world.page).count() == 2


def test_an_incident_made_private_leaves_the_warm_page_at_once(
    client, world, django_capture_on_commit_callbacks
):
    from incidents.services import incident_update

    before = client.get(url("summary")).json()
    assert [i["name"] for i in before["incidents"]] == ["Elevated API errors"]
    with django_capture_on_commit_callbacks(execute=True):
        incident_update(incident=world.incident, actor=world.admin, private=True)
    after = client.get(url("summary")).content.decode()
    assert "Elevated API errors" not in after
    assert world.open_incident.code not in after


def test_a_cold_render_costs_the_same_queries_however_much_the_page_holds(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from statuspage import cache

    def cold() -> int:
        cache.invalidate("acme")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("summary")).status_code == 200
        return len(queries)

    small = cold()
    for n in range(5):
        component = services.component_create(actor=world.admin, page=world.page, name=f"Extra {n}")
        public = services.public_incident_create(
            actor=world.admin,
            page=world.page,
            name=f"Extra {n}",
            body="b",
            components={component: "major_outage"},
        )
        services.public_update_publish(
            actor=world.admin, public_incident=public, status="identified", body="c"
        )
    assert cold() == small


def test_a_shortlink_leads_to_its_page(client, world, settings):
    link = client.get(url("incidents/unresolved")).json()["incidents"][0]["shortlink"]
    assert link.startswith(f"{settings.SITE_URL}/status/s/")
    response = client.get(link.removeprefix(settings.SITE_URL))
    assert response.status_code == 302
    assert response["Location"] == f"{settings.SITE_URL}/status/acme/"
    maintenance = client.get(url("scheduled-maintenances/upcoming")).json()["scheduled_maintenances"][0]
    assert client.get(maintenance["shortlink"].removeprefix(settings.SITE_URL)).status_code == 302
    assert client.get("/status/s/nothing").status_code == 404


def test_a_private_incidents_shortlink_is_404(client, world):
    type(world.incident).objects.filter(pk=world.incident.pk).update(private=True)
    assert client.get(f"/status/s/{world.open_incident.shortlink}").status_code == 404
