"""The incident API's versions: an ETag on the detail and on every action, If-Match on every action and PATCH, a 412
that says what changed and by whom when the version sent is stale for what the action acts on."""

import pytest

from conftest import token_client
from incidents import services
from incidents.models import Incident, RoleAssignment, TimelineEvent
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(incident, suffix: str = "") -> str:
    return f"/api/v1/incidents/{incident.pk}/{suffix}"


def version(incident) -> int:
    return Incident.objects.get(pk=incident.pk).version


@pytest.fixture
def okafor(team):
    return MembershipFactory(
        team=team, user=UserFactory(username="okafor", first_name="Bob", last_name="Okafor")
    ).user


@pytest.fixture
def carol(team):
    return MembershipFactory(team=team, user=UserFactory(username="carol")).user


def call(api, method: str, path: str, body=None, if_match: str | None = None):
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    return getattr(api, method)(path, body, format="json", **headers)


def test_detail_answers_a_strong_etag_of_the_version(member_api, incident, member):
    response = member_api.get(url(incident))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1
    services.incident_transition(incident=incident, to="investigating", actor=member)
    response = member_api.get(url(incident))
    assert response["ETag"] == '"2"' and response.json()["version"] == 2


def test_declare_answers_the_etag_of_version_one(member_api):
    response = member_api.post("/api/v1/incidents/", {"title": "DB down", "severity": "major"}, format="json")
    assert response.status_code == 201
    assert response["ETag"] == '"1"'


# Each action as the API takes it, with what the service that checks it is shown; ``make_stale`` changes what the
# action acts on, as another responder would.
ACTIONS = {
    "transition": (
        "post",
        "transition/",
        {"to": "investigating"},
        lambda i, other: services.incident_transition(incident=i, to="identified", actor=other),
    ),
    "severity": (
        "post",
        "severity/",
        {"severity": "minor"},
        lambda i, other: services.incident_change_severity(incident=i, severity="major", actor=other),
    ),
    "patch": (
        "patch",
        "",
        {"title": "Checkout returns 502"},
        lambda i, other: services.incident_update(incident=i, title="Checkout is slow", actor=other),
    ),
    "assign": (
        "post",
        "roles/",
        {"role": "lead", "user": "carol"},
        lambda i, other: services.incident_assign_role(incident=i, role="lead", user=other, actor=other),
    ),
    "relieve": (
        "delete",
        "roles/lead/",
        None,
        lambda i, other: services.incident_assign_role(incident=i, role="lead", user=other, actor=other),
    ),
    "update": (
        "post",
        "updates/",
        {"text": "We are on it"},
        lambda i, other: services.incident_post_update(incident=i, text="Fixed, we think", actor=other),
    ),
}


@pytest.fixture
def held_lead(incident, member, carol):
    """The relieve action needs a lead to relieve: carol, given before anything is shown."""
    services.incident_assign_role(incident=incident, role="lead", user=carol, actor=member)
    return carol


@pytest.mark.parametrize("name", list(ACTIONS))
def test_an_action_with_the_current_version_applies_and_answers_the_new_etag(
    member_api, incident, member, carol, held_lead, name
):
    method, suffix, body, _ = ACTIONS[name]
    if name == "assign":
        body = {"role": "messenger", "user": "carol"}
    shown = version(incident)
    response = call(member_api, method, url(incident, suffix), body, if_match=f'"{shown}"')
    assert response.status_code in (200, 201), response.json()
    assert version(incident) == shown + 1
    assert response["ETag"] == f'"{shown + 1}"'


@pytest.mark.parametrize("name", list(ACTIONS))
def test_a_stale_action_is_a_412_saying_what_changed_and_by_whom_and_changes_nothing(
    member_api, incident, carol, okafor, held_lead, name
):
    method, suffix, body, make_stale = ACTIONS[name]
    shown = version(incident)
    make_stale(incident, okafor)
    before = version(incident)
    events = TimelineEvent.objects.filter(incident=incident).count()
    leads = list(RoleAssignment.objects.filter(incident=incident).values_list("id", "user_id", "relieved_at"))
    title = Incident.objects.get(pk=incident.pk).title

    response = call(member_api, method, url(incident, suffix), body, if_match=f'"{shown}"')

    assert response.status_code == 412, response.json()
    data = response.json()
    assert data["code"] == "stale"
    assert "Bob Okafor" in data["detail"] and "Nothing was changed" in data["detail"]
    assert data["version"] == before
    assert response["ETag"] == f'"{before}"'
    assert data["changes"] and data["changes"][-1]["actor"] == "Bob Okafor"
    assert data["changes"][-1]["version"] == before
    assert version(incident) == before
    assert TimelineEvent.objects.filter(incident=incident).count() == events
    assert (
        list(RoleAssignment.objects.filter(incident=incident).values_list("id", "user_id", "relieved_at"))
        == leads
    )
    assert Incident.objects.get(pk=incident.pk).title == title


