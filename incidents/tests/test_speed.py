"""The hot paths stay cheap without changing what they answer (issue 10; the numbers are in bench/README.md).

- ``IncidentSerializer`` builds its dict by hand: it must answer exactly what DRF's field machinery answers.
- The API list page, the incident page and the dashboard cost a constant number of queries, whatever the number of
  rows, notes and incidents they show.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from conftest import token_client
from incidents import selectors, services
from incidents.api.serializers import IncidentSerializer
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

LIST = "/api/v1/incidents/"


def _drf_representation(serializer: IncidentSerializer, incident) -> dict:
    """What the serializer answered before it built its dict by hand: DRF's generic walk over its fields."""
    return serializers.ModelSerializer.to_representation(serializer, incident)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def varied(member, team):
    """Incidents with and without a team, services, roles, declarer, and in several statuses."""
    other = MembershipFactory(team=team, user=UserFactory(first_name="", last_name="")).user
    svc = [ServiceFactory(slug=f"svc-{n}", name=f'Service <{n}> "é"', team=team) for n in range(2)]
    made = [
        services.incident_declare(title="Plain", severity="minor", actor=member),
        services.incident_declare(
            title='Quotes " and unicode ☃ and <b>',
            summary="Line one\nline two",
            severity="critical",
            actor=member,
            team=team,
            services=svc,
            customer_impact=True,
            private=True,
            lead=other,
        ),
        services.incident_declare(
            title="Via an integration", severity="major", actor=None, via="alertmanager"
        ),
    ]
    services.incident_assign_role(incident=made[1], role="messenger", user=member, actor=member)
    for to in ("investigating", "identified", "monitoring", "resolved"):
        services.incident_transition(incident=made[0], to=to, actor=member)
    services.incident_transition(incident=made[2], to="declined", actor=member)
    return made


def test_hand_built_incident_answer_is_what_drf_builds(member, varied):
    request = APIRequestFactory().get(LIST)
    rows = list(selectors.incident_list(user=member).filter(pk__in=[i.pk for i in varied]))
    assert len(rows) == 3
    for incident in rows:
        fast = IncidentSerializer(incident, context={"request": request})
        slow = IncidentSerializer(incident, context={"request": request})
        assert fast.data == _drf_representation(slow, incident)
        assert JSONRenderer().render(fast.data) == JSONRenderer().render(_drf_representation(slow, incident))
    many = IncidentSerializer(rows, many=True, context={"request": request}).data
    reference = IncidentSerializer(rows, many=True, context={"request": request})
    assert JSONRenderer().render(many) == JSONRenderer().render(
        [_drf_representation(reference.child, incident) for incident in rows]
    )


def test_hand_built_answer_of_a_fresh_declare_is_what_drf_builds(member, team):
    # The 201 of a declare serializes the instance the service returned (no prefetch): the lazy paths agree too.
    incident = services.incident_declare(
        title="Fresh", severity="major", actor=member, team=team, lead=member
    )
    request = APIRequestFactory().post(LIST)
    fast = IncidentSerializer(incident, context={"request": request}).data
    incident.refresh_from_db()
    assert fast == _drf_representation(IncidentSerializer(incident, context={"request": request}), incident)
    assert fast["roles"]["lead"]["user"]["username"] == member.username


def test_a_field_without_a_builder_goes_through_drf(member, varied):
    class WithLoudTitle(IncidentSerializer):
        loud_title = serializers.SerializerMethodField()

        class Meta(IncidentSerializer.Meta):
            fields = [*IncidentSerializer.Meta.fields, "loud_title"]

        def get_loud_title(self, incident) -> str:
            return incident.title.upper()

    incident = selectors.incident_get(user=member, pk=varied[0].pk)
    data = WithLoudTitle(incident, context={"request": None}).data
    assert list(data)[-1] == "loud_title"
    assert data["loud_title"] == incident.title.upper()
    assert data == _drf_representation(WithLoudTitle(incident, context={"request": None}), incident)


# --- Constant query counts --------------------------------------------------------------------------


def _queries(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def _declare_many(n: int, member, team, *, start: int = 0) -> list:
    colleagues = [MembershipFactory(team=team).user for _ in range(3)]
    svc = [ServiceFactory(team=team) for _ in range(2)]
    made = []
    for i in range(start, start + n):
        incident = services.incident_declare(
            title=f"Incident {i}",
            severity=("critical", "major", "minor")[i % 3],
            actor=colleagues[i % 3],
            team=team if i % 4 else None,
            services=svc[: i % 3],
            customer_impact=bool(i % 2),
            lead=(member, colleagues[1], None)[i % 3],
        )
        if i % 2:
            services.incident_assign_role(
                incident=incident, role="messenger", user=colleagues[2], actor=member
            )
        if i % 5 == 1:
            services.incident_transition(incident=incident, to="investigating", actor=member)
        made.append(incident)
    return made


def test_api_list_page_of_10_and_of_50_cost_the_same_queries(member, team, django_assert_num_queries):
    _declare_many(60, member, team)
    client = token_client(member)
    ten = _queries(client, LIST, page_size=10)
    with django_assert_num_queries(ten):
        response = client.get(LIST, {"page_size": 50})
    assert len(response.json()["results"]) == 50


def test_incident_page_with_1_or_12_notes_costs_the_same_queries(
    member_client, member, team, django_assert_num_queries
):
    incident = _declare_many(3, member, team)[0]
    services.incident_add_note(incident=incident, text="first note", actor=member)
    url = reverse("incidents:detail", args=[incident.pk])
    one = _queries(member_client, url)
    people = [MembershipFactory(team=team).user for _ in range(4)]
    for n in range(11):
        services.incident_add_note(incident=incident, text=f"note {n}", actor=people[n % 4])
    with django_assert_num_queries(one):
        response = member_client.get(url)
    assert response.content.decode().count("note ") >= 11


def test_dashboard_with_3_or_30_incidents_costs_the_same_queries(
    member_client, member, team, django_assert_num_queries
):
    _declare_many(3, member, team)
    url = reverse("incidents:dashboard")
    few = _queries(member_client, url)
    _declare_many(27, member, team, start=3)
    other_team = TeamFactory()
    services.incident_declare(title="Another team's", severity="minor", actor=member, team=other_team)
    with django_assert_num_queries(few):
        response = member_client.get(url)
    assert response.context["total"] == 31


def test_dashboard_counts_from_its_rows_are_the_sql_counts(member_client, member, team):
    _declare_many(12, member, team)
    hidden = services.incident_declare(
        title="Someone else's secret",
        severity="critical",
        actor=UserFactory(),
        team=TeamFactory(),
        private=True,
    )
    closed = _declare_many(2, member, team, start=12)
    for incident in closed:
        services.incident_transition(incident=incident, to="declined", actor=member)
    expected = selectors.open_incident_counts(user=member)
    rows = list(selectors.incident_list(user=member))
    assert hidden.pk not in {i.pk for i in rows}
    assert selectors.open_incident_counts_of(rows) == expected
    context = member_client.get(reverse("incidents:dashboard")).context
    assert context["total"] == expected["total"] == 12
    assert {r["severity"].slug: r["count"] for r in context["severity_counts"]} == {
        slug: expected["by_severity"].get(slug, 0) for slug in ("critical", "major", "minor")
    }
    assert {r["slug"]: r["count"] for r in context["team_counts"]} == expected["by_team"]
    assert [r["team"].name if r["team"] else None for r in context["team_counts"]] == [team.name, None]


def test_incident_url_is_what_reverse_gives(member, team, settings):
    from django.urls import clear_script_prefix, reverse, set_script_prefix

    incidents = _declare_many(2, member, team)
    for incident in incidents:
        assert incident.get_absolute_url() == reverse("incidents:detail", args=[incident.pk])
    set_script_prefix("/muster/")
    try:
        assert incidents[0].get_absolute_url() == f"/muster/incidents/{incidents[0].pk}/"
        assert incidents[0].get_absolute_url() == reverse("incidents:detail", args=[incidents[0].pk])
    finally:
        clear_script_prefix()
    assert incidents[1].get_absolute_url() == f"/incidents/{incidents[1].pk}/"


def test_cached_pills_and_icons_are_what_they_were():
    from core.templatetags.muster import icon, status_pill

    assert status_pill("investigating") == status_pill("investigating")
    assert str(status_pill("investigating", "lg")) == (
        '<span class="pill status-investigating pill-lg" data-status="investigating">'
        '<span class="pill-dot" aria-hidden="true"></span>Investigating</span>'
    )
    assert status_pill("") == ""
    assert 'width="14"' in icon("x", "14") and 'aria-label="Close &lt;me&gt;"' in icon("x", 14, "Close <me>")
    assert icon("x", 14) == icon("x", 14) and icon("nope").endswith('<circle cx="12" cy="12" r="3"/></svg>')


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    "extra", [{}, {"services": ["svc-a"]}, {"lead": "bob"}, {"services": ["svc-a"], "lead": "bob"}]
)
def test_declare_answer_is_the_stored_incident(member, team, settings, eager, extra):
    # Declared without services or a lead (and with consumers in a worker), the 201 reads no relation back: it
    # must still say exactly what a fresh read of the stored incident says.
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    ServiceFactory(slug="svc-a", name="Service A", team=team)
    client = token_client(member)
    for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": f"key-{eager}-{len(extra)}"}):
        response = client.post(
            LIST,
            {"title": "Fresh", "severity": "major", "team": team.slug, **extra},
            format="json",
            **headers,
        )
        assert response.status_code == 201, response.content
        body = response.json()
        stored = selectors.incident_get(user=member, pk=body["id"])
        request = APIRequestFactory().post(LIST)
        assert body == IncidentSerializer(stored, context={"request": request}).data
        assert [s["slug"] for s in body["services"]] == extra.get("services", [])
        assert list(body["roles"]) == (["lead"] if "lead" in extra else [])