def test_take_it_on_a_lead_taken_meanwhile_names_who_took_it(member_api, incident, okafor):
    shown = version(incident)
    services.incident_assign_role(incident=incident, role="lead", user=okafor, actor=okafor)
    response = call(
        member_api, "post", url(incident, "roles/"), {"role": "lead", "user": "bob"}, if_match=f'"{shown}"'
    )
    assert response.status_code == 412
    assert response.json()["detail"].startswith("Bob Okafor became incident lead ")
    lead = RoleAssignment.objects.get(incident=incident, role__slug="lead", relieved_at__isnull=True)
    assert lead.user == okafor


def test_a_change_of_something_else_since_does_not_refuse(member_api, incident, okafor):
    shown = version(incident)
    services.incident_assign_role(incident=incident, role="lead", user=okafor, actor=okafor)
    response = call(
        member_api, "post", url(incident, "severity/"), {"severity": "major"}, if_match=f'"{shown}"'
    )
    assert response.status_code == 200, response.json()
    assert response.json()["severity"]["slug"] == "major"
    assert response["ETag"] == f'"{shown + 2}"'


def test_a_patch_is_refused_only_for_the_fields_changed_since(member_api, incident, okafor):
    shown = version(incident)
    services.incident_update(incident=incident, title="Checkout is slow", actor=okafor)
    refused = call(member_api, "patch", url(incident), {"title": "Mine"}, if_match=f'"{shown}"')
    assert refused.status_code == 412
    assert "Bob Okafor changed the title" in refused.json()["detail"]
    applied = call(
        member_api, "patch", url(incident), {"summary": "Card payments fail"}, if_match=f'"{shown}"'
    )
    assert applied.status_code == 200, applied.json()
    incident.refresh_from_db()
    assert (incident.title, incident.summary) == ("Checkout is slow", "Card payments fail")


def test_without_if_match_or_with_a_star_nothing_is_checked(member_api, incident, okafor):
    services.incident_transition(incident=incident, to="investigating", actor=okafor)
    plain = call(member_api, "post", url(incident, "transition/"), {"to": "identified"})
    assert plain.status_code == 200
    star = call(member_api, "post", url(incident, "transition/"), {"to": "monitoring"}, if_match="*")
    assert star.status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "monitoring"


@pytest.mark.parametrize(
    "header",
    ["", "3", "abc", '""', '"abc"', '"0"', '"-1"', 'W/"', '"1" "2"', '"99999999999"', "*, *", "\t"],
)
def test_a_malformed_if_match_is_a_400_naming_the_header(member_api, incident, header):
    response = call(
        member_api, "post", url(incident, "transition/"), {"to": "investigating"}, if_match=header
    )
    assert response.status_code == 400, (header, response.content)
    body = response.json()
    assert body["code"] == "invalid_precondition"
    assert list(body["errors"]) == ["If-Match"]
    assert Incident.objects.get(pk=incident.pk).status == "triage"


def test_a_weak_tag_reads_as_its_version(member_api, incident, okafor):
    """A compressing proxy may weaken the ETag it passes on; the version it names is the same."""
    shown = version(incident)
    ok = call(
        member_api, "post", url(incident, "transition/"), {"to": "investigating"}, if_match=f'W/"{shown}"'
    )
    assert ok.status_code == 200
    stale = call(
        member_api, "post", url(incident, "transition/"), {"to": "identified"}, if_match=f'W/"{shown}"'
    )
    assert stale.status_code == 412


def test_a_list_of_tags_checks_the_newest(member_api, incident, member):
    services.incident_transition(incident=incident, to="investigating", actor=member)
    current = version(incident)
    response = call(
        member_api, "post", url(incident, "transition/"), {"to": "identified"}, if_match=f'"1", "{current}"'
    )
    assert response.status_code == 200


def test_a_version_the_incident_never_had_is_a_412(member_api, incident):
    response = call(member_api, "post", url(incident, "transition/"), {"to": "investigating"}, if_match='"7"')
    assert response.status_code == 412
    assert "never had version 7" in response.json()["detail"]
    assert response["ETag"] == '"1"'
    assert Incident.objects.get(pk=incident.pk).status == "triage"


def test_a_note_is_never_stale_but_a_malformed_if_match_is_still_a_400(member_api, incident, okafor):
    services.incident_transition(incident=incident, to="investigating", actor=okafor)
    current = version(incident)
    response = call(member_api, "post", url(incident, "notes/"), {"text": "Looking"}, if_match='"1"')
    assert response.status_code == 201
    assert response["ETag"] == f'"{current}"'
    assert version(incident) == current
    bad = call(member_api, "post", url(incident, "notes/"), {"text": "Looking"}, if_match="one")
    assert bad.status_code == 400


def test_if_match_on_another_users_incident_they_may_not_see_is_still_a_404(user, member, team):
    private = services.incident_declare(
        title="Leak", severity="critical", actor=member, team=team, private=True
    )
    response = call(
        token_client(user), "post", url(private, "transition/"), {"to": "investigating"}, if_match='"1"'
    )
    assert response.status_code == 404