def test_declare_without_relations_reads_none_back(member, team, settings, django_assert_num_queries):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = token_client(member)
    payload = {"title": "Fresh", "severity": "major", "team": team.slug}
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(LIST, payload, format="json").status_code == 201
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "incidents_roleassignment" not in sql and "teams_service" not in sql
    with CaptureQueriesContext(connection) as with_lead:
        assert client.post(LIST, {**payload, "lead": "bob"}, format="json").status_code == 201
    assert "incidents_roleassignment" in " ".join(q["sql"] for q in with_lead.captured_queries)


def test_the_incident_page_asks_for_the_assignable_people_once(member_client, member, team):
    incident = _declare_many(1, member, team, start=1)[0]
    assert incident.team == team
    with CaptureQueriesContext(connection) as ctx:
        html = member_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    team_members = [
        q
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "teams_membership"."user_id"')
        and '"teams_membership"."team_id" =' in q["sql"]
    ]
    assert len(team_members) == 1
    # Both pickers (roles and paging) still list the team's people.
    colleague = team.memberships.exclude(user=member).select_related("user").first().user
    assert html.count(f'value="{colleague.pk}"') >= 2


def test_datetime_text_is_what_drf_writes(settings):
    from datetime import UTC, datetime, timedelta, timezone

    from django.utils import timezone as dj_timezone

    from incidents.api.serializers import _datetime_text

    drf = serializers.DateTimeField()
    values = [
        datetime(2026, 12, 8, 0, 5, 7, tzinfo=UTC),
        datetime(2026, 12, 8, 0, 5, 7, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 12, 8, 0, 5, 7),  # naive: DRF's own path
        "2026-12-08T00:05:07Z",
        None,
    ]
    for value in values:
        assert _datetime_text(value) == (None if value is None else drf.to_representation(value))
    with dj_timezone.override("Europe/Paris"):
        assert (
            _datetime_text(values[1])
            == drf.to_representation(values[1])
            == "2026-12-08T01:05:07.123456+01:00"
        )


def test_catalogue_choices_render_as_before_with_one_query_per_form(member, team):
    from django import forms as dj_forms

    from incidents.forms import DeclareForm, IncidentEditForm

    TeamFactory(name="Another team")
    ServiceFactory(name="Zeta", team=team)
    ServiceFactory(name="Alpha", team=team)
    incident = _declare_many(1, member, team, start=1)[0]
    for make in (lambda: IncidentEditForm.for_incident(incident), lambda: DeclareForm()):
        fast, default = make(), make()
        for name in ("team", "services"):
            default.fields[name].iterator = dj_forms.models.ModelChoiceIterator
        with CaptureQueriesContext(connection) as ctx:
            html = str(fast["team"]) + str(fast["services"]) + str(fast["team"]) + str(fast["services"])
        assert len(ctx.captured_queries) == 2  # one per field, however often it is rendered
        assert html == str(default["team"]) + str(default["services"]) + str(default["team"]) + str(
            default["services"]
        )
        assert "Another team" in html and html.index("Alpha") < html.index("Zeta")
